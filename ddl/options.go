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
)

// Engines returns every engine, in the order the documentation lists them.
func Engines() []Engine { return []Engine{DuckDB, BigQuery, Spark, Trino} }

// Defaults of Options.
const (
	DefaultSessionGap  = 30 * time.Minute
	DefaultReplyWindow = 24 * time.Hour
)

// Options says what to print. Engine and Lake are required; the zero value of every other
// field is its default.
type Options struct {
	Engine Engine
	// Lake is the lake's root: a directory (a relative one is made absolute from the working
	// directory, so the definitions work from any other), file:///DIR, or gs://BUCKET/PREFIX.
	// BigQuery needs gs://.
	Lake string
	// Schema is where the tables and views go: a BigQuery dataset ("dataset" or
	// "project.dataset"), a Spark database, a Trino "catalog.schema". Default: none for
	// DuckDB (the current schema), "chatlake" for BigQuery and Spark, "hive.chatlake" for Trino.
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
}

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
	case DuckDB, BigQuery, Spark, Trino:
	case "":
		return o, lake{}, optErr("Engine", "required (duckdb, bigquery, spark or trino)")
	default:
		return o, lake{}, optErr("Engine", "unknown engine %q (want duckdb, bigquery, spark or trino)", o.Engine)
	}
	l, err := parseLake(o.Lake, o.Engine)
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
	if o.Schema == "" {
		o.Schema = map[Engine]string{BigQuery: "chatlake", Spark: "chatlake", Trino: "hive.chatlake"}[o.Engine]
	}
	if err := checkSchema(o.Engine, o.Schema); err != nil {
		return o, lake{}, err
	}
	return o, l, nil
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
	case Trino:
		ok = len(parts) == 2 && identRE.MatchString(parts[0]) && identRE.MatchString(parts[1])
	default:
		ok = len(parts) == 1 && identRE.MatchString(parts[0])
	}
	if !ok {
		want := map[Engine]string{
			DuckDB:   "a schema name",
			BigQuery: "DATASET or PROJECT.DATASET",
			Spark:    "a database name",
			Trino:    "CATALOG.SCHEMA",
		}[e]
		return optErr("Schema", "%q is not %s (letters, digits and _)", s, want)
	}
	return nil
}

// parseLake reads a lake URL the way the export does (a directory, file:///DIR or
// gs://BUCKET/PREFIX) and refuses what cannot be written into a SQL string literal or a glob
// as it is.
func parseLake(raw string, e Engine) (lake, error) {
	if strings.TrimSpace(raw) == "" {
		return lake{}, optErr("Lake", "required: a directory, file:///DIR or gs://BUCKET/PREFIX")
	}
	if i := strings.IndexFunc(raw, func(r rune) bool {
		return r < 0x20 || r == 0x7f || strings.ContainsRune(`'\*?[]{}`, r)
	}); i >= 0 {
		return lake{}, optErr("Lake", "%q holds %q, which the definitions cannot quote or glob safely", raw, raw[i:i+1])
	}
	var l lake
	switch {
	case strings.HasPrefix(raw, "gs://"):
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return lake{}, optErr("Lake", "%q is not gs://BUCKET/PREFIX", raw)
		}
		prefix := strings.Trim(u.Path, "/")
		l.root = "gs://" + u.Host
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
		return lake{}, optErr("Lake", "%q: unsupported scheme (want gs://, file:// or a directory)", raw)
	default:
		l.root, l.local = cleanDir(raw), true
	}
	if l.local && e == BigQuery {
		return lake{}, optErr("Lake", "%q: BigQuery reads only gs://BUCKET/PREFIX", raw)
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
