package main

import (
	"strings"
	"testing"
)

// TestTextLogs: text logs that are not on a terminal (a cron job's log file) show INFO: the
// progress records, and on the rerun of a finished backfill the reason it did nothing, in a
// log line and in the summary.
func TestTextLogs(t *testing.T) {
	s := startSim(t, 3, 6, nil)
	t.Setenv(apiKeyEnv, s.opts.APIKey)
	lake := t.TempDir()
	args := s.exportArgs("backfill", lake, "--log-format", "text", "--progress-every", "1ms")
	code, _, stderr := runCmd(t, args...)
	if code != exitOK {
		t.Fatalf("backfill: exit %d\n%s", code, stderr)
	}
	for _, want := range [][]string{{"level=INFO msg=planned"}, {"level=INFO msg=progress", "phase=extracting"}, {"level=INFO msg=publishing"}} {
		if !hasLine(stderr, want...) {
			t.Errorf("the text log has no line with %q:\n%s", want, stderr)
		}
	}
	code, _, stderr = runCmd(t, args...)
	if code != exitOK {
		t.Fatalf("the rerun: exit %d\n%s", code, stderr)
	}
	const why = "backfill already complete: nothing to export"
	if !hasLine(stderr, "level=INFO msg=\""+why) {
		t.Errorf("the rerun's log does not say why it did nothing:\n%s", stderr)
	}
	if !strings.Contains(stderr, "  idle       "+why) {
		t.Errorf("the rerun's summary does not say why it did nothing:\n%s", stderr)
	}
}

// hasLine tells whether a line of text holds every one of parts.
func hasLine(text string, parts ...string) bool {
	for _, l := range strings.Split(text, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			return true
		}
	}
	return false
}
