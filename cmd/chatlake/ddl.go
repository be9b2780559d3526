package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/chatlake/chatlake/ddl"
)

// ddlFlags are the flags of ddl.
type ddlFlags struct {
	engine, lake, schema    string
	firstDay, integration   string
	tableFormat, catalog    string
	sessionGap, replyWindow time.Duration
	requireFilter           bool
}

// maxDDLDuration bounds --session-gap and --reply-window: a longer one is a typo.
const maxDDLDuration = 366 * 24 * time.Hour

// options is the table of ddl's flags. The engine, the lake, the schema, the first day, the
// storage integration and the catalog are checked by package ddl, and so is which flags go with
// which table format (ddl.OptionError names the field: the table names its flag).
func (f *ddlFlags) options() []option {
	engines := make([]string, 0, len(ddl.Engines()))
	for _, e := range ddl.Engines() {
		engines = append(engines, string(e))
	}
	opts := []option{
		stringOpt(&f.engine, "engine", "ENGINE", "the engine: "+strings.Join(engines, ", ")+" (required)", nil),
		stringOpt(&f.lake, "lake", "URL", "the lake: a local directory, file:///DIR, gs://BUCKET/PREFIX or s3://BUCKET/PREFIX (required; BigQuery needs gs://, Athena s3://; "+
			"Snowflake needs s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX)", nil),
		stringOpt(&f.schema, "schema", "NAME", "where the tables and views go: a BigQuery DATASET or PROJECT.DATASET, a Spark database, "+
			"a Trino CATALOG.SCHEMA, an Athena database, a Snowflake DATABASE.SCHEMA (default: DuckDB's current schema; chatlake for BigQuery, Spark and Athena; "+
			"hive.chatlake for Trino; chatlake.public for Snowflake)", nil),
		durationOpt(&f.sessionGap, "session-gap", ddl.DefaultSessionGap, time.Millisecond, maxDDLDuration, "SessionGap",
			"a session ends where two consecutive messages of a user are more than this apart (a gap of exactly this stays in the session); whole milliseconds"),
		durationOpt(&f.replyWindow, "reply-window", ddl.DefaultReplyWindow, time.Millisecond, maxDDLDuration, "ReplyWindow",
			"a user message at most this long after a template message counts as a reply to it; whole milliseconds"),
		boolOpt(&f.requireFilter, "require-partition-filter", "BigQuery: refuse queries on messages that do not filter on dt (require_hive_partition_filter)"),
		stringOpt(&f.firstDay, "first-day", "DAY", "Athena: the first day (YYYY-MM-DD) of the partition projection on dt, the lake's first day (default "+ddl.DefaultFirstDay+")", nil),
		stringOpt(&f.integration, "storage-integration", "NAME", "Snowflake: the storage integration the stage over the lake uses (default "+ddl.DefaultStorageIntegration+")", nil),
	}
	opts[0].field, opts[1].field, opts[2].field, opts[5].field = "Engine", "Lake", "Schema", "RequirePartitionFilter"
	opts[6].field, opts[7].field = "FirstDay", "StorageIntegration"
	format := tableFormatOpt(&f.tableFormat)
	format.field = "TableFormat"
	catalog := catalogOpt(&f.catalog)
	catalog.field = "Catalog"
	return append(opts, format, catalog)
}

// runDDL prints the definitions of a lake's tables and views for one engine (package ddl).
func runDDL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ddl", flag.ContinueOnError)
	var f ddlFlags
	opts := f.options()
	register(fs, opts)
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	var missing []string
	if f.engine == "" {
		missing = append(missing, "--engine")
	}
	if f.lake == "" {
		missing = append(missing, "--lake")
	}
	if len(missing) > 0 {
		return usagef("ddl: missing required flag(s): %s", strings.Join(missing, ", "))
	}
	if err := validate(opts); err != nil {
		return err
	}
	var out bytes.Buffer // printed only whole: a refused lake prints nothing
	err := ddl.Write(&out, ddl.Options{Engine: ddl.Engine(f.engine), Lake: f.lake, Schema: f.schema,
		SessionGap: f.sessionGap, ReplyWindow: f.replyWindow, RequirePartitionFilter: f.requireFilter,
		FirstDay: f.firstDay, StorageIntegration: f.integration, TableFormat: ddl.TableFormat(f.tableFormat), Catalog: f.catalog})
	var oe *ddl.OptionError
	if errors.As(err, &oe) {
		for _, o := range opts {
			if o.field == oe.Field {
				return usagef("ddl: --%s: %s", o.name, oe.Msg)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("ddl: %w", err)
	}
	if err := lakeExists(f.lake); err != nil {
		return err
	}
	_, err = out.WriteTo(stdout)
	return err
}

// lakeExists refuses a local lake that is not an existing directory, as one line naming
// --lake (exit 2). A cloud lake is not looked at: ddl needs no credentials, and its
// definitions are the same whether the bucket holds the lake yet or not.
func lakeExists(url string) error {
	path, local := url, true
	switch {
	case strings.HasPrefix(url, "file://"):
		path = strings.TrimPrefix(strings.TrimPrefix(url, "file://"), "localhost")
	case strings.Contains(url, "://"):
		local = false
	}
	if !local {
		return nil
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return usagef("ddl: --lake %s: no lake there (%v)", url, errors.Unwrap(err))
	case !fi.IsDir():
		return usagef("ddl: --lake %s: not a lake directory but a file", url)
	}
	return nil
}
