package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatlake/chatlake/sim"
)

// TestLateMessagesReported: messages that arrive after their day was exported are counted by
// the next export of that day, in its summary record (late_messages and by age), in the run
// record that status prints, and in the metrics file.
func TestLateMessagesReported(t *testing.T) {
	var now atomic.Int64
	first := time.Date(2024, 5, 8, 2, 0, 0, 0, time.UTC)
	now.Store(first.UnixMilli())
	s := startSim(t, 41, 30, func(o *sim.Options) {
		o.Clock = func() time.Time { return time.UnixMilli(now.Load()).UTC() }
	})
	lake := filepath.Join(t.TempDir(), "lake")
	metricsFile := filepath.Join(t.TempDir(), "chatlake.prom")
	args := s.exportArgs("export", lake, "--log-format", "json", "--metrics-file", metricsFile)
	t.Setenv(apiKeyEnv, s.opts.APIKey)
	if code, _, stderr := runCmd(t, args...); code != exitOK {
		t.Fatalf("first export exits %d: %s", code, lastLine(stderr))
	}
	later := first.AddDate(0, 0, 20)
	now.Store(later.UnixMilli())
	want := 0
	for _, m := range s.Truth(nil, s.opts.From, s.opts.From.AddDate(0, 0, 7), later) {
		if m.ArrivesAt.After(first) {
			want++
		}
	}
	if want == 0 {
		t.Fatal("no message arrives after the first export: the case is not exercised")
	}
	code, _, stderr := runCmd(t, args...)
	if code != exitOK {
		t.Fatalf("second export exits %d: %s", code, lastLine(stderr))
	}
	sum, _, _ := summaryOf(t, jsonRecords(t, stderr))
	if got, _ := sum["late_messages"].(float64); int(got) != want {
		t.Fatalf("summary late_messages %v, want %d (summary %v)", sum["late_messages"], want, sum)
	}
	// The age is counted from a message's day to the day of the run (the real clock's).
	today := time.Now().UTC().Truncate(24 * time.Hour)
	oldest := int(today.Sub(s.opts.From).Hours() / 24)
	byAge, _ := sum["late_messages_by_age_days"].(map[string]any)
	total := 0
	for age, n := range byAge {
		if a, err := strconv.Atoi(age); err != nil || a < oldest-6 || a > oldest {
			t.Errorf("late messages of age %q days: the exported days are %d to %d days old", age, oldest-6, oldest)
		}
		f, _ := n.(float64)
		total += int(f)
	}
	if total != want {
		t.Fatalf("late_messages_by_age_days %v adds up to %d, want %d", byAge, total, want)
	}
	code, out, stderr := runCmd(t, "status", "--lake", lake)
	if code != exitOK {
		t.Fatalf("status exits %d: %s", code, lastLine(stderr))
	}
	if !strings.Contains(out, "late: "+strconv.Itoa(want)+" messages") {
		t.Fatalf("status does not show the %d late messages:\n%s", want, out)
	}
	prom, err := os.ReadFile(metricsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^chatlake_last_run_late_messages(\{[^}]*\})? ` + strconv.Itoa(want) + `$`).Match(prom) {
		t.Fatalf("the metrics file has no chatlake_last_run_late_messages %d:\n%s", want, prom)
	}
}
