package load

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/chatlake/chatlake/load/icetable"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// Table formats of a lake (Options.Catalog decides; the lake's mode record keeps it).
const (
	TableFormatHive    = "hive"
	TableFormatIceberg = "iceberg"
)

// Summary properties of the snapshots an Iceberg lake commits.
const (
	// SnapshotPlan names the plan instance (plan@attempt) whose publishing a snapshot is: a
	// publisher that finds it in the table's history committed before it was stopped.
	SnapshotPlan = "chatlake.plan"
	// SnapshotUsersPlan names the plan whose users file a snapshot of the users table added.
	SnapshotUsersPlan = "chatlake.users_plan"
	// SnapshotRunID is the run that committed the snapshot.
	SnapshotRunID = "chatlake.run_id"
	// SnapshotForget marks a snapshot that erased users (its value: the run).
	SnapshotForget = "chatlake.forget"
)

// DefaultSnapshotRetention is how long an Iceberg lake keeps the snapshots a run replaces.
const DefaultSnapshotRetention = 7 * 24 * time.Hour

// TableFile is a data file of an Iceberg table, as its catalog lists it.
type TableFile = icetable.File

// CatalogPath is the SQLite file of an Iceberg lake's catalog in a lake on a local directory,
// unless another catalog is given (the command's default).
const CatalogPath = chatlakeDir + "catalog.db"

// iceberg reports whether the lake's tables are Iceberg tables.
func (l *Lake) iceberg() bool { return l.opts.Catalog != nil }

// catalog opens the lake's Iceberg catalog on first use (a SQLite catalog's file is created
// then, not when the lake is opened: a run refused for bad input writes nothing).
func (l *Lake) catalog(ctx context.Context) (*icetable.Catalog, error) {
	l.catMu.Lock()
	defer l.catMu.Unlock()
	if l.cat != nil {
		return l.cat, nil
	}
	cfg := *l.opts.Catalog
	if cfg.Logger == nil {
		cfg.Logger = l.opts.Logger
	}
	cat, err := icetable.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("iceberg catalog: %w", err)
	}
	l.cat = cat
	return cat, nil
}

// TableFormat is the lake's table format: TableFormatHive or TableFormatIceberg.
func (l *Lake) TableFormat() string {
	if l.iceberg() {
		return TableFormatIceberg
	}
	return TableFormatHive
}

// CatalogIdentity names an Iceberg lake's catalog without its secrets (icetable.Identity), as
// the lake's mode record keeps it; "" on a Hive lake.
func (l *Lake) CatalogIdentity() string {
	if !l.iceberg() {
		return ""
	}
	return icetable.Identity(l.opts.Catalog.URI)
}

// cloudAccess is a cloud store that tells how it reaches its bucket (storage.GCS, S3, Azure).
type cloudAccess interface {
	Access() (storage.Access, bool)
}

// icebergIO sets, for an Iceberg lake, the URI of its store's root in the tables' metadata
// and, on a cloud store, the FileIO properties of its catalog: those of the store's own
// settings (icetable.StoreIO), and the store's redaction of their secrets. A cloud store
// that cannot tell its settings is an error.
func (l *Lake) icebergIO() error {
	if !l.iceberg() {
		return nil
	}
	if _, ok := l.store.(localFiles); ok {
		l.root = "file://" + l.store.URL()
		return nil
	}
	ca, ok := l.store.(cloudAccess)
	var a storage.Access
	if ok {
		a, ok = ca.Access()
	}
	if !ok {
		return fmt.Errorf("iceberg lake %s: its store cannot tell the settings of the tables' FileIO", l.store.URL())
	}
	root, props, err := icetable.StoreIO(a)
	if err != nil {
		return fmt.Errorf("iceberg lake %s: %w", l.store.URL(), err)
	}
	cfg := *l.opts.Catalog
	cfg.Props = maps.Clone(props)
	maps.Copy(cfg.Props, l.opts.Catalog.Props) // the caller's own properties win
	cfg.Redact = a.Redact
	if l.opts.Catalog.Redact != nil {
		cfg.Redact = func(s string) string { return a.Redact(l.opts.Catalog.Redact(s)) }
	}
	l.opts.Catalog, l.root = &cfg, root
	return nil
}

// objectURI is the URI of the lake's object name, as Iceberg metadata records it (a table's
// location is the URI of its directory, TableDir): file:///DIR/NAME, gs://BUCKET/PREFIX/NAME,
// s3://BUCKET/PREFIX/NAME or abfss://CONTAINER@ACCOUNT.dfs.core.windows.net/PREFIX/NAME.
func (l *Lake) objectURI(name string) string {
	return l.root + "/" + name
}

// objectName is the lake's object that uri names; an error for a URI outside the lake.
func (l *Lake) objectName(uri string) (string, error) {
	name, ok := strings.CutPrefix(uri, l.objectURI(""))
	if !ok || name == "" {
		return "", fmt.Errorf("data file %s is not in the lake %s", uri, l.store.URL())
	}
	return name, nil
}

// table opens the lake's Iceberg table of name (schema.MessagesTable, schema.UsersTable),
// creating it if missing: partitioned by the day of sent_at (messages) or extracted_at (users,
// whose rows of one run share it: the run's snapshot date).
func (l *Lake) table(ctx context.Context, name string) (*icetable.Table, error) {
	sc, column := schema.Messages(), "sent_at"
	if name == schema.UsersTable {
		sc, column = schema.Users(), "extracted_at"
	}
	cat, err := l.catalog(ctx)
	if err != nil {
		return nil, err
	}
	sc, err = icetable.WithFieldIDs(sc)
	if err != nil {
		return nil, fmt.Errorf("iceberg table %s: %w", name, err)
	}
	t, err := cat.Table(ctx, name, l.objectURI(TableDir(name)), sc, column)
	if err != nil {
		return nil, fmt.Errorf("iceberg table %s: %w", name, err)
	}
	return t, nil
}

// TableSnapshot is an Iceberg table's current snapshot, as Snapshots reports it.
type TableSnapshot = icetable.Snapshot

// Snapshots returns the current snapshot of each of an Iceberg lake's tables that has one, by
// table name; nil on a Hive lake.
func (l *Lake) Snapshots(ctx context.Context) (map[string]TableSnapshot, error) {
	if !l.iceberg() {
		return nil, nil
	}
	out := map[string]TableSnapshot{}
	for _, name := range []string{schema.MessagesTable, schema.UsersTable} {
		t, err := l.table(ctx, name)
		if errors.Is(err, icetable.ErrNotFound) {
			continue // a read-only lake whose first run did not get to create the table
		}
		if err != nil {
			return nil, err
		}
		if s, ok := t.Current(); ok {
			out[name] = s
		}
	}
	return out, nil
}
