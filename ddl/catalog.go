package ddl

import (
	"net/url"
	"path/filepath"
	"slices"
	"strings"
)

// The Iceberg catalog an Iceberg lake's tables are in (the export's --catalog): an Iceberg
// JDBC ("SQL") catalog, the schema of Iceberg Java's JdbcCatalog (tables iceberg_tables and
// iceberg_namespace_properties), in a SQLite file or a Postgres database; or the AWS Glue Data
// Catalog (glue: or glue://ACCOUNT_ID), where the namespace is a Glue database.
const (
	// IcebergCatalogName is the catalog_name of the lake's tables in the catalog database: a
	// Spark catalog must have this name to list them.
	IcebergCatalogName = "chatlake"
	// IcebergNamespace is the namespace of the lake's tables in the catalog.
	IcebergNamespace = "chatlake"
	// DefaultCatalogFile is the SQLite catalog of a local lake when Options.Catalog is empty,
	// relative to the lake's directory.
	DefaultCatalogFile = "_chatlake/catalog.db"
)

// passwordPlaceholder stands for the catalog database's password: the definitions never
// print one, not even the one a catalog URI holds.
const passwordPlaceholder = "<the catalog database's password>"

// catalog is a parsed Options.Catalog.
type catalog struct {
	kind string // "sqlite", "postgres" or "glue"
	// account is a Glue catalog's account id (its CatalogId), "" for the caller's account.
	account string
	// jdbcURL is the catalog's JDBC URL, without user or password: jdbc:sqlite:/abs/file or
	// jdbc:postgresql://HOST[:PORT]/DB[?PARAMS].
	jdbcURL string
	user    string // the Postgres user; "" for SQLite or when the URI names none
	// dropped counts the URI's query parameters that the JDBC URL leaves out: they may hold
	// secrets, so neither their names nor their values are kept.
	dropped int
}

// driverClass is the JDBC driver class of the catalog's database.
func (c catalog) driverClass() string {
	if c.kind == "sqlite" {
		return "org.sqlite.JDBC"
	}
	return "org.postgresql.Driver"
}

// driverPackage is the Maven coordinate of the catalog's JDBC driver (no version).
func (c catalog) driverPackage() string {
	if c.kind == "sqlite" {
		return "org.xerial:sqlite-jdbc"
	}
	return "org.postgresql:postgresql"
}

// postgresParams are the query parameters of a postgres:// catalog URI that the JDBC URL
// keeps: the TLS settings, which pgjdbc reads under the same names and which hold no secret.
// Every other parameter is left out, and a comment says how many were.
var postgresParams = []string{"sslmode", "sslrootcert", "sslcert", "sslkey"}

// parseCatalog reads Options.Catalog for a lake l. An empty catalog is the default SQLite
// file of a local lake; a cloud lake has no default. The URI's password, if any, is never
// kept nor quoted in an error: an error names the URI with its password removed.
func parseCatalog(raw string, l lake) (catalog, error) {
	if strings.TrimSpace(raw) == "" {
		if !l.local {
			return catalog{}, optErr("Catalog", "required for a lake in cloud storage: sqlite:PATH, postgres://USER@HOST:PORT/DB or glue:")
		}
		return catalog{kind: "sqlite", jdbcURL: "jdbc:sqlite:" + l.root + "/" + DefaultCatalogFile}, nil
	}
	if i := strings.IndexFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
		return catalog{}, optErr("Catalog", "holds a control character")
	}
	switch {
	case strings.HasPrefix(raw, "sqlite:"):
		return parseSQLiteCatalog(raw)
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		return parsePostgresCatalog(raw)
	case strings.HasPrefix(raw, "glue:"):
		return parseGlueCatalog(raw)
	}
	// Name the scheme only: the rest of an unknown URI may hold a secret anywhere.
	scheme, _, ok := strings.Cut(raw, ":")
	if !ok || strings.ContainsAny(scheme, "/@?#") || len(scheme) > 20 {
		scheme = "this URI"
	} else {
		scheme = "a " + scheme + ": URI"
	}
	return catalog{}, optErr("Catalog", "%s is not a catalog the definitions are for: an Iceberg JDBC catalog (sqlite:PATH or postgres://USER@HOST:PORT/DB) or AWS Glue (glue: or glue://ACCOUNT_ID)", scheme)
}

