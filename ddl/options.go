package ddl

import (
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Engine is a query engine that Write can print definitions for.
type Engine string

// The engines.
const (
	DuckDB   Engine = "duckdb"
	BigQuery Engine = "bigquery"
	Spark    Engine = "spark"
	Trino    Engine = "trino"
	Athena   Engine = "athena"
	// Snowflake: external tables over an external stage on s3://, gs:// or an Azure account.
	Snowflake Engine = "snowflake"
)

// Engines returns every engine, in the order the documentation lists them.
func Engines() []Engine { return []Engine{DuckDB, BigQuery, Spark, Trino, Athena, Snowflake} }

// TableFormat is how a lake's tables are stored (the export's --table-format).
type TableFormat string

// The table formats.
const (
	// Hive: Parquet files in directories dt=DAY (messages) and snapshot_date=DAY (users),
	// which the definitions glob or register as partitions.
	Hive TableFormat = "hive"
	// Iceberg: Apache Iceberg tables (format version 2) in an Iceberg JDBC catalog
	// (Options.Catalog), messages partitioned by day(sent_at), users by day(extracted_at).
	Iceberg TableFormat = "iceberg"
)

// Defaults of Options.
const (
	DefaultSessionGap  = 30 * time.Minute
	DefaultReplyWindow = 24 * time.Hour
	// DefaultFirstDay is the first day of Athena's partition projection.
	DefaultFirstDay = "2020-01-01"
)

// Options says what to print. Engine and Lake are required; the zero value of every other
// field is its default.
type Options struct {
	Engine Engine
	// Lake is the lake's root: a directory (a relative one is made absolute from the working
	// directory, so the definitions work from any other), file:///DIR, gs://BUCKET/PREFIX or
	// s3://BUCKET/PREFIX (DuckDB, Trino, Athena). BigQuery needs gs://, Athena s3://.
	Lake string
	// Schema is where the tables and views go: a BigQuery dataset ("dataset" or
	// "project.dataset"), a Spark database, a Trino "catalog.schema", an Athena (AWS Glue)
	// database. Default: none for DuckDB (the current schema), "chatlake" for BigQuery, Spark
	// and Athena, "hive.chatlake" for Trino.
	Schema string
	// SessionGap is the longest gap between two consecutive messages of a user inside one
	// session; a gap of exactly SessionGap stays in the session. Whole milliseconds; default
	// DefaultSessionGap.
	SessionGap time.Duration
	// ReplyWindow is how long after a template message a user message counts as a reply to
	// it (0 < delay <= ReplyWindow). Whole milliseconds; default DefaultReplyWindow.
	ReplyWindow time.Duration
	// RequirePartitionFilter makes BigQuery refuse queries on messages without a filter on
	// dt (require_hive_partition_filter). BigQuery only.
	RequirePartitionFilter bool
	// FirstDay (YYYY-MM-DD) starts the range of Athena's partition projection on dt and
	// snapshot_date (FirstDay to NOW): Athena reads no day before it, and a query without a
	// filter on dt looks for every day of the range, so it should be the lake's first day.
	// Athena only; default DefaultFirstDay.
	FirstDay string
	// StorageIntegration is the Snowflake storage integration that the stage over the lake
	// uses (an administrator creates it). Snowflake, Hive lakes only; default
	// DefaultStorageIntegration.
	StorageIntegration string
	// TableFormat is the lake's table format: Hive (the default) or Iceberg. Athena reads an
	// Iceberg lake only when its catalog is AWS Glue (Catalog glue: or glue://ACCOUNT_ID).
	TableFormat TableFormat
	// Catalog is the Iceberg catalog of an Iceberg lake, as the export's --catalog names it:
	// sqlite:PATH (a relative PATH is made absolute), postgres://USER@HOST:PORT/DB (a
	// password in it is never printed: the definitions hold a placeholder), or glue: /
	// glue://ACCOUNT_ID (the AWS Glue Data Catalog). Spark and Trino read the tables through
	// it: it is required for them when the lake is in cloud storage, and defaults to
	// sqlite:LAKE/_chatlake/catalog.db (DefaultCatalogFile) for a local lake. Athena reads them
	// from Glue only: it requires a glue catalog. DuckDB, BigQuery and Snowflake read the
	// tables' metadata files, not the catalog. Iceberg lakes only.
	Catalog string
}

// DefaultStorageIntegration is the default of Options.StorageIntegration.
const DefaultStorageIntegration = "chatlake_lake"

// lake is a parsed Options.Lake.
type lake struct {
	root  string // without a trailing slash: "gs://b/p" or "/abs/dir"
	local bool
}

// location is the root as a URL for engines that want one (Spark, Trino): file:///abs for a
// local lake.
func (l lake) location() string {
	if l.local {
		return "file://" + l.root
	}
	return l.root
}

var (
	identRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	bqProjectRE = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
)

// check validates o and returns it with defaults filled in, and its parsed lake.
func (o Options) check() (Options, lake, error) {
	switch o.Engine {
	case DuckDB, BigQuery, Spark, Trino, Athena, Snowflake:
	case "":
		return o, lake{}, optErr("Engine", "required (duckdb, bigquery, spark, trino, athena or snowflake)")
	default:
		return o, lake{}, optErr("Engine", "unknown engine %q (want duckdb, bigquery, spark, trino, athena or snowflake)", o.Engine)
	}
	if err := o.checkTableFormat(); err != nil {
		return o, lake{}, err
	}
	if o.TableFormat == "" {
		o.TableFormat = Hive
	}
	var l lake
	var err error
	if o.Engine == Snowflake {
		l, err = stageLake(o.Lake)
	} else {
		l, err = parseLake(o.Lake, o.Engine, o.TableFormat)
	}
	if err != nil {
		return o, lake{}, err
	}
	if o.SessionGap == 0 {
		o.SessionGap = DefaultSessionGap
	}
	if o.ReplyWindow == 0 {
		o.ReplyWindow = DefaultReplyWindow
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"SessionGap", o.SessionGap}, {"ReplyWindow", o.ReplyWindow}} {
		if d.v < time.Millisecond || d.v%time.Millisecond != 0 {
			return o, lake{}, optErr(d.field, "%s is not a positive whole number of milliseconds", d.v)
		}
	}
	if o.RequirePartitionFilter && o.Engine != BigQuery {
		return o, lake{}, optErr("RequirePartitionFilter", "is a BigQuery option, not one of %s", o.Engine)
	}
	if o.FirstDay != "" && o.Engine != Athena {
		return o, lake{}, optErr("FirstDay", "is an Athena option, not one of %s", o.Engine)
	}
	if o.FirstDay == "" {
		o.FirstDay = DefaultFirstDay
	}
	if d, err := time.Parse(time.DateOnly, o.FirstDay); err != nil || d.Format(time.DateOnly) != o.FirstDay {
		return o, lake{}, optErr("FirstDay", "%q is not a day YYYY-MM-DD", o.FirstDay)
	}
	if o.StorageIntegration != "" && o.Engine != Snowflake {
		return o, lake{}, optErr("StorageIntegration", "is a Snowflake option, not one of %s", o.Engine)
	}
	if o.Engine == Snowflake && o.StorageIntegration == "" {
		o.StorageIntegration = DefaultStorageIntegration
	}
	if !identRE.MatchString(o.StorageIntegration) && o.StorageIntegration != "" {
		return o, lake{}, optErr("StorageIntegration", "%q is not a name (letters, digits and _)", o.StorageIntegration)
	}
	if o.Schema == "" {
		o.Schema = map[Engine]string{BigQuery: "chatlake", Spark: "chatlake", Trino: "hive.chatlake", Athena: "chatlake", Snowflake: "chatlake.public"}[o.Engine]
		if o.Engine == Trino && o.TableFormat == Iceberg {
			o.Schema = IcebergCatalogName + "." + IcebergNamespace
		}
	}
	if err := checkSchema(o.Engine, o.Schema); err != nil {
		return o, lake{}, err
	}
	return o, l, nil
}

