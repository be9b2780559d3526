package main

import (
	"strings"
	"testing"
)

// TestCommandSummaries: publish and forget print summaries of their own (what they published,
// what they erased), not an export's (users, batches, requests, exactness).
func TestCommandSummaries(t *testing.T) {
	s := startSim(t, 3, 6, nil)
	t.Setenv(apiKeyEnv, s.opts.APIKey)
	lake := t.TempDir()
	if code, _, stderr := runCmd(t, s.exportArgs("export", lake, "--log-format", "text")...); code != exitOK {
		t.Fatalf("export: exit %d\n%s", code, stderr)
	}
	exportLines := []string{"  users      ", "  batches    ", "  requests   ", "  exactness  "}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"publish", []string{"publish", "--lake", lake, "--log-format", "text"},
			[]string{"\nchatlake publish ", "\n  idle       nothing to publish", "\n  outcome    ok (exit 0)"}},
		{"forget", []string{"forget", "--lake", lake, "--log-format", "text", "--user", s.UserIDs(nil)[0], "--user", s.UserIDs(nil)[1]},
			[]string{"\nchatlake forget ", ": 2 user(s)\n", "\n  forgotten  ", " message rows in ", "users rows; 0 users owed", "\n  outcome    ok (exit 0)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, tc.args...)
			if code != exitOK {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			text := "\n" + stderr
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("the summary lacks %q:\n%s", w, stderr)
				}
			}
			for _, l := range exportLines {
				if strings.Contains(stderr, l) {
					t.Errorf("an export's line %q in %s's summary:\n%s", l, tc.name, stderr)
				}
			}
		})
	}
}
