package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/pipelines"
	"github.com/chatlake/chatlake/schema"
	"github.com/chatlake/chatlake/sim"
)

// defaultDemoLake is where demo exports by default.
const defaultDemoLake = "lake"

// demoOptions is the table of demo's flags; the simulator's are bound to so (whose values are
// their defaults) and checked by package sim.
func demoOptions(lakeDir, logFormat, tableFormat *string, so *sim.Options) []option {
	*lakeDir = defaultDemoLake
	lake := stringOpt(lakeDir, "lake", "DIR", "local directory to export into", nil)
	lake.def = defaultDemoLake
	return []option{lake,
		{name: "seed", value: (*int64Value)(&so.Seed), def: fmt.Sprint(so.Seed), field: "Seed", help: "seed of the simulator's synthetic data"},
		{name: "users", value: (*intValue)(&so.Users), def: fmt.Sprint(so.Users), field: "Users", help: "number of simulated users"},
		choiceOpt(logFormat, "log-format", []string{"text", "json"}, "log format on stderr: text or json"),
		tableFormatOpt(tableFormat),
	}
}

// runDemo starts the simulator on a loopback port, exports its whole range into a local lake
// through the real HTTP client, and prints what it wrote and a query that reads it.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	so := sim.DefaultOptions()
	var lakeDirV, logFormatV string
	lakeDir, logFormat := &lakeDirV, &logFormatV
	tables := &tableFlags{retention: load.DefaultSnapshotRetention}
	opts := demoOptions(lakeDir, logFormat, &tables.format, &so)
	register(fs, opts)
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	if err := validate(opts); err != nil {
		return err
	}
	srv, ln, hs, err := listenSim(so, "127.0.0.1:0")
	var oe *sim.OptionError
	if errors.As(err, &oe) {
		for _, o := range opts {
			if o.field == oe.Field {
				return usagef("demo: --%s: %s", o.name, oe.Reason)
			}
		}
	}
	if err != nil {
		return usagef("demo: the simulator: %v", err)
	}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	apiURL := "http://" + ln.Addr().String()

	runID := pipelines.NewRunID(time.Now())
	logger := newLogger(*logFormat, stderr).With("run_id", runID)
	client, err := extract.New(extract.Options{BaseURL: apiURL, CustomerID: so.CustomerID, BotKey: so.BotKey,
		APIKey: so.APIKey, Rate: 200, Logger: logger})
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(*lakeDir)
	if err != nil {
		return usagef("--lake %s: %v", *lakeDir, err)
	}
	lake, closeLake, err := openLake(ctx, abs, &load.Options{Logger: logger}, false, 0, tables)
	if err != nil {
		return err
	}
	defer closeLake()
	sels := []extract.Selector{}
	for _, s := range srv.Selectors() {
		sels = append(sels, extract.Selector{Name: s.Name, Value: s.Value})
	}
	p, err := pipelines.New(client, lake, pipelines.Options{CustomerID: so.CustomerID, BotKey: so.BotKey,
		Selectors: sels, Logger: logger, RunID: runID})
	if err != nil {
		return err
	}
	from, to := so.From.UTC(), so.To.UTC().AddDate(0, 0, -1)
	fmt.Fprintf(stdout, "Simulator on %s: %d users, days %s..%s. Exporting into %s ...\n",
		apiURL, so.Users, from.Format(schema.DayLayout), to.Format(schema.DayLayout), abs)
	sum, err := p.Export(ctx, from, to)
	s := &setup{logger: logger}
	if err := report(ctx, s, sum, err, false, stderr); err != nil {
		return err
	}

	if tables.format == load.TableFormatIceberg {
		return demoIcebergReport(ctx, lake, sum, stdout)
	}
	objs, err := lake.MessageFiles(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nWrote %d messages of %d users into %d Parquet files (%d bytes) with %d API requests:\n",
		sum.Messages, sum.Users, len(objs), sum.Bytes, sum.API.Requests)
	const most = 5
	for i, o := range objs {
		if i == most {
			fmt.Fprintf(stdout, "  ... and %d more\n", len(objs)-most)
			break
		}
		fmt.Fprintf(stdout, "  %s  (%d bytes)\n", filepath.Join(abs, filepath.FromSlash(o.Name)), o.Size)
	}
	if len(objs) == 0 {
		return errors.New("demo: the export wrote no files")
	}
	fmt.Fprintf(stdout, "\nQuery it with DuckDB (https://duckdb.org), for example:\n\n")
	fmt.Fprintf(stdout, "  duckdb -c \"SELECT dt, message_type, count(*) AS messages FROM read_parquet('%s/%s', hive_partitioning = true) GROUP BY ALL ORDER BY ALL\"\n\n", abs, load.TableGlob(schema.MessagesTable))
	fmt.Fprintf(stdout, "Check it with: chatlake verify --lake %s\n", abs)
	return nil
}

// demoIcebergReport prints what an export into an Iceberg lake committed, and how DuckDB reads
// the messages table's current snapshot.
func demoIcebergReport(ctx context.Context, lake *load.Lake, sum *pipelines.Summary, stdout io.Writer) error {
	snaps, err := lake.Snapshots(ctx)
	if err != nil {
		return err
	}
	msgs, ok := snaps[schema.MessagesTable]
	if !ok {
		return errors.New("demo: the export committed no snapshot")
	}
	fmt.Fprintf(stdout, "\nCommitted %d messages of %d users with %d API requests: the messages table's snapshot %d holds %d data files, %d rows.\n",
		sum.Messages, sum.Users, sum.API.Requests, msgs.ID, msgs.DataFiles, msgs.Records)
	fmt.Fprintf(stdout, "\nQuery it with DuckDB (https://duckdb.org) and its iceberg extension, for example:\n\n")
	fmt.Fprintf(stdout, "  duckdb -c \"INSTALL iceberg; LOAD iceberg; SELECT (sent_at AT TIME ZONE 'UTC')::DATE AS day, message_type, count(*) AS messages FROM iceberg_scan('%s') GROUP BY ALL ORDER BY ALL\"\n\n", msgs.MetadataLocation)
	fmt.Fprintf(stdout, "Check it with: chatlake verify --lake %s\n", lake.URL())
	return nil
}
