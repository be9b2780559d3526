package pipelines

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/load"
)

// Summary is what a run did. It is safe for concurrent updates while the run goes on.
type Summary struct {
	mu sync.Mutex

	RunID    string
	Kind     string // export, backfill, run, publish, forget
	Plan     string // the run plan's id
	Shard    string // "i/n" of a sharded run, else ""
	From, To string // days asked for
	Started  time.Time
	Duration time.Duration

	Users           int      // users of the plan (listed by its planner)
	Resumed         bool     // the plan existed: an earlier process planned it
	AlreadyComplete bool     // a finished backfill: nothing to do
	Idle            string   // why the run had nothing to do (a finished backfill, no day due); "" when it worked
	Batches         int      // batches of the plan
	BatchesMine     int      // batches of this shard
	BatchesDone     int      // finished by this process
	BatchesSkipped  int      // of this shard, finished before (a resumed run)
	BatchesWaiting  int      // of other shards, unfinished when this process ended
	UsersToDo       int      // users of this process's unfinished batches
	UsersDone       int      // users exported by this process
	SkippedUsers    []string // the API called their id invalid (1002): their rows stay
	FailedUsers     []string // failed in this process's batches
	NotStarted      int      // of FailedUsers, not started: the API had stopped answering
	OwedUsers       []string // failed in the plan (any shard): owed, named by the exit
	OwedTotal       int      // users the lake owes after the run
	Messages        int64    // rows this process staged
	Warnings        []string

	Published  bool  // the plan's partitions were published (by this process)
	Partitions int   // partitions written
	Files      int   // files written
	Bytes      int64 // Parquet bytes written
	RowsIn     int64 // staged rows published
	RowsOut    int64 // old rows of replaced users removed

	ForgottenMessages int64
	ForgottenUsers    int64

	// LateMessages are the messages this run found in days the lake had exported before and
	// did not have then: they arrived after that export. LateByAge counts them by their age
	// when found, in days from their UTC day to the run's day.
	LateMessages int64
	LateByAge    map[int]int64

	OutsideWindow   int // messages the API sent outside the asked window (dropped: not asked for)
	RepeatedDropped int // copies the API repeated across pages (dropped)
	Requeries       int // 1 ms queries made to settle identical messages split by a page boundary

	API extract.Stats // requests, retries by cause, 429s

	// How the run ended, set by the command (SetOutcome): "ok", "failed", "interrupted",
	// "bad_input", "locked"; the process's exit code; the one-line reason when it failed.
	Outcome  string
	ExitCode int
	Error    string
	// Resume says how to resume a run that did not finish (set by the command: the command
	// line to run again); Bot names a multi-bot run's bot ("1 (KEY)").
	Resume string
	Bot    string

	live func() extract.Stats // the client's counters while the run goes on (progress)
}

// liveStats are the API client's counters now.
func (s *Summary) liveStats() extract.Stats {
	if s.live == nil {
		return extract.Stats{}
	}
	return s.live()
}

// SetOutcome records how the run ended: its outcome's name, the process's exit code and the
// error (nil when it succeeded).
func (s *Summary) SetOutcome(outcome string, exitCode int, err error) {
	s.with(func() {
		s.Outcome, s.ExitCode, s.Error = outcome, exitCode, ""
		if err != nil {
			s.Error = err.Error()
		}
	})
}

// SetResume records how to resume the run.
func (s *Summary) SetResume(how string) { s.with(func() { s.Resume = how }) }

// SetBot records the bot of a multi-bot run.
func (s *Summary) SetBot(bot string) { s.with(func() { s.Bot = bot }) }

func (p *Pipeline) newSummary(kind, from, to string) *Summary {
	return &Summary{RunID: p.o.RunID, Kind: kind, From: from, To: to, Shard: p.shard(), Started: time.Now(), live: p.liveStats}
}

func (s *Summary) with(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn()
}

func (s *Summary) setUsers(n int, resumed bool) { s.with(func() { s.Users, s.Resumed = n, resumed }) }

// The reasons a run has nothing to do (Summary.Idle), logged and printed in its summary.
const (
	idleBackfillDone = "backfill already complete: nothing to export (--restart does it again)"
	idleNoDayDue     = "nothing to export: no closed day after the watermark and no lookback"
	// idleNothingToPublish: publish found no run with all its batches done.
	idleNothingToPublish = "nothing to publish: no unfinished run of the lake has all its batches done"
)

