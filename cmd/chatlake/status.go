package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/pipelines"
	"github.com/chatlake/chatlake/schema"
)

// statusReport is what `chatlake status` prints, also as JSON with --json.
type statusReport struct {
	Lake          string               `json:"lake"`
	Watermark     string               `json:"watermark,omitempty"`
	SchemaVersion string               `json:"schema_version,omitempty"`
	CustomerID    string               `json:"customer_id,omitempty"`
	BotKey        string               `json:"bot_key,omitempty"`
	LastRun       *load.RunRecord      `json:"last_run,omitempty"`
	Days          []string             `json:"days"`
	Fresh         *freshness           `json:"freshness,omitempty"`
	Lock          *load.LockRecord     `json:"lock,omitempty"`
	LockExpired   bool                 `json:"lock_expired,omitempty"`
	DeadHolders   []deadHolder         `json:"dead_lock_holders,omitempty"`
	Plans         []unfinishedRun      `json:"unfinished_runs"`
	Owed          map[string]load.Owed `json:"owed,omitempty"`
	Erasures      []load.Erasure       `json:"erasures,omitempty"`
	// TableFormat is the lake's (load.TableFormatHive, load.TableFormatIceberg); Snapshots are
	// an Iceberg lake's tables' current snapshots, by table.
	TableFormat string                  `json:"table_format"`
	Snapshots   map[string]tableVersion `json:"snapshots,omitempty"`
}

// tableVersion is an Iceberg table's current snapshot.
type tableVersion struct {
	ID       int64     `json:"snapshot_id"`
	Time     time.Time `json:"committed_at"`
	Run      string    `json:"run_id,omitempty"`
	Plan     string    `json:"plan,omitempty"`
	Files    int64     `json:"data_files"`
	Rows     int64     `json:"records"`
	Metadata string    `json:"metadata_location"`
}

// freshness is how old the lake's newest fully exported day is: the watermark, or, when users
// are owed over it, the day before the earliest owed day that reaches it.
type freshness struct {
	NewestComplete string  `json:"newest_complete_day,omitempty"` // "" when no day is
	LagSeconds     float64 `json:"lag_s"`                         // since the end of that day (UTC); -1 when there is none
	MaxLagSeconds  float64 `json:"max_lag_s,omitempty"`           // --max-lag, when given
	Stale          bool    `json:"stale"`                         // older than --max-lag
}

// deadHolder is a lock holder that no longer runs: its lease ended, or it ran on this host
// and its pid is gone. The next run takes the lock over.
type deadHolder struct {
	RunID  string `json:"run_id"`
	Reason string `json:"reason"`
}

// unfinishedRun is an unfinished plan with the command that resumes it.
type unfinishedRun struct {
	pipelines.PlanStatus
	Resume string `json:"resume"`
}

// statusFlags are the flags of status.
type statusFlags struct {
	lake                   string
	asJSON                 bool
	maxLag, storageTimeout time.Duration
	s3                     s3Flags
	azure                  azureFlags
	tables                 tableFlags
}

// maxMaxLag bounds --max-lag: a lag of ten years is a typo.
const maxMaxLag = 3660 * 24 * time.Hour

// options is the table of status's flags.
func (f *statusFlags) options() []option {
	return append([]option{
		stringOpt(&f.lake, "lake", "URL", lakeHelp, nil),
		boolOpt(&f.asJSON, "json", "print the status as one JSON object"),
		durationOpt(&f.maxLag, "max-lag", 0, 0, maxMaxLag, "", "exit 4 when the newest fully exported day ended longer ago than this (36h, 2d); 0: no check"),
		storageTimeoutOpt(&f.storageTimeout),
	}, append(append(f.s3.options(), f.azure.options()...), f.tables.options()...)...)
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	f := statusFlags{tables: tableFlags{fromLake: true, readOnly: true}}
	opts := f.options()
	register(fs, opts)
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	if f.lake == "" {
		return usagef("missing required flag: --lake")
	}
	if err := validate(opts); err != nil {
		return err
	}
	lakeURL, asJSON, maxLag := &f.lake, &f.asJSON, f.maxLag
	lake, closeLake, err := openLake(ctx, *lakeURL, nil, true, f.storageTimeout, &f.tables, f.azure.apply, f.s3.apply)
	if err != nil {
		return err
	}
	defer closeLake()
	rep, err := readStatus(ctx, lake, *lakeURL, time.Now(), maxLag)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = writeStatus(stdout, rep)
	}
	if err != nil {
		return err
	}
	if rep.Fresh.Stale {
		if rep.Fresh.NewestComplete == "" {
			return &staleError{msg: fmt.Sprintf("status %s: no day is fully exported (--max-lag %s)", *lakeURL, formatDuration(maxLag))}
		}
		return &staleError{msg: fmt.Sprintf("status %s: stale: the newest fully exported day %s ended %s ago, more than --max-lag %s",
			*lakeURL, rep.Fresh.NewestComplete, ageText(time.Duration(rep.Fresh.LagSeconds)*time.Second), formatDuration(maxLag))}
	}
	return nil
}

