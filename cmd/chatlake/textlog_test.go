package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
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

// TestFailedSummaryOnce: a run that did not finish prints its summary once (text: the block,
// no key=value record; JSON: the record), and the summary says how to resume it: the same
// command, given back exactly, and status.
func TestFailedSummaryOnce(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			s := startSim(t, 3, 6, nil)
			t.Setenv(apiKeyEnv, s.opts.APIKey)
			lake := filepath.Join(t.TempDir(), "my lake")
			args := replaceFlag(t, s.exportArgs("backfill", lake, "--log-format", format, "--max-attempts", "1"), "--api-url", failingUser(t, s, s.UserIDs(nil)[0]))
			code, _, stderr := runCmd(t, args...)
			if code != exitFailed {
				t.Fatalf("exit %d, want 1\n%s", code, stderr)
			}
			again := commandLine(args[0], args[1:])
			if !strings.Contains(again, "'"+lake+"'") {
				t.Fatalf("the command to run again does not quote the lake's path: %s", again)
			}
			status := "chatlake status --lake '" + lake + "'"
			switch format {
			case "text":
				if n := strings.Count("\n"+stderr, "\nchatlake backfill "); n != 1 {
					t.Errorf("%d summaries, want 1:\n%s", n, stderr)
				}
				if hasLine(stderr, "msg=summary") {
					t.Errorf("a key=value summary record beside the text one:\n%s", stderr)
				}
				if !hasLine(stderr, "  resume     ", again, status) {
					t.Errorf("the summary does not say how to resume (%s):\n%s", again, stderr)
				}
			case "json":
				sum, _, _ := summaryOf(t, jsonRecords(t, stderr))
				if r, _ := sum["resume"].(string); !strings.Contains(r, again) || !strings.Contains(r, status) {
					t.Errorf("the summary's resume is %q, want the command %s and %s", r, again, status)
				}
				if strings.Contains("\n"+stderr, "\nchatlake backfill ") || strings.Count(stderr, `"msg":"summary"`) != 1 {
					t.Errorf("want one summary record and no text summary:\n%s", stderr)
				}
			}
			// The same command resumes: it pays the user owed once the API answers.
			args = replaceFlag(t, args, "--api-url", s.url)
			if code, _, stderr := runCmd(t, args...); code != exitOK {
				t.Fatalf("the same command again: exit %d\n%s", code, stderr)
			}
		})
	}
}

// failingUser serves s but answers every conversations request of user with a 503; it returns
// its URL.
func failingUser(t *testing.T, s *testSim, user string) string {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/channel-user/"+user+"/") {
			http.Error(w, "<html>down</html>", http.StatusServiceUnavailable)
			return
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	return proxy.URL
}
