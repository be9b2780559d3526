package icetable

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	icesql "github.com/apache/iceberg-go/catalog/sql"
	"github.com/apache/iceberg-go/table"
	"github.com/jackc/pgx/v5"

	_ "github.com/jackc/pgx/v5/stdlib" // the pure-Go "pgx" database/sql driver for PostgreSQL
	_ "modernc.org/sqlite"             // the pure-Go "sqlite" database/sql driver (CGO_ENABLED=0 builds)
)

// CatalogName is the catalog name recorded in every row of the SQL catalog's tables
// (iceberg_tables.catalog_name): an engine reading the same database must be configured with it.
const CatalogName = "chatlake"

// DefaultNamespace is the namespace used when Config.Namespace is empty.
const DefaultNamespace = "chatlake"

// sqliteBusyTimeoutMS is how long a SQLite statement waits for another connection's lock
// (another process publishing to the same catalog file) before failing.
const sqliteBusyTimeoutMS = 30000

// Config says which catalog Open opens.
type Config struct {
	// URI is the --catalog value: "sqlite:PATH" (PATH relative or absolute; "sqlite:///abs"
	// also works) or "postgres://user:pass@host:port/db?sslmode=..." (also "postgresql://";
	// pgx's connection URL, so the password may instead come from PGPASSWORD or a .pgpass
	// file). No error or log line shows its userinfo or query.
	URI string
	// Namespace holds the tables; DefaultNamespace if empty. Created if missing.
	Namespace string
	// Props are passed to iceberg-go as catalog properties: FileIO settings (endpoints,
	// credentials) for the tables' locations.
	Props map[string]string
	// Logger receives one line per commit, retry and expiry; slog.Default() if nil.
	Logger *slog.Logger
	// ReadOnly opens a catalog that must exist, with its namespace, and Table a table that must
	// exist: nothing is created (ErrNotFound instead), for the commands that only read a lake.
	ReadOnly bool
}

// Catalog is an open Iceberg catalog with its namespace. Close it when done.
type Catalog struct {
	cat    *icesql.Catalog
	db     *sql.DB
	ns     table.Identifier
	where  string // the URI with its userinfo removed, for errors and logs
	ro     bool   // Config.ReadOnly
	logger *slog.Logger
}

// Open opens (creating if missing, unless cfg.ReadOnly) the catalog named by cfg.URI and its
// namespace.
//
//	sqlite:PATH      a SQLite catalog file; the file and its directory are created if missing
//	postgres://...   a PostgreSQL database (the database must exist; the catalog's tables are
//	                 created in it if missing)
//
// Any other scheme fails with ErrUnsupportedCatalog naming the scheme.
func Open(ctx context.Context, cfg Config) (*Catalog, error) {
	scheme, rest, ok := strings.Cut(cfg.URI, ":")
	if !ok || scheme == "" {
		return nil, fmt.Errorf("catalog URI without a scheme: %w (want sqlite:PATH)", ErrUnsupportedCatalog)
	}
	ns := cfg.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	if strings.ContainsAny(ns, ".\x00") {
		return nil, fmt.Errorf("catalog namespace %q: want one name without dots", ns)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	props := iceberg.Properties{}
	for k, v := range cfg.Props {
		props[k] = v
	}

	var (
		db      *sql.DB
		dialect icesql.SupportedDialect
		err     error
	)
	if cfg.ReadOnly {
		props["init_catalog_tables"] = "false" // iceberg-go's key: do not create the catalog's tables
	}
	switch strings.ToLower(scheme) {
	case "sqlite":
		if cfg.ReadOnly {
			if _, err := os.Stat(strings.TrimPrefix(rest, "//")); err != nil {
				return nil, fmt.Errorf("catalog sqlite:%s: %w", strings.TrimPrefix(rest, "//"), ErrNotFound)
			}
		}
		db, err = openSQLite(rest)
		dialect = icesql.SQLite
	case "postgres", "postgresql":
		db, err = sql.Open("pgx", cfg.URI)
		dialect = icesql.Postgres
	default:
		return nil, fmt.Errorf("catalog scheme %q: %w (want sqlite:PATH)", scheme, ErrUnsupportedCatalog)
	}
	if err != nil {
		return nil, err
	}
	c := &Catalog{db: db, ns: table.Identifier{ns}, where: redact(cfg.URI), logger: logger, ro: cfg.ReadOnly}
	c.cat, err = icesql.NewCatalog(CatalogName, db, dialect, props)
	if err != nil {
		_ = db.Close()
		return nil, scrub(fmt.Errorf("catalog %s: %w", c.where, err), cfg.URI)
	}
	if err := c.ensureNamespace(ctx); err != nil {
		_ = c.Close()
		return nil, scrub(err, cfg.URI)
	}
	return c, nil
}

// CheckURI reports whether Open would accept uri's form: a scheme it knows and, for sqlite:, a
// file path; for postgres://, a connection URL pgx parses. It opens nothing, and its error never
// shows a password of uri.
func CheckURI(uri string) error {
	scheme, rest, ok := strings.Cut(uri, ":")
	switch strings.ToLower(scheme) {
	case "sqlite":
		rest = strings.TrimPrefix(rest, "//")
		if rest == "" || strings.ContainsAny(rest, "?#\x00") {
			return errors.New("a sqlite: catalog is sqlite:PATH, a file path without '?' or '#'")
		}
		return nil
	case "postgres", "postgresql":
		if _, err := pgx.ParseConfig(uri); err != nil {
			return scrub(fmt.Errorf("catalog %s: %w", redact(uri), err), uri)
		}
		return nil
	}
	if !ok || scheme == "" {
		return fmt.Errorf("catalog URI without a scheme: %w", ErrUnsupportedCatalog)
	}
	return fmt.Errorf("catalog scheme %q: %w", scheme, ErrUnsupportedCatalog)
}

// openSQLite opens the SQLite file at path (after "sqlite:"), creating its directory. WAL and a
// busy timeout let several processes share the file; transactions begin IMMEDIATE so two writers
// wait for each other instead of failing to upgrade a read lock.
func openSQLite(path string) (*sql.DB, error) {
	if p, ok := strings.CutPrefix(path, "//"); ok {
		path = p
	}
	if path == "" || strings.ContainsAny(path, "?#\x00") {
		return nil, fmt.Errorf("catalog sqlite:%s: want sqlite:PATH, a file path without '?' or '#'", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("catalog sqlite:%s: %w", path, err)
	}
	dsn := fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_txlock=immediate",
		(&url.URL{Path: path}).EscapedPath(), sqliteBusyTimeoutMS)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("catalog sqlite:%s: %w", path, err)
	}
	return db, nil
}

