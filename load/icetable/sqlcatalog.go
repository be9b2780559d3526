package icetable

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/iceberg-go"
	icesql "github.com/apache/iceberg-go/catalog/sql"
	"github.com/jackc/pgx/v5"

	_ "github.com/jackc/pgx/v5/stdlib" // the pure-Go "pgx" database/sql driver for PostgreSQL
	_ "modernc.org/sqlite"             // the pure-Go "sqlite" database/sql driver (CGO_ENABLED=0 builds)
)

// sqliteBusyTimeoutMS is how long a SQLite statement waits for another connection's lock
// (another process publishing to the same catalog file) before failing.
const sqliteBusyTimeoutMS = 30000

// openSQL opens iceberg-go's SQL catalog on SQLite (scheme "sqlite", rest the path after the
// colon) or PostgreSQL ("postgres", "postgresql": uri is pgx's connection URL). The returned
// function closes the catalog and its database pool. Errors may quote uri's password: the
// caller scrubs them.
func openSQL(scheme, rest, uri string, props iceberg.Properties) (catalogAPI, func() error, error) {
	var (
		db      *sql.DB
		dialect icesql.SupportedDialect
		err     error
	)
	if scheme == "sqlite" {
		db, err = openSQLite(rest)
		dialect = icesql.SQLite
	} else {
		db, err = sql.Open("pgx", uri)
		dialect = icesql.Postgres
	}
	if err != nil {
		return nil, nil, err
	}
	cat, err := icesql.NewCatalog(CatalogName, db, dialect, props)
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	closeAll := func() error {
		err := cat.Close()
		if dbErr := db.Close(); dbErr != nil {
			err = errors.Join(err, dbErr)
		}
		return err
	}
	return cat, closeAll, nil
}

// checkPostgres reports whether pgx parses uri as a connection URL, without showing its
// password.
func checkPostgres(uri string) error {
	if _, err := pgx.ParseConfig(uri); err != nil {
		return scrub(fmt.Errorf("catalog %s: %w", redact(uri), err), uri)
	}
	return nil
}

// openSQLite opens the SQLite file at path (after "sqlite:"), creating its directory. WAL and a
// busy timeout let several processes share the file; transactions begin IMMEDIATE so two writers
// wait for each other instead of failing to upgrade a read lock.
func openSQLite(path string) (*sql.DB, error) {
	if p, ok := strings.CutPrefix(path, "//"); ok {
		path = p
	}
	if path == "" || strings.ContainsAny(path, "?#\x00") {
		return nil, errors.New("want sqlite:PATH, a file path without '?' or '#'")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	dsn := fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_txlock=immediate",
		(&url.URL{Path: path}).EscapedPath(), sqliteBusyTimeoutMS)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	return db, nil
}