// parseGlueCatalog reads glue: (or glue://), the Glue Data Catalog of the reader's account, or
// glue://ACCOUNT_ID, that of the 12-digit account. The rest of another form is not quoted.
func parseGlueCatalog(raw string) (catalog, error) {
	rest := strings.TrimPrefix(raw, "glue:")
	if rest == "" || rest == "//" {
		return catalog{kind: "glue"}, nil
	}
	id, ok := strings.CutPrefix(rest, "//")
	if !ok || len(id) != 12 || strings.Trim(id, "0123456789") != "" {
		return catalog{}, optErr("Catalog", "a glue catalog is glue: or glue://ACCOUNT_ID (12 digits)")
	}
	return catalog{kind: "glue", account: id}, nil
}

// parseSQLiteCatalog reads sqlite:PATH (a relative PATH is made absolute from the working
// directory, as a relative lake is) or sqlite:///ABS/PATH.
func parseSQLiteCatalog(raw string) (catalog, error) {
	p := strings.TrimPrefix(raw, "sqlite:")
	if strings.HasPrefix(p, "//") {
		u, err := url.Parse("file:" + p)
		if err != nil || (u.Host != "" && u.Host != "localhost") || !strings.HasPrefix(u.Path, "/") || u.RawQuery != "" {
			return catalog{}, optErr("Catalog", "%q is not sqlite:PATH or sqlite:///ABSOLUTE/PATH", raw)
		}
		p = u.Path
	}
	if p == "" || strings.HasSuffix(p, "/") {
		return catalog{}, optErr("Catalog", "%q names no file: sqlite:PATH", raw)
	}
	if strings.ContainsAny(p, `'\?`) {
		return catalog{}, optErr("Catalog", "%q holds a quote, a backslash or a '?', which a JDBC URL in the definitions cannot hold as it is", raw)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return catalog{}, optErr("Catalog", "%q: %v", raw, err)
	}
	return catalog{kind: "sqlite", jdbcURL: "jdbc:sqlite:" + filepath.ToSlash(abs)}, nil
}

// parsePostgresCatalog reads postgres://[USER[:PASSWORD]@]HOST[:PORT]/DB[?PARAMS].
func parsePostgresCatalog(raw string) (catalog, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url's error quotes the URI, password and all: name neither.
		return catalog{}, optErr("Catalog", "is not a URL postgres://USER@HOST:PORT/DB")
	}
	shown := redacted(u)
	db := strings.TrimPrefix(u.Path, "/")
	if u.Hostname() == "" || db == "" || strings.Contains(db, "/") || u.Fragment != "" {
		return catalog{}, optErr("Catalog", "%s is not postgres://USER@HOST:PORT/DB", shown)
	}
	if strings.ContainsAny(u.Host+db+u.User.Username(), `'\ `) {
		return catalog{}, optErr("Catalog", "%s holds a quote, a backslash or a space", shown)
	}
	c := catalog{kind: "postgres", user: u.User.Username()}
	q := u.Query()
	kept := url.Values{}
	for k := range q {
		if slices.Contains(postgresParams, k) {
			kept[k] = q[k]
		} else {
			c.dropped += len(q[k])
		}
	}
	c.jdbcURL = "jdbc:postgresql://" + u.Host + "/" + db
	if len(kept) > 0 {
		enc := kept.Encode()
		if strings.ContainsAny(enc, `'\`) {
			return catalog{}, optErr("Catalog", "%s: a parameter holds a quote or a backslash", shown)
		}
		c.jdbcURL += "?" + enc
	}
	return c, nil
}

// icebergCatalog is the catalog of an Iceberg lake l as the definitions name it. Spark and
// Trino read the tables through it: they need one, the default for a local lake. The other
// engines read metadata files: a catalog given to them is checked, and not needed.
func (o Options) icebergCatalog(l lake) (catalog, error) {
	if o.Catalog == "" && o.Engine != Spark && o.Engine != Trino {
		return catalog{}, nil
	}
	return parseCatalog(o.Catalog, l)
}

// redacted is u for an error: without its password, query or fragment, any of which may hold
// a secret.
func redacted(u *url.URL) string {
	c := *u
	c.RawQuery, c.Fragment, c.RawFragment, c.ForceQuery = "", "", "", false
	return c.Redacted()
}