// checkTableFormat refuses an unknown table format, and the options that one format has and
// the other has not.
func (o Options) checkTableFormat() error {
	switch o.TableFormat {
	case "", Hive:
		if o.Catalog != "" {
			return optErr("Catalog", "is the Iceberg catalog of an Iceberg lake (TableFormat %s), and the table format is %s", Iceberg, Hive)
		}
		return nil
	case Iceberg:
	default:
		return optErr("TableFormat", "unknown table format %q (want %s or %s)", o.TableFormat, Hive, Iceberg)
	}
	switch {
	case o.Engine == Athena && !strings.HasPrefix(o.Catalog, "glue:"):
		return optErr("Catalog", "Athena reads Iceberg tables from the AWS Glue Data Catalog only: give the lake's Glue catalog (glue: or glue://ACCOUNT_ID); a JDBC catalog's (sqlite:, postgres://) tables have no Athena definitions")
	case o.RequirePartitionFilter:
		return optErr("RequirePartitionFilter", "is an option of a Hive lake's BigQuery tables (require_hive_partition_filter), not of an Iceberg lake's")
	case o.StorageIntegration != "":
		return optErr("StorageIntegration", "is an option of a Hive lake's Snowflake stage; Snowflake reads an Iceberg lake through an external volume")
	}
	return nil
}