func (c *Catalog) ensureNamespace(ctx context.Context) error {
	exists, err := c.cat.CheckNamespaceExists(ctx, c.ns)
	if err != nil {
		return fmt.Errorf("catalog %s, namespace %s: %w", c.where, c.ns[0], err)
	}
	if exists {
		return nil
	}
	if c.ro {
		return fmt.Errorf("catalog %s, namespace %s: %w", c.where, c.ns[0], ErrNotFound)
	}
	err = c.cat.CreateNamespace(ctx, c.ns, nil)
	if err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
		return fmt.Errorf("catalog %s, creating namespace %s: %w", c.where, c.ns[0], err)
	}
	return nil
}

// Close releases the catalog's connections. Tables opened from it must not be used afterwards.
func (c *Catalog) Close() error {
	err := c.cat.Close()
	if dbErr := c.db.Close(); dbErr != nil {
		err = errors.Join(err, dbErr)
	}
	if err != nil {
		return fmt.Errorf("closing catalog %s: %w", c.where, err)
	}
	return nil
}

// scrubbedError is an error whose text held a secret of the catalog URI: it keeps the scrubbed
// text only, and does not unwrap to the original.
type scrubbedError struct{ msg string }

func (e *scrubbedError) Error() string { return e.msg }

// scrub returns err unchanged unless its text contains a secret of uri (the password of its
// userinfo, or of its password query parameter); then an error with each secret replaced.
func scrub(err error, uri string) error {
	u, perr := url.Parse(uri)
	if perr != nil || err == nil {
		return err
	}
	var secrets []string // each as decoded and as written in uri
	if p, ok := u.User.Password(); ok {
		secrets = append(secrets, p)
		if _, rest, ok := strings.Cut(uri, "://"); ok {
			auth, _, _ := strings.Cut(rest, "/")
			if i := strings.LastIndex(auth, "@"); i >= 0 {
				_, raw, _ := strings.Cut(auth[:i], ":")
				secrets = append(secrets, raw)
			}
		}
	}
	for _, kv := range strings.Split(u.RawQuery, "&") {
		if k, raw, ok := strings.Cut(kv, "="); ok && strings.EqualFold(k, "password") {
			p, _ := url.QueryUnescape(raw)
			secrets = append(secrets, raw, p)
		}
	}
	msg := err.Error()
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	if msg == err.Error() {
		return err
	}
	return &scrubbedError{msg: msg}
}

// redact returns uri without its userinfo (user and password), for errors and logs. A string
// that does not parse as a URL is reduced to its scheme.
func redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		scheme, _, _ := strings.Cut(uri, ":")
		if strings.ContainsAny(scheme, "/@") {
			return "(unparsable catalog URI)"
		}
		return scheme + ":(unparsable)"
	}
	u.User = nil
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", "" // a query may hold a password too
	return u.String()
}