func readStatus(ctx context.Context, lake *load.Lake, url string, now time.Time, maxLag time.Duration) (*statusReport, error) {
	st, err := pipelines.ReadState(ctx, lake)
	if err != nil {
		return nil, err
	}
	lock, err := lake.ReadLock(ctx)
	if err != nil {
		return nil, err
	}
	days, err := lake.Days(ctx)
	if err != nil {
		return nil, err
	}
	rep := &statusReport{Lake: url, Watermark: st.Watermark, SchemaVersion: st.SchemaVersion,
		CustomerID: st.CustomerID, BotKey: st.BotKey, LastRun: st.LastRun, Days: days, Lock: lock,
		Fresh: freshnessOf(&st, now, maxLag)}
	if rep.Days == nil {
		rep.Days = []string{}
	}
	if lock != nil {
		host, _ := os.Hostname()
		rep.LockExpired = true
		for _, h := range lock.Holders {
			if reason := h.DeadReason(now, host); reason != "" {
				rep.DeadHolders = append(rep.DeadHolders, deadHolder{RunID: h.RunID, Reason: reason})
			} else {
				rep.LockExpired = false
			}
		}
	}
	plans, err := pipelines.PendingPlans(ctx, lake)
	if err != nil {
		return nil, err
	}
	rep.Plans = []unfinishedRun{}
	for _, p := range plans {
		resume, err := resumeCommand(ctx, lake, url, p)
		if err != nil {
			return nil, err
		}
		rep.Plans = append(rep.Plans, unfinishedRun{PlanStatus: p, Resume: resume})
	}
	rep.Owed, rep.Erasures = st.Owed, st.Erasures
	rep.TableFormat = lake.TableFormat()
	snaps, err := lake.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	for name, s := range snaps {
		if rep.Snapshots == nil {
			rep.Snapshots = map[string]tableVersion{}
		}
		rep.Snapshots[name] = tableVersion{ID: s.ID, Time: s.Time, Run: s.Summary[load.SnapshotRunID],
			Plan: s.Summary[load.SnapshotPlan], Files: s.DataFiles, Rows: s.Records, Metadata: s.MetadataLocation}
	}
	return rep, nil
}

// freshnessOf finds the newest fully exported day: every day up to the watermark is
// published, except those of a range still owed for some user.
func freshnessOf(st *load.State, now time.Time, maxLag time.Duration) *freshness {
	f := &freshness{LagSeconds: -1, MaxLagSeconds: maxLag.Seconds()}
	day := st.Watermark
	for moved := true; moved && day != ""; {
		moved = false
		for _, o := range st.Owed {
			if o.From <= day && day <= o.To {
				day, moved = prev(o.From), true
			}
		}
	}
	if _, published := st.Days[day]; day == "" || !published {
		f.Stale = maxLag > 0 // nothing fully exported yet
		return f
	}
	end, err := schema.ParseDay(day)
	if err != nil {
		f.Stale = maxLag > 0
		return f
	}
	lag := now.Sub(end.AddDate(0, 0, 1))
	f.NewestComplete, f.LagSeconds = day, lag.Truncate(time.Second).Seconds()
	f.Stale = maxLag > 0 && lag > maxLag
	return f
}

