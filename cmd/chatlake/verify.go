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
	"github.com/chatlake/chatlake/schema"
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
		f, err := schema.ParseDay(*from)
		if err != nil {
			return usagef("--from: %v", err)
		}
		t, err := schema.ParseDay(*to)
		if err != nil {
			return usagef("--to: %v", err)
		}
		if t.Before(f) {
			return usagef("--to %s is before --from %s", *to, *from)
		}
	}
	lake, closeLake, err := openLake(ctx, *lakeURL, nil, true, 0)
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
	Lake          string                    `json:"lake"`
	Watermark     string                    `json:"watermark,omitempty"`
	SchemaVersion string                    `json:"schema_version,omitempty"`
	CustomerID    string                    `json:"customer_id,omitempty"`
	BotKey        string                    `json:"bot_key,omitempty"`
	LastRun       *pipelines.RunRecord      `json:"last_run,omitempty"`
	Days          []string                  `json:"days"`
	Lock          *pipelines.LockRecord     `json:"lock,omitempty"`
	LockExpired   bool                      `json:"lock_expired,omitempty"`
	Plans         []pipelines.PlanStatus    `json:"unfinished_runs"`
	Owed          map[string]pipelines.Owed `json:"owed,omitempty"`
	Erasures      []pipelines.Erasure       `json:"erasures,omitempty"`
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
	lake, closeLake, err := openLake(ctx, *lakeURL, nil, true, 0)
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
	if lock != nil {
		rep.LockExpired = true
		for _, h := range lock.Holders {
			if time.Now().Before(h.Expires) {
				rep.LockExpired = false
			}
		}
	}
	if rep.Plans, err = pipelines.PendingPlans(ctx, lake); err != nil {
		return nil, err
	}
	rep.Owed, rep.Erasures = st.Owed, st.Erasures
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
		fmt.Fprintf(w, "lock       expired (%s plan %s: its holders died; the next run takes it over)\n", r.Lock.Kind, r.Lock.Plan)
	default:
		fmt.Fprintf(w, "lock       held by %s plan %s:\n", r.Lock.Kind, r.Lock.Plan)
		for _, h := range r.Lock.Holders {
			fmt.Fprintf(w, "           run %s on %s pid %d%s until %s\n", h.RunID, h.Host, h.PID, shardText(h.Shard), h.Expires.Format(time.RFC3339))
		}
	}
	for _, p := range r.Plans {
		fmt.Fprintf(w, "unfinished %s %s..%s: %d of %d batches done, %d users (plan %s; rerun the same command to resume it)\n",
			p.Kind, p.From, p.To, p.BatchesDone, p.Batches, p.Users, p.ID)
	}
	if len(r.Owed) > 0 {
		ids := make([]string, 0, len(r.Owed))
		for id := range r.Owed {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		fmt.Fprintf(w, "owed       %d user(s) whose export failed; the next run exports them again:\n", len(ids))
		for i, id := range ids {
			if i == 10 {
				fmt.Fprintf(w, "           +%d more (status --json lists them all)\n", len(ids)-10)
				break
			}
			o := r.Owed[id]
			fmt.Fprintf(w, "           %s: %s..%s, %d attempt(s), since %s: %s\n", id, o.From, o.To, o.Attempts, o.Since.Format(time.RFC3339), o.Error)
		}
	}
	for _, e := range r.Erasures {
		fmt.Fprintf(w, "erasure    %s by run %s: %d user(s), %d message rows\n", e.At.Format(time.RFC3339), e.RunID, e.Users, e.Messages)
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
	d, err := schema.ParseDay(day)
	if err != nil {
		return ""
	}
	return d.AddDate(0, 0, 1).Format(schema.DayLayout)
}

func shardText(s string) string {
	if s == "" {
		return ""
	}
	return " shard " + s
}
