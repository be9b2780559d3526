package main

import (
	"path/filepath"
	"time"

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/icetable"
)

// maxSnapshotRetention bounds --snapshot-retention: ten years of snapshots is a typo.
const maxSnapshotRetention = 3660 * 24 * time.Hour

// tableFlags choose how the lake keeps its tables: the Hive layout, or Iceberg tables in a
// catalog. The lake's mode record fixes the format at its first run (package pipelines checks
// that an export's flag agrees); the commands that work on a lake without exporting into it
// (publish, forget, status, verify) take it from there (fromLake).
type tableFlags struct {
	format, catalog string
	retention       time.Duration
	fromLake        bool // the format is the lake's, not a flag
	readOnly        bool // status, verify: no commit, so no --snapshot-retention
}

// options is the rows of the table flags.
func (f *tableFlags) options() []option {
	catalog := catalogOpt(&f.catalog)
	if !f.fromLake && !f.readOnly { // the others find it in the lake's mode record
		catalog.help += "; required for a lake on gs://, s3:// or az://"
	}
	catalog.check = func() error { return catalogCheck(f.catalog) }
	retention := durationOpt(&f.retention, "snapshot-retention", load.DefaultSnapshotRetention, time.Minute, maxSnapshotRetention, "SnapshotRetention", "how long an Iceberg lake keeps the snapshots a commit replaced (time travel): every commit expires older ones and deletes the files only they hold")
	switch {
	case f.readOnly:
		return []option{catalog}
	case f.fromLake:
		return []option{catalog, retention}
	}
	return []option{tableFormatOpt(&f.format), catalog, retention}
}

// tableFormatOpt is --table-format, of the commands that export and of ddl.
func tableFormatOpt(p *string) option {
	return choiceOpt(p, "table-format", []string{load.TableFormatHive, load.TableFormatIceberg},
		"how the lake keeps its tables: hive (Parquet files under messages/dt=DAY/, with chatlake's manifests) or iceberg (Apache Iceberg tables in --catalog, each run one commit); fixed by the lake's first run")
}

// catalogOpt is --catalog, of the commands that open a lake and of ddl. A password is best kept
// out of the command line: PGPASSWORD, ~/.pgpass, or the whole URI in $CHATLAKE_CATALOG. A Glue
// catalog's URI holds no secret: AWS credentials come from the AWS configuration only.
func catalogOpt(p *string) option {
	return stringOpt(p, "catalog", "URI", "the Iceberg catalog of an Iceberg lake: sqlite:PATH (a SQLite file, created if missing), postgres://USER@HOST:PORT/DB "+
		"(the database must exist; its password from PGPASSWORD or ~/.pgpass, or in the URI; never printed), "+
		"or glue: / glue://ACCOUNT_ID (the AWS Glue Data Catalog of the caller's or that account; the namespace is a Glue database; "+
		"region, endpoint and credentials from the AWS configuration: AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_GLUE); "+
		"default for a lake on a local directory: sqlite:LAKE/"+load.CatalogPath, nil)
}

// catalogCheck refuses a --catalog of a kind chatlake cannot open, without showing its password.
func catalogCheck(uri string) error {
	if uri == "" {
		return nil
	}
	if err := icetable.CheckURI(uri); err != nil {
		return &boundError{"", "sqlite:PATH, postgres://USER@HOST:PORT/DB or glue:/glue://ACCOUNT_ID (" + err.Error() + ")"}
	}
	return nil
}

// lakeOptions returns o with the lake's table format: the flag's, or with fromLake the one the
// lake's mode record names (mode, nil: a Hive lake). An Iceberg lake's catalog is --catalog, or
// for a lake on a local directory (localDir) the SQLite file in it; a lake on a cloud store
// (localDir "") without --catalog is a usage error. The tables' FileIO takes the store's own
// settings (load.NewLake).
func (f *tableFlags) lakeOptions(o *load.Options, mode *load.LakeMode, localDir string) (*load.Options, error) {
	format := f.format
	if f.fromLake {
		format = load.TableFormatHive
		if mode != nil {
			format = mode.Tables()
		}
	}
	if format != load.TableFormatIceberg {
		return o, nil
	}
	var oi load.Options
	if o != nil {
		oi = *o
	}
	uri := f.catalog
	if f.fromLake && mode != nil && mode.Catalog != "" {
		// The lake names its catalog: --catalog may repeat it (with a password), not change it.
		switch {
		case uri == "":
			uri = mode.Catalog
		case icetable.Identity(uri) != mode.Catalog:
			return nil, usagef("--catalog %s: the lake's tables are in the catalog %s", icetable.Identity(uri), mode.Catalog)
		}
	}
	switch {
	case uri != "":
	case localDir == "":
		// A catalog file inside a bucket could not be shared safely: SQLite needs a local file.
		return nil, usagef("--catalog: an Iceberg lake on a cloud store needs a catalog (sqlite:PATH, postgres://... or glue:)")
	default:
		uri = "sqlite:" + filepath.Join(localDir, filepath.FromSlash(load.CatalogPath))
	}
	oi.Catalog = &icetable.Config{URI: uri, Logger: oi.Logger, ReadOnly: f.readOnly}
	if !f.readOnly {
		oi.SnapshotRetention = f.retention
	}
	return &oi, nil
}
