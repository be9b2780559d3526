package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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
	case "FirstDay":
		return "first-day"
	case "StorageIntegration":
		return "storage-integration"
	default: // Engine, Lake, Schema
		return strings.ToLower(field)
	}
}

// runDDL prints the definitions of a lake's tables and views for one engine (package ddl).
func runDDL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ddl", flag.ContinueOnError)
	engine := fs.String("engine", "", "the engine: duckdb, bigquery, spark, trino, athena or snowflake (required)")
	lakeURL := fs.String("lake", "", "the lake: a local directory, file:///DIR, gs://BUCKET/PREFIX or s3://BUCKET/PREFIX (required; BigQuery needs gs://, Athena s3://; "+
		"Snowflake needs s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX)")
	schemaName := fs.String("schema", "", "the `NAME` the tables and views go in: a BigQuery DATASET or PROJECT.DATASET, a Spark database, "+
		"a Trino CATALOG.SCHEMA, an Athena database, a Snowflake DATABASE.SCHEMA (default: DuckDB's current schema; chatlake for BigQuery, Spark and Athena; "+
		"hive.chatlake for Trino; chatlake.public for Snowflake)")
	firstDay := fs.String("first-day", "", "Athena: the first `DAY` (YYYY-MM-DD) of the partition projection on dt, the lake's first day (default "+ddl.DefaultFirstDay+")")
	integration := fs.String("storage-integration", "", "Snowflake: the `NAME` of the storage integration the stage over the lake uses (default "+ddl.DefaultStorageIntegration+")")
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
	err := ddl.Write(stdout, ddl.Options{Engine: ddl.Engine(*engine), Lake: *lakeURL, Schema: *schemaName,
		SessionGap: *gap, ReplyWindow: *window, RequirePartitionFilter: *requireFilter, FirstDay: *firstDay, StorageIntegration: *integration})
	var oe *ddl.OptionError
	if errors.As(err, &oe) {
		return usagef("ddl: --%s: %s", ddlFlag(oe.Field), oe.Msg)
	}
	if err != nil {
		return fmt.Errorf("ddl: %w", err)
	}
	return nil
}
