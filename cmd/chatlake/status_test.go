package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatlake/chatlake/internal/lakecheck"
)

// TestStatusAndVerify: after a nightly run, status shows the watermark, the last run and the
// days; verify passes; after a file is deleted verify names it and exits 1.
func TestStatusAndVerify(t *testing.T) {
	s := startSim(t, 6, 8, nil)
	t.Setenv(apiKeyEnv, s.opts.APIKey)
	lake := t.TempDir()
	code, _, stderr := runCmd(t, s.exportArgs("run", lake, "--from", "2024-05-01", "--log-format", "json")...)
	if code != exitOK {
		t.Fatalf("run exits %d: %s", code, lastLine(stderr))
	}
	code, out, _ := runCmd(t, "status", "--lake", lake, "--json")
	if code != exitOK {
		t.Fatalf("status exits %d", code)
	}
	var st statusReport
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, out)
	}
	// The real clock is far past the simulator's range: every day up to yesterday is closed,
	// so the watermark is a recent day and the days start at --from.
	if st.Watermark < "2024-05-07" || len(st.Days) == 0 || st.Days[0] != "2024-05-01" {
		t.Fatalf("status: watermark %q, days %v", st.Watermark, st.Days[:min(3, len(st.Days))])
	}
	if st.LastRun == nil || st.LastRun.Outcome != "ok" || st.LastRun.Kind != "run" || st.Lock != nil {
		t.Fatalf("status: last run %+v, lock %+v", st.LastRun, st.Lock)
	}
	code, text, _ := runCmd(t, "status", "--lake", lake)
	if code != exitOK || !strings.Contains(text, "watermark  "+st.Watermark) || !strings.Contains(text, "lock       free") {
		t.Fatalf("status text:\n%s", text)
	}

	if code, out, _ := runCmd(t, "verify", "--lake", lake, "--from", "2024-05-01", "--to", "2024-05-07"); code != exitOK {
		t.Fatalf("verify exits %d:\n%s", code, out)
	}
	files, _ := filepath.Glob(filepath.Join(lake, "messages", "dt=2024-05-03", "*.parquet"))
	if len(files) == 0 {
		t.Fatal("no file for 2024-05-03")
	}
	if err := os.Remove(files[0]); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = runCmd(t, "verify", "--lake", lake, "--from", "2024-05-01", "--to", "2024-05-07")
	if code != exitFailed || !strings.Contains(out, filepath.Base(files[0])) || !strings.Contains(lastLine(stderr), "problem") {
		t.Fatalf("verify after deleting %s: exit %d\n%s\n%s", files[0], code, out, stderr)
	}
}

// TestOwedUserShownByStatus: a user whose requests fail every attempt makes the export exit 1
// naming it; status shows it as owed; the next export, with the fault gone, completes the lake.
func TestOwedUserShownByStatus(t *testing.T) {
	s := startSim(t, 7, 12, nil)
	victim := s.UserIDs(nil)[3]
	var failing atomic.Bool
	failing.Store(true)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() && strings.Contains(r.URL.EscapedPath(), "/channel-user/"+url.PathEscape(victim)+"/") {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	t.Setenv(apiKeyEnv, s.opts.APIKey)
	lake := t.TempDir()
	args := replaceFlag(t, s.exportArgs("export", lake, "--max-attempts", "2", "--log-format", "json"), "--api-url", proxy.URL)
	code, _, stderr := runCmd(t, args...)
	if code != exitFailed || !strings.Contains(lastLine(stderr), victim) {
		t.Fatalf("exit %d, %q: want 1 naming %s", code, lastLine(stderr), victim)
	}
	code, text, _ := runCmd(t, "status", "--lake", lake)
	if code != exitOK || !strings.Contains(text, "owed       1 user(s)") || !strings.Contains(text, victim+": 2024-05-01..2024-05-07") {
		t.Fatalf("status exit %d:\n%s", code, text)
	}
	failing.Store(false)
	if code, _, stderr := runCmd(t, args...); code != exitOK {
		t.Fatalf("the export after the fault exits %d: %s", code, lastLine(stderr))
	}
	rows, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(t), lake)
	if err != nil {
		t.Fatal(err)
	}
	if diff := lakecheck.Compare(rows, s.Truth(nil, s.opts.From, s.opts.To, s.opts.To.AddDate(1, 0, 0))); diff != "" {
		t.Fatal(diff)
	}
	if _, text, _ := runCmd(t, "status", "--lake", lake); strings.Contains(text, "owed ") {
		t.Fatalf("still owed after the fault went:\n%s", text)
	}
}