func checkSchema(e Engine, s string) error {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ".")
	ok := true
	switch e {
	case BigQuery:
		ok = len(parts) == 1 && identRE.MatchString(parts[0]) ||
			len(parts) == 2 && bqProjectRE.MatchString(parts[0]) && identRE.MatchString(parts[1])
	case Trino, Snowflake:
		ok = len(parts) == 2 && identRE.MatchString(parts[0]) && identRE.MatchString(parts[1])
	default:
		ok = len(parts) == 1 && identRE.MatchString(parts[0])
	}
	if !ok {
		want := map[Engine]string{
			DuckDB:    "a schema name",
			BigQuery:  "DATASET or PROJECT.DATASET",
			Spark:     "a database name",
			Trino:     "CATALOG.SCHEMA",
			Athena:    "a database name",
			Snowflake: "DATABASE.SCHEMA",
		}[e]
		return optErr("Schema", "%q is not %s (letters, digits and _)", s, want)
	}
	return nil
}

// parseLake reads a lake URL the way the export does (a directory, file:///DIR,
// gs://BUCKET/PREFIX or s3://BUCKET/PREFIX) and refuses what cannot be written into a SQL string literal or a glob
// as it is.
func parseLake(raw string, e Engine, f TableFormat) (lake, error) {
	if strings.TrimSpace(raw) == "" {
		return lake{}, optErr("Lake", "required: a directory, file:///DIR, gs://BUCKET/PREFIX or s3://BUCKET/PREFIX")
	}
	if i := strings.IndexFunc(raw, func(r rune) bool {
		return r < 0x20 || r == 0x7f || strings.ContainsRune(`'\*?[]{}`, r)
	}); i >= 0 {
		return lake{}, optErr("Lake", "%q holds %q, which the definitions cannot quote or glob safely", raw, raw[i:i+1])
	}
	var l lake
	switch {
	// Spark reads s3:// through Iceberg's S3FileIO; its Hive tables would need s3a://.
	case strings.HasPrefix(raw, "gs://"), strings.HasPrefix(raw, "s3://") && (e != Spark || f == Iceberg) && e != BigQuery:
		scheme := raw[:2]
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return lake{}, optErr("Lake", "%q is not %s://BUCKET/PREFIX", raw, scheme)
		}
		prefix := strings.Trim(u.Path, "/")
		l.root = scheme + "://" + u.Host
		if prefix != "" {
			l.root += "/" + prefix
		}
	case strings.HasPrefix(raw, "file://"):
		u, err := url.Parse(raw)
		if err != nil || (u.Host != "" && u.Host != "localhost") || !strings.HasPrefix(u.Path, "/") {
			return lake{}, optErr("Lake", "%q is not file:///ABSOLUTE/DIR", raw)
		}
		l.root, l.local = cleanDir(u.Path), true
	case strings.Contains(raw, "://"):
		return lake{}, optErr("Lake", "%q: unsupported scheme for %s (want gs://, s3:// (DuckDB, Trino, Athena), file:// or a directory)", raw, e)
	default:
		l.root, l.local = cleanDir(raw), true
	}
	if l.local && e == BigQuery {
		return lake{}, optErr("Lake", "%q: BigQuery reads only gs://BUCKET/PREFIX", raw)
	}
	if e == Athena && !strings.HasPrefix(l.root, "s3://") {
		return lake{}, optErr("Lake", "%q: Athena reads only s3://BUCKET/PREFIX", raw)
	}
	if l.local && !filepath.IsAbs(l.root) {
		abs, err := filepath.Abs(l.root)
		if err != nil {
			return lake{}, optErr("Lake", "%q: %v", raw, err)
		}
		l.root = cleanDir(abs)
	}
	return l, nil
}

func cleanDir(p string) string {
	p = filepath.ToSlash(filepath.Clean(p))
	if p != "/" {
		p = strings.TrimSuffix(p, "/")
	}
	return p
}
