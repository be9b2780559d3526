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

// ddlFlag names the flag of a ddl.Options field, for errors.
func ddlFlag(field string) string {
	switch field {
	case "SessionGap":
		return "session-gap"
	case "ReplyWindow":
		return "reply-window"
	case "RequirePartitionFilter":
		return "require-partition-filter"
	default: // Engine, Lake, Schema
		return strings.ToLower(field)
	}
}

// runDDL prints the definitions of a lake's tables and views for one engine (package ddl).
func runDDL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ddl", flag.ContinueOnError)
	engine := fs.String("engine", "", "the engine: duckdb, bigquery, spark or trino (required)")
	lakeURL := fs.String("lake", "", "the lake: a local directory, file:///DIR, or gs://BUCKET/PREFIX (required; BigQuery needs gs://)")
	schemaName := fs.String("schema", "", "the `NAME` the tables and views go in: a BigQuery DATASET or PROJECT.DATASET, a Spark database, "+
		"a Trino CATALOG.SCHEMA (default: DuckDB's current schema; chatlake for BigQuery and Spark; hive.chatlake for Trino)")
	var gapV, windowV time.Duration
	gap, window := &gapV, &windowV
	durationVar(fs, gap, "session-gap", ddl.DefaultSessionGap, "a session ends where two consecutive messages of a user are more than this apart (a gap of exactly this stays in the session)")
	durationVar(fs, window, "reply-window", ddl.DefaultReplyWindow, "a user message at most this long after a template message counts as a reply to it")
	requireFilter := fs.Bool("require-partition-filter", false, "BigQuery: refuse queries on messages that do not filter on dt (require_hive_partition_filter)")
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	var missing []string
	if *engine == "" {
		missing = append(missing, "--engine")
	}
	if *lakeURL == "" {
		missing = append(missing, "--lake")
	}
	if len(missing) > 0 {
		return usagef("ddl: missing required flag(s): %s", strings.Join(missing, ", "))
	}
	// ddl.Options reads a zero duration as "the default"; on the command line 0 is a mistake.
	if *gap == 0 {
		return usagef("ddl: --session-gap must be positive, not 0")
	}
	if *window == 0 {
		return usagef("ddl: --reply-window must be positive, not 0")
	}
	var out bytes.Buffer // printed only whole: a refused lake prints nothing
	err := ddl.Write(&out, ddl.Options{Engine: ddl.Engine(*engine), Lake: *lakeURL, Schema: *schemaName,
		SessionGap: *gap, ReplyWindow: *window, RequirePartitionFilter: *requireFilter})
	var oe *ddl.OptionError
	if errors.As(err, &oe) {
		return usagef("ddl: --%s: %s", ddlFlag(oe.Field), oe.Msg)
	}
	if err != nil {
		return fmt.Errorf("ddl: %w", err)
	}
	if err := lakeExists(*lakeURL); err != nil {
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
