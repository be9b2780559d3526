package icetable

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
)

// CatalogName is the catalog name recorded in every row of the SQL catalog's tables
// (iceberg_tables.catalog_name): an engine reading the same database must be configured with it.
const CatalogName = "chatlake"

// DefaultNamespace is the namespace used when Config.Namespace is empty.
const DefaultNamespace = "chatlake"

// Config says which catalog Open opens.
type Config struct {
	// URI is the --catalog value: "sqlite:PATH" (PATH relative or absolute; "sqlite:///abs"
	// also works), "postgres://user:pass@host:port/db?sslmode=..." (also "postgresql://";
	// pgx's connection URL, so the password may instead come from PGPASSWORD or a .pgpass
	// file), or "glue:" / "glue://ACCOUNT_ID" (the AWS Glue Data Catalog of the caller's
	// account, or of the 12-digit account ACCOUNT_ID; region, endpoint and credentials come
	// from the standard AWS configuration, never from the URI). No error or log line shows
	// its userinfo or query, nor an AWS credential.
	URI string
	// Namespace holds the tables (for Glue, the database); DefaultNamespace if empty. Created
	// if missing.
	Namespace string
	// Props are passed to iceberg-go as catalog properties: FileIO settings (endpoints,
	// credentials) for the tables' locations, as StoreIO returns them for a cloud store. They
	// may hold secrets: nothing here prints them.
	Props map[string]string
	// Redact, if not nil, removes the secrets of Props from a text: every error of the catalog
	// and its tables goes through it (storage.Access.Redact for StoreIO's properties).
	Redact func(string) string
	// Logger receives one line per commit, retry and expiry; slog.Default() if nil.
	Logger *slog.Logger
	// ReadOnly opens a catalog that must exist, with its namespace, and Table a table that must
	// exist: nothing is created (ErrNotFound instead), for the commands that only read a lake.
	ReadOnly bool
}

// catalogAPI is what this package uses of an iceberg-go catalog (SQL or Glue).
type catalogAPI interface {
	LoadTable(ctx context.Context, ident table.Identifier) (*table.Table, error)
	CreateTable(ctx context.Context, ident table.Identifier, sc *iceberg.Schema, opts ...catalog.CreateTableOpt) (*table.Table, error)
	CheckNamespaceExists(ctx context.Context, ns table.Identifier) (bool, error)
	CreateNamespace(ctx context.Context, ns table.Identifier, props iceberg.Properties) error
}

// Catalog is an open Iceberg catalog with its namespace. Close it when done.
type Catalog struct {
	cat    catalogAPI
	close  func() error // releases cat and what it holds (a database pool)
	ns     table.Identifier
	where  string              // the URI with its userinfo removed, for errors and logs
	ro     bool                // Config.ReadOnly
	redact func(string) string // Config.Redact, nil for none
	logger *slog.Logger
}

// Open opens (creating if missing, unless cfg.ReadOnly) the catalog named by cfg.URI and its
// namespace.
//
//	sqlite:PATH        a SQLite catalog file; the file and its directory are created if missing
//	postgres://...     a PostgreSQL database (the database must exist; the catalog's tables are
//	                   created in it if missing)
//	glue:              the AWS Glue Data Catalog of the caller's account (the namespace is a
//	                   Glue database, created if missing)
//	glue://ACCOUNT_ID  the Glue Data Catalog of account ACCOUNT_ID (12 digits)
//
// For Glue, region, endpoint and credentials come from the standard AWS configuration
// (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_GLUE or AWS_ENDPOINT_URL, the shared config and
// credentials files, instance roles); a configuration without a region is an error. Any other
// scheme fails with ErrUnsupportedCatalog naming the scheme.
func Open(ctx context.Context, cfg Config) (*Catalog, error) {
	c, err := open(ctx, cfg)
	if err != nil {
		return nil, redacted(err, cfg.Redact)
	}
	return c, nil
}

func open(ctx context.Context, cfg Config) (*Catalog, error) {
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

	c := &Catalog{ns: table.Identifier{ns}, where: redact(cfg.URI), logger: logger, ro: cfg.ReadOnly, redact: cfg.Redact}
	if cfg.ReadOnly {
		props["init_catalog_tables"] = "false" // iceberg-go's key: do not create the catalog's tables
	}
	var err error
	switch strings.ToLower(scheme) {
	case "sqlite", "postgres", "postgresql":
		if path := strings.TrimPrefix(rest, "//"); cfg.ReadOnly && strings.EqualFold(scheme, "sqlite") {
			if _, err := os.Stat(path); err != nil {
				return nil, fmt.Errorf("catalog sqlite:%s: %w", path, ErrNotFound)
			}
		}
		c.cat, c.close, err = openSQL(strings.ToLower(scheme), rest, cfg.URI, props)
	case "glue":
		c.cat, c.close, err = openGlue(ctx, cfg.URI, props)
	default:
		return nil, fmt.Errorf("catalog scheme %q: %w (want sqlite:PATH)", scheme, ErrUnsupportedCatalog)
	}
	if err != nil {
		return nil, scrub(fmt.Errorf("catalog %s: %w", c.where, err), cfg.URI)
	}
	if err := c.ensureNamespace(ctx); err != nil {
		_ = c.Close()
		return nil, scrub(err, cfg.URI)
	}
	return c, nil
}

// CheckURI reports whether Open would accept uri's form: a scheme it knows and, for sqlite:, a
// file path; for postgres://, a connection URL pgx parses; for glue, "glue:" or
// "glue://ACCOUNT_ID". It opens nothing, and its error never shows a password of uri.
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
		return checkPostgres(uri)
	case "glue":
		_, err := glueAccount(uri)
		return err
	}
	if !ok || scheme == "" {
		return fmt.Errorf("catalog URI without a scheme: %w", ErrUnsupportedCatalog)
	}
	return fmt.Errorf("catalog scheme %q: %w", scheme, ErrUnsupportedCatalog)
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
func (c *Catalog) Close() (err error) {
	defer c.clean(&err)
	if err := c.close(); err != nil {
		return fmt.Errorf("closing catalog %s: %w", c.where, err)
	}
	return nil
}
