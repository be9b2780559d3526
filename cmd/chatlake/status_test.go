package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