// setIdle records why the run has nothing to do.
func (s *Summary) setIdle(reason string) {
	s.with(func() { s.Idle, s.AlreadyComplete = reason, reason == idleBackfillDone })
}
func (s *Summary) setWaiting(n int) { s.with(func() { s.BatchesWaiting = n }) }
func (s *Summary) warn(msg string)  { s.with(func() { s.Warnings = append(s.Warnings, msg) }) }

func (s *Summary) setBatches(total, mine, skipped, users int) {
	s.with(func() { s.Batches, s.BatchesMine, s.BatchesSkipped, s.UsersToDo = total, mine, skipped, users })
}

func (s *Summary) userDone(n int) {
	s.with(func() {
		s.UsersDone++
		s.Messages += int64(n)
	})
}

func addSorted(list []string, id string) []string {
	if i, found := slices.BinarySearch(list, id); !found {
		list = slices.Insert(list, i, id)
	}
	return list
}

func (s *Summary) userSkipped(id string) {
	s.with(func() { s.UsersDone++; s.SkippedUsers = addSorted(s.SkippedUsers, id) })
}

func (s *Summary) userFailed(id string) {
	s.with(func() { s.UsersDone++; s.FailedUsers = addSorted(s.FailedUsers, id) })
}

// userNotStarted counts a user not started because the API stopped answering, and tells
// whether it was the first.
func (s *Summary) userNotStarted() (first bool) {
	s.with(func() { s.NotStarted++; first = s.NotStarted == 1 })
	return first
}

func (s *Summary) setOwed(ids []string) {
	s.with(func() {
		s.OwedUsers = slices.Compact(slices.Sorted(slices.Values(ids)))
	})
}

func (s *Summary) addExactness(outside, repeated, requeries int) {
	s.with(func() {
		s.OutsideWindow += outside
		s.RepeatedDropped += repeated
		s.Requeries += requeries
	})
}

func (s *Summary) batchDone(load.BatchStats) { s.with(func() { s.BatchesDone++ }) }

func (s *Summary) addPublished(st load.PublishStats) {
	s.with(func() {
		s.Partitions += st.Days
		s.Files += st.Files
		s.Bytes += st.Bytes
		s.RowsIn += st.Staged
		s.RowsOut += st.Replaced
	})
}

func (s *Summary) addLate(age int, n int64) {
	if n == 0 {
		return
	}
	s.with(func() {
		if s.LateByAge == nil {
			s.LateByAge = map[int]int64{}
		}
		s.LateByAge[age] += n
		s.LateMessages += n
	})
}

// lateByAgeText is LateByAge as "AGE: N" pairs in age order.
func (s *Summary) lateByAgeText() string {
	ages := make([]int, 0, len(s.LateByAge))
	for a := range s.LateByAge {
		ages = append(ages, a)
	}
	sort.Ints(ages)
	parts := make([]string, len(ages))
	for i, a := range ages {
		parts[i] = fmt.Sprintf("%dd: %d", a, s.LateByAge[a])
	}
	return strings.Join(parts, ", ")
}

// lateByAgeJSON is LateByAge with the ages as strings (JSON object keys).
func (s *Summary) lateByAgeJSON() map[string]int64 {
	out := make(map[string]int64, len(s.LateByAge))
	for a, n := range s.LateByAge {
		out[fmt.Sprint(a)] = n
	}
	return out
}

func (s *Summary) markPublished(owedTotal int) {
	s.with(func() { s.Published, s.OwedTotal = true, owedTotal })
}

// runMessages are the run's messages, for its record in the state: once published, the
// plan's staged rows, which every shard and every earlier process of the run staged (a
// sharded run is recorded by the shard that publishes it); before, this process's.
func (s *Summary) runMessages() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Published && s.Kind != "forget" {
		return s.RowsIn
	}
	return s.Messages
}

func (s *Summary) isPublished() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Published
}

func (s *Summary) setForgotten(ms, us load.ForgetStats) {
	s.with(func() {
		s.ForgottenMessages, s.ForgottenUsers = ms.Messages, us.UsersRows
		s.Partitions, s.Files = ms.Partitions, ms.FilesMerged
	})
}

// progressSnapshot is what progress reports read.
type progressSnapshot struct {
	usersDone, usersToDo, batchesDone, batches int
	messages                                   int64
}

