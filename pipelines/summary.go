package pipelines

import (
	"fmt"
	"io"
	"log/slog"
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
	Kind     string // export, backfill, run
	From, To string // days asked for
	Started  time.Time
	Duration time.Duration

	Users        int
	SkippedUsers []string
	Messages     int64
	Units        int
	UnitsDone    int
	UnitsSkipped int // finished by an earlier run (backfill resume)
	UnitsFailed  []string

	Partitions int
	Files      int
	Bytes      int64

	OutsideWindow   int // messages the API sent outside the asked window (dropped: other windows own them)
	RepeatedDropped int // copies the API repeated across pages (dropped)
	Requeries       int // 1 ms queries made to settle identical messages split by a page boundary

	API extract.Stats // requests, retries by cause, 429s
}

func (s *Summary) userSkipped(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.SkippedUsers {
		if have == id {
			return
		}
	}
	s.SkippedUsers = append(s.SkippedUsers, id)
	sort.Strings(s.SkippedUsers)
}

func (s *Summary) addMessages(n int) {
	s.mu.Lock()
	s.Messages += int64(n)
	s.mu.Unlock()
}

func (s *Summary) addExactness(outside, repeated, requeries int) {
	s.mu.Lock()
	s.OutsideWindow += outside
	s.RepeatedDropped += repeated
	s.Requeries += requeries
	s.mu.Unlock()
}

func (s *Summary) addPublished(st load.PublishStats) {
	s.mu.Lock()
	s.Partitions += st.Days
	s.Files += st.Files
	s.Bytes += st.Bytes
	s.mu.Unlock()
}

func (s *Summary) unitDone(Unit) {
	s.mu.Lock()
	s.UnitsDone++
	s.mu.Unlock()
}

func (s *Summary) unitFailed(u Unit) {
	s.mu.Lock()
	s.UnitsFailed = append(s.UnitsFailed, u.String())
	sort.Strings(s.UnitsFailed)
	s.mu.Unlock()
}

func (s *Summary) snapshot() (messages int64, done int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Messages, s.UnitsDone
}

// RequestRate is the achieved API request rate over the run.
func (s *Summary) RequestRate() float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(s.API.Requests) / s.Duration.Seconds()
}

func retriesText(r map[string]int64) string {
	if len(r) == 0 {
		return "none"
	}
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

// WriteText prints the summary for a person.
func (s *Summary) WriteText(w io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "chatlake %s %s: days %s..%s\n", s.Kind, s.RunID, s.From, s.To)
	fmt.Fprintf(&b, "  users      %d (skipped as invalid: %d%s)\n", s.Users, len(s.SkippedUsers), listSuffix(s.SkippedUsers))
	fmt.Fprintf(&b, "  units      %d done, %d already done, %d failed of %d%s\n", s.UnitsDone, s.UnitsSkipped, len(s.UnitsFailed), s.Units, listSuffix(s.UnitsFailed))
	fmt.Fprintf(&b, "  messages   %d in %d partitions, %d files, %d bytes\n", s.Messages, s.Partitions, s.Files, s.Bytes)
	fmt.Fprintf(&b, "  requests   %d (%.1f/s), 429s %d, retries %s\n", s.API.Requests, s.RequestRate(), s.API.Throttled, retriesText(s.API.Retries))
	fmt.Fprintf(&b, "  exactness  %d outside the window, %d repeats dropped, %d 1-ms requeries\n", s.OutsideWindow, s.RepeatedDropped, s.Requeries)
	fmt.Fprintf(&b, "  duration   %s\n", s.Duration.Round(time.Millisecond))
	_, err := io.WriteString(w, b.String())
	return err
}

func listSuffix(items []string) string {
	if len(items) == 0 {
		return ""
	}
	const most = 10
	shown := items
	more := ""
	if len(items) > most {
		shown, more = items[:most], fmt.Sprintf(", +%d more", len(items)-most)
	}
	return ": " + strings.Join(shown, ", ") + more
}

// LogValue makes the summary one structured log record.
func (s *Summary) LogValue() slog.Value {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slog.GroupValue(
		slog.String("run_id", s.RunID), slog.String("kind", s.Kind),
		slog.String("from", s.From), slog.String("to", s.To),
		slog.Int("users", s.Users), slog.Any("skipped_users", s.SkippedUsers),
		slog.Int64("messages", s.Messages), slog.Int("units", s.Units), slog.Int("units_done", s.UnitsDone),
		slog.Int("units_already_done", s.UnitsSkipped), slog.Any("units_failed", s.UnitsFailed),
		slog.Int("partitions", s.Partitions), slog.Int("files", s.Files), slog.Int64("bytes", s.Bytes),
		slog.Int64("requests", s.API.Requests), slog.Int64("throttled_429", s.API.Throttled),
		slog.Any("retries", s.API.Retries), slog.Float64("request_rate", s.RequestRate()),
		slog.Int("outside_window", s.OutsideWindow), slog.Int("repeats_dropped", s.RepeatedDropped),
		slog.Int("requeries", s.Requeries), slog.Float64("duration_s", s.Duration.Seconds()),
	)
}
