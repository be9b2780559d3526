package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/pipelines"
)

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	lakeURL := fs.String("lake", "", "the lake: a local directory, file:///DIR, or gs://BUCKET/PREFIX (required)")
	from := fs.String("from", "", "first day `YYYY-MM-DD` to check; with --to, a day without a manifest is reported missing (default: every day found)")
	to := fs.String("to", "", "last day `YYYY-MM-DD` to check (default: every day found)")
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	if *lakeURL == "" {
		return usagef("missing required flag: --lake")
	}
	if (*from == "") != (*to == "") {
		return usagef("give both --from and --to, or neither")
	}
	if *from != "" {
		f, err := pipelines.ParseDay(*from)
		if err != nil {
			return usagef("--from: %v", err)
		}
		t, err := pipelines.ParseDay(*to)
		if err != nil {
			return usagef("--to: %v", err)
		}
		if t.Before(f) {
			return usagef("--to %s is before --from %s", *to, *from)
		}
	}
	lake, closeLake, err := openLake(ctx, *lakeURL, nil)
	if err != nil {
		return err
	}
	defer closeLake()
	rep, err := lake.Verify(ctx, *from, *to)
	if err != nil {
		return fmt.Errorf("verify %s: %w", *lakeURL, err)
	}
	if err := rep.WriteText(stdout); err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("verify %s: %d problem(s) found", *lakeURL, len(rep.Problems))
	}
	return nil
}

// statusReport is what `chatlake status` prints, also as JSON with --json.
type statusReport struct {
	Lake          string                `json:"lake"`
	Watermark     string                `json:"watermark,omitempty"`
	SchemaVersion string                `json:"schema_version,omitempty"`
	CustomerID    string                `json:"customer_id,omitempty"`
	BotKey        string                `json:"bot_key,omitempty"`
	LastRun       *pipelines.RunRecord  `json:"last_run,omitempty"`
	Days          []string              `json:"days"`
	Lock          *pipelines.LockRecord `json:"lock,omitempty"`
	LockExpired   bool                  `json:"lock_expired,omitempty"`
	Backfills     int                   `json:"backfills_in_progress"`
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	lakeURL := fs.String("lake", "", "the lake: a local directory, file:///DIR, or gs://BUCKET/PREFIX (required)")
	asJSON := fs.Bool("json", false, "print the status as one JSON object")
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	if *lakeURL == "" {
		return usagef("missing required flag: --lake")
	}
	lake, closeLake, err := openLake(ctx, *lakeURL, nil)
	if err != nil {
		return err
	}
	defer closeLake()
	rep, err := readStatus(ctx, lake, *lakeURL)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return writeStatus(stdout, rep)
}

func readStatus(ctx context.Context, lake *load.Lake, url string) (*statusReport, error) {
	st, err := pipelines.ReadState(ctx, lake.Store())
	if err != nil {
		return nil, err
	}
	lock, err := pipelines.ReadLock(ctx, lake.Store())
	if err != nil {
		return nil, err
	}
	days, err := lake.Days(ctx)
	if err != nil {
		return nil, err
	}
	rep := &statusReport{Lake: url, Watermark: st.Watermark, SchemaVersion: st.SchemaVersion,
		CustomerID: st.CustomerID, BotKey: st.BotKey, LastRun: st.LastRun, Days: days, Lock: lock}
	if rep.Days == nil {
		rep.Days = []string{}
	}
	if lock != nil && time.Now().After(lock.Expires) {
		rep.LockExpired = true
	}
	for _, b := range st.Backfills {
		if b.Finished.IsZero() {
			rep.Backfills++
		}
	}
	return rep, nil
}

func writeStatus(w io.Writer, r *statusReport) error {
	fmt.Fprintf(w, "lake       %s\n", r.Lake)
	if r.CustomerID != "" {
		fmt.Fprintf(w, "bot        customer %s bot %s, schema version %s\n", r.CustomerID, r.BotKey, r.SchemaVersion)
	}
	wm := r.Watermark
	if wm == "" {
		wm = "none (the nightly run has not run yet)"
	}
	fmt.Fprintf(w, "watermark  %s\n", wm)
	if r.LastRun != nil {
		lr := r.LastRun
		fmt.Fprintf(w, "last run   %s %s %s..%s: %s at %s, %d messages, %d requests\n", lr.Kind, lr.RunID, lr.From, lr.To,
			lr.Outcome, lr.Finished.Format(time.RFC3339), lr.Messages, lr.Requests)
		if lr.Error != "" {
			fmt.Fprintf(w, "           error: %s\n", lr.Error)
		}
	} else {
		fmt.Fprintf(w, "last run   none\n")
	}
	fmt.Fprintf(w, "days       %s\n", daysText(r.Days))
	switch {
	case r.Lock == nil:
		fmt.Fprintf(w, "lock       free\n")
	case r.LockExpired:
		fmt.Fprintf(w, "lock       expired (run %s on %s pid %d died; the next run takes it over)\n", r.Lock.RunID, r.Lock.Host, r.Lock.PID)
	default:
		fmt.Fprintf(w, "lock       held by %s run %s on %s pid %d until %s\n", r.Lock.Kind, r.Lock.RunID, r.Lock.Host, r.Lock.PID, r.Lock.Expires.Format(time.RFC3339))
	}
	if r.Backfills > 0 {
		fmt.Fprintf(w, "backfills  %d unfinished (rerun them to resume)\n", r.Backfills)
	}
	return nil
}

// daysText shows days as ranges: 2024-05-01..2024-05-14 (14 days).
func daysText(days []string) string {
	if len(days) == 0 {
		return "none"
	}
	sort.Strings(days)
	var out []string
	start, prev := days[0], days[0]
	flush := func() {
		if start == prev {
			out = append(out, start)
		} else {
			out = append(out, start+".."+prev)
		}
	}
	for _, d := range days[1:] {
		if next(prev) == d {
			prev = d
			continue
		}
		flush()
		start, prev = d, d
	}
	flush()
	return fmt.Sprintf("%d: %v", len(days), out)
}

func next(day string) string {
	d, err := pipelines.ParseDay(day)
	if err != nil {
		return ""
	}
	return d.AddDate(0, 0, 1).Format(pipelines.DayLayout)
}