func (s *Summary) snapshot() progressSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return progressSnapshot{usersDone: s.UsersDone, usersToDo: s.UsersToDo, batchesDone: s.BatchesDone,
		batches: s.BatchesMine - s.BatchesSkipped, messages: s.Messages}
}

// RequestRate is the achieved API request rate over the run.
func (s *Summary) RequestRate() float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(s.API.Requests) / s.Duration.Seconds()
}

func retriesText(r map[string]int64) string {
	causes := make([]string, 0, len(r))
	for c, n := range r {
		if n > 0 {
			causes = append(causes, c)
		}
	}
	if len(causes) == 0 {
		return "none"
	}
	sort.Strings(causes)
	parts := make([]string, 0, len(causes))
	for _, c := range causes {
		parts = append(parts, fmt.Sprintf("%s=%d", c, r[c]))
	}
	return strings.Join(parts, " ")
}

// WriteText prints the summary for a person: what the command did (an export's users,
// batches and requests; what publish published; what forget erased), its warnings, duration
// and outcome, and how to resume it.
func (s *Summary) WriteText(w io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	switch s.Kind {
	case "publish":
		s.writePublish(&b)
	case "forget":
		s.writeForget(&b)
	default:
		s.writeRun(&b)
	}
	for _, w := range s.Warnings {
		fmt.Fprintf(&b, "  warning    %s\n", w)
	}
	fmt.Fprintf(&b, "  duration   %s\n", s.Duration.Round(time.Millisecond))
	if s.Outcome != "" {
		fmt.Fprintf(&b, "  outcome    %s (exit %d)\n", s.Outcome, s.ExitCode)
	}
	if s.Resume != "" {
		fmt.Fprintf(&b, "  resume     %s\n", s.Resume)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writePublish is publish's summary: the run it published, or why there was none.
func (s *Summary) writePublish(b *strings.Builder) {
	fmt.Fprintf(b, "chatlake publish %s\n", s.RunID)
	if s.Idle != "" {
		fmt.Fprintf(b, "  idle       %s\n", s.Idle)
	}
	if s.Published {
		fmt.Fprintf(b, "  published  plan %s, days %s..%s: %d partitions, %d files, %d bytes; %d staged rows in, %d replaced rows out; %d users owed\n",
			s.Plan, s.From, s.To, s.Partitions, s.Files, s.Bytes, s.RowsIn, s.RowsOut, s.OwedTotal)
	}
	if s.BatchesWaiting > 0 {
		fmt.Fprintf(b, "  waiting    %d batches of unfinished runs are still to do; the shard that finishes the last one publishes its run\n", s.BatchesWaiting)
	}
	if s.LateMessages > 0 {
		fmt.Fprintf(b, "  late       %d messages new in days exported before (by age: %s)\n", s.LateMessages, s.lateByAgeText())
	}
}

// writeForget is forget's summary: what it erased.
func (s *Summary) writeForget(b *strings.Builder) {
	fmt.Fprintf(b, "chatlake forget %s: %d user(s)\n", s.RunID, s.Users)
	if s.Published {
		fmt.Fprintf(b, "  forgotten  %d message rows in %d partitions (%d files rewritten), %d users rows; %d users owed\n",
			s.ForgottenMessages, s.Partitions, s.Files, s.ForgottenUsers, s.OwedTotal)
	} else {
		fmt.Fprintf(b, "  forgotten  nothing: the erasure did not finish\n")
	}
}

// writeRun is the summary of an export, backfill or nightly run.
func (s *Summary) writeRun(b *strings.Builder) {
	fmt.Fprintf(b, "chatlake %s %s: days %s..%s, plan %s\n", s.Kind, s.RunID, s.From, s.To, s.Plan)
	if s.Bot != "" {
		fmt.Fprintf(b, "  bot        %s\n", s.Bot)
	}
	if s.Shard != "" {
		fmt.Fprintf(b, "  shard      %s\n", s.Shard)
	}
	if s.Idle != "" {
		fmt.Fprintf(b, "  idle       %s\n", s.Idle)
	}
	fmt.Fprintf(b, "  users      %d; this process: %d exported, %d failed (owed)%s, %d skipped as invalid%s\n", s.Users,
		s.UsersDone-len(s.FailedUsers)-len(s.SkippedUsers), len(s.FailedUsers), listSuffix(s.FailedUsers), len(s.SkippedUsers), listSuffix(s.SkippedUsers))
	if s.NotStarted > 0 {
		fmt.Fprintf(b, "  stalled    %d of the failed users not started: the API had stopped answering\n", s.NotStarted)
	}
	fmt.Fprintf(b, "  batches    %d of the plan; this process: %d done, %d done before; %d of other shards unfinished\n",
		s.Batches, s.BatchesDone, s.BatchesSkipped, s.BatchesWaiting)
	fmt.Fprintf(b, "  messages   %d extracted by this process\n", s.Messages)
	if s.Published {
		fmt.Fprintf(b, "  published  %d partitions, %d files, %d bytes; %d staged rows in, %d replaced rows out; %d users owed\n",
			s.Partitions, s.Files, s.Bytes, s.RowsIn, s.RowsOut, s.OwedTotal)
	}
	if s.LateMessages > 0 {
		fmt.Fprintf(b, "  late       %d messages new in days exported before (by age: %s)\n", s.LateMessages, s.lateByAgeText())
	}
	if s.ForgottenMessages > 0 || s.ForgottenUsers > 0 {
		fmt.Fprintf(b, "  forgotten  %d message rows, %d users rows\n", s.ForgottenMessages, s.ForgottenUsers)
	}
	fmt.Fprintf(b, "  requests   %d (%.1f/s), 429s %d, retries %s\n", s.API.Requests, s.RequestRate(), s.API.Throttled, retriesText(s.API.Retries))
	fmt.Fprintf(b, "  exactness  %d outside the window, %d repeats dropped, %d 1-ms requeries\n", s.OutsideWindow, s.RepeatedDropped, s.Requeries)
}

func listSuffix(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return ": " + listText(items)
}

// listText names at most ten items.
func listText(items []string) string {
	const most = 10
	shown := items
	more := ""
	if len(items) > most {
		shown, more = items[:most], fmt.Sprintf(", +%d more", len(items)-most)
	}
	return strings.Join(shown, ", ") + more
}

// LogValue makes the summary one structured log record.
func (s *Summary) LogValue() slog.Value {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slog.GroupValue(
		slog.String("outcome", s.Outcome), slog.Int("exit_code", s.ExitCode), slog.String("error", s.Error),
		slog.Int64("messages_published", s.RowsIn), slog.Int("users_owed", len(s.OwedUsers)),
		slog.String("resume", s.Resume), slog.String("bot", s.Bot),
		slog.String("run_id", s.RunID), slog.String("kind", s.Kind), slog.String("plan", s.Plan),
		slog.String("shard", s.Shard), slog.String("from", s.From), slog.String("to", s.To),
		slog.Int("users", s.Users), slog.Bool("resumed", s.Resumed), slog.String("idle", s.Idle),
		slog.Int("batches", s.Batches), slog.Int("batches_done", s.BatchesDone),
		slog.Int("batches_done_before", s.BatchesSkipped), slog.Int("batches_waiting", s.BatchesWaiting),
		slog.Any("skipped_users", s.SkippedUsers), slog.Any("failed_users", s.FailedUsers), slog.Int("users_not_started", s.NotStarted),
		slog.Any("owed_users", s.OwedUsers), slog.Int("users_owed_total", s.OwedTotal),
		slog.Int64("messages", s.Messages), slog.Bool("published", s.Published),
		slog.Int("partitions", s.Partitions), slog.Int("files", s.Files), slog.Int64("bytes", s.Bytes),
		slog.Int64("rows_in", s.RowsIn), slog.Int64("rows_out", s.RowsOut),
		slog.Int64("late_messages", s.LateMessages), slog.Any("late_messages_by_age_days", s.lateByAgeJSON()),
		slog.Int64("forgotten_messages", s.ForgottenMessages), slog.Int64("forgotten_users_rows", s.ForgottenUsers),
		slog.Int64("requests", s.API.Requests), slog.Int64("throttled_429", s.API.Throttled),
		slog.Any("retries", s.API.Retries), slog.Float64("request_rate", s.RequestRate()),
		slog.Int64("page_confirmations", s.API.Confirmations), slog.Int("page_size_seen", s.API.PageSize),
		slog.Int("outside_window", s.OutsideWindow), slog.Int("repeats_dropped", s.RepeatedDropped),
		slog.Int("requeries", s.Requeries), slog.Any("warnings", s.Warnings),
		slog.Float64("duration_s", s.Duration.Seconds()),
	)
}