// resumeCommand is the command line that resumes an unfinished plan: the same command
// (its API URL and key are not in the lake), or publish when every batch is done.
func resumeCommand(ctx context.Context, lake *load.Lake, url string, p pipelines.PlanStatus) (string, error) {
	if p.Batches > 0 && p.BatchesDone >= p.Batches {
		return "chatlake publish --lake " + shellQuote(url), nil
	}
	plan, err := lake.ReadPlan(ctx, p.ID)
	if err != nil {
		return "", fmt.Errorf("plan %s: %w", p.ID, err)
	}
	args := []string{"chatlake", plan.Kind, "--api-url", "URL", "--customer", shellQuote(plan.CustomerID), "--bot", shellQuote(plan.BotKey)}
	for _, s := range plan.Selectors {
		args = append(args, "--users-where", shellQuote(s))
	}
	args = append(args, "--lake", shellQuote(url))
	if plan.Kind != "run" {
		args = append(args, "--from", plan.From, "--to", plan.To)
	}
	return strings.Join(args, " "), nil
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
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
	if f := r.Fresh; f != nil {
		state := ""
		if f.MaxLagSeconds > 0 {
			state = fmt.Sprintf(", fresh (--max-lag %s)", formatDuration(time.Duration(f.MaxLagSeconds)*time.Second))
			if f.Stale {
				state = fmt.Sprintf(", STALE (--max-lag %s)", formatDuration(time.Duration(f.MaxLagSeconds)*time.Second))
			}
		}
		if f.NewestComplete == "" {
			fmt.Fprintf(w, "freshness  no day fully exported%s\n", state)
		} else {
			fmt.Fprintf(w, "freshness  newest fully exported day %s, ended %s ago%s\n", f.NewestComplete,
				ageText(time.Duration(f.LagSeconds)*time.Second), state)
		}
	}
	if r.LastRun != nil {
		lr := r.LastRun
		fmt.Fprintf(w, "last run   %s %s %s..%s: %s at %s, %d messages, %d requests\n", lr.Kind, lr.RunID, lr.From, lr.To,
			lr.Outcome, lr.Finished.Format(time.RFC3339), lr.Messages, lr.Requests)
		if lr.Error != "" {
			fmt.Fprintf(w, "           error: %s\n", lr.Error)
		}
		if lr.LateMessages > 0 {
			fmt.Fprintf(w, "           late: %d messages new in days exported before (by age in days: %s)\n", lr.LateMessages, lateByAgeText(lr.LateByAge))
		}
	} else {
		fmt.Fprintf(w, "last run   none\n")
	}
	fmt.Fprintf(w, "days       %s\n", daysText(r.Days))
	if r.TableFormat == load.TableFormatIceberg {
		fmt.Fprintf(w, "tables     iceberg\n")
		for _, name := range slices.Sorted(maps.Keys(r.Snapshots)) {
			v := r.Snapshots[name]
			fmt.Fprintf(w, "  %-8s snapshot %d committed %s by run %s: %d files, %d rows\n", name, v.ID,
				v.Time.Format(time.RFC3339), v.Run, v.Files, v.Rows)
			fmt.Fprintf(w, "           metadata %s\n", v.Metadata)
		}
	}
	dead := map[string]string{}
	for _, d := range r.DeadHolders {
		dead[d.RunID] = d.Reason
	}
	switch {
	case r.Lock == nil:
		fmt.Fprintf(w, "lock       free\n")
	case r.LockExpired:
		fmt.Fprintf(w, "lock       DEAD (%s plan %s: its holders died; the next run takes it over):\n", r.Lock.Kind, r.Lock.Plan)
	default:
		fmt.Fprintf(w, "lock       held by %s plan %s:\n", r.Lock.Kind, r.Lock.Plan)
	}
	if r.Lock != nil {
		for _, h := range r.Lock.Holders {
			state := "until " + h.Expires.Format(time.RFC3339)
			if why, ok := dead[h.RunID]; ok {
				state = "DEAD: " + why
			}
			fmt.Fprintf(w, "           run %s on %s pid %d%s %s\n", h.RunID, h.Host, h.PID, shardText(h.Shard), state)
		}
	}
	for _, p := range r.Plans {
		fmt.Fprintf(w, "unfinished %s %s..%s: %d of %d batches done, %d users (plan %s); resume it with:\n           %s\n",
			p.Kind, p.From, p.To, p.BatchesDone, p.Batches, p.Users, p.ID, p.Resume)
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
	start, last := days[0], days[0]
	flush := func() {
		if start == last {
			out = append(out, start)
		} else {
			out = append(out, start+".."+last)
		}
	}
	for _, d := range days[1:] {
		if next(last) == d {
			last = d
			continue
		}
		flush()
		start, last = d, d
	}
	flush()
	return fmt.Sprintf("%d: %v", len(days), out)
}

func next(day string) string { return addDays(day, 1) }

func prev(day string) string { return addDays(day, -1) }

func addDays(day string, n int) string {
	d, err := schema.ParseDay(day)
	if err != nil {
		return ""
	}
	return d.AddDate(0, 0, n).Format(schema.DayLayout)
}

// ageText shows an age to the minute, in days and hours beyond two days: 940d3h, 26h5m.
func ageText(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}

func shardText(s string) string {
	if s == "" {
		return ""
	}
	return " shard " + s
}

// lateByAgeText is a run record's late messages by age, "AGE: N" pairs in age order.
func lateByAgeText(byAge map[string]int64) string {
	ages := make([]int, 0, len(byAge))
	for a := range byAge {
		if n, err := strconv.Atoi(a); err == nil {
			ages = append(ages, n)
		}
	}
	slices.Sort(ages)
	parts := make([]string, len(ages))
	for i, a := range ages {
		parts[i] = fmt.Sprintf("%d: %d", a, byAge[strconv.Itoa(a)])
	}
	return strings.Join(parts, ", ")
}
