package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatlake/chatlake/load"
)

// statusJSON runs status --json with extra flags and decodes its report.
func statusJSON(t *testing.T, lake string, extra ...string) (int, statusReport, string) {
	t.Helper()
	code, out, stderr := runCmd(t, append([]string{"status", "--lake", lake, "--json"}, extra...)...)
	var rep statusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status --json exits %d and prints no JSON (%v):\n%s\n%s", code, err, out, stderr)
	}
	return code, rep, stderr
}

// TestStatusMaxLag: status --max-lag exits 4 (stale) when the newest fully exported day ended
// longer ago than that, 0 when it did not, and a day with an owed user is not fully exported.
func TestStatusMaxLag(t *testing.T) {
	s := startSim(t, 4, 6, nil)
	t.Setenv(apiKeyEnv, s.opts.APIKey)
	// An export of 2024-05-01..07: the newest fully exported day is 2024-05-07, years ago.
	old := t.TempDir()
	if code, _, stderr := runCmd(t, s.exportArgs("export", old, "--log-format", "json")...); code != exitOK {
		t.Fatalf("export exits %d: %s", code, lastLine(stderr))
	}
	// A nightly run up to the last closed day: fresh at 36h (the recommended alert).
	fresh := t.TempDir()
	if code, _, stderr := runCmd(t, s.exportArgs("run", fresh, "--from", "2024-05-01", "--log-format", "json")...); code != exitOK {
		t.Fatalf("run exits %d: %s", code, lastLine(stderr))
	}
	// A user that fails every attempt is owed 2024-05-01..07: no day of the lake is complete.
	bad := s.UserIDs(nil)[1]
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/channel-user/"+bad+"/") {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	owed := t.TempDir()
	args := replaceFlag(t, s.exportArgs("export", owed, "--log-format", "json", "--max-attempts", "1"), "--api-url", proxy.URL)
	if code, _, stderr := runCmd(t, args...); code != exitFailed {
		t.Fatalf("export with a failing user exits %d: %s", code, lastLine(stderr))
	}
	years := "3650d" // longer than the time since 2024-05-07, for a test run before 2034
	for _, c := range []struct {
		name, lake, maxLag string
		code               int
		newest             string
	}{
		{"old lake, --max-lag 2d", old, "2d", exitStale, "2024-05-07"},
		{"old lake, --max-lag 3650d", old, years, exitOK, "2024-05-07"},
		{"old lake, no --max-lag", old, "", exitOK, "2024-05-07"},
		{"nightly lake, --max-lag 36h", fresh, "36h", exitOK, ""},
		{"owed user, --max-lag 3650d", owed, years, exitStale, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var extra []string
			if c.maxLag != "" {
				extra = []string{"--max-lag", c.maxLag}
			}
			code, rep, stderr := statusJSON(t, c.lake, extra...)
			if code != c.code || rep.Fresh == nil || rep.Fresh.Stale != (c.code == exitStale) {
				t.Fatalf("exit %d, freshness %+v; want exit %d\n%s", code, rep.Fresh, c.code, stderr)
			}
			if c.newest != "" && rep.Fresh.NewestComplete != c.newest {
				t.Errorf("newest fully exported day %q, want %q", rep.Fresh.NewestComplete, c.newest)
			}
			if c.lake == owed && rep.Fresh.NewestComplete != "" {
				t.Errorf("with a user owed over every day, the newest fully exported day is %q", rep.Fresh.NewestComplete)
			}
			if c.lake == fresh && (rep.Fresh.NewestComplete != rep.Watermark || rep.Fresh.LagSeconds > 36*3600) {
				t.Errorf("nightly lake: freshness %+v, watermark %s", rep.Fresh, rep.Watermark)
			}
			if code == exitStale && !strings.Contains(lastLine(stderr), "--max-lag") {
				t.Errorf("the stale exit's reason %q does not name --max-lag", lastLine(stderr))
			}
		})
	}
	if code, text, _ := runCmd(t, "status", "--lake", old, "--max-lag", "2d"); code != exitStale || !strings.Contains(text, "STALE") {
		t.Errorf("status text of a stale lake: exit %d\n%s", code, text)
	}
}

// TestStatusDeadLockHolders: status flags a holder whose lease ended and a holder of this host
// whose process is gone, and says the next run takes the lock over.
func TestStatusDeadLockHolders(t *testing.T) {
	s := startSim(t, 4, 3, nil)
	t.Setenv(apiKeyEnv, s.opts.APIKey)
	lake := t.TempDir()
	if code, _, stderr := runCmd(t, s.exportArgs("export", lake, "--log-format", "json")...); code != exitOK {
		t.Fatalf("export exits %d: %s", code, lastLine(stderr))
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	now := time.Now()
	rec := load.LockRecord{Plan: "p1", Kind: "backfill", Holders: []load.LockHolder{
		{RunID: "expired-run", Host: "elsewhere", PID: 1, Shard: "0/2", Acquired: now.Add(-time.Hour), Expires: now.Add(-time.Minute)},
		{RunID: "gone-run", Host: host, PID: gone.Process.Pid, Shard: "1/2", Acquired: now, Expires: now.Add(time.Hour)},
	}}
	data, _ := json.Marshal(rec)
	if err := os.WriteFile(filepath.Join(lake, filepath.FromSlash(load.LockPath)), data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, rep, _ := statusJSON(t, lake)
	if !rep.LockExpired || len(rep.DeadHolders) != 2 || !strings.Contains(rep.DeadHolders[0].Reason, "lease expired") ||
		!strings.Contains(rep.DeadHolders[1].Reason, "is gone from this host") {
		t.Fatalf("status: lock expired %v, dead holders %+v", rep.LockExpired, rep.DeadHolders)
	}
	_, text, _ := runCmd(t, "status", "--lake", lake)
	if !strings.Contains(text, "lock       DEAD") || !strings.Contains(text, "run expired-run on elsewhere pid 1 shard 0/2 DEAD: lease expired") ||
		!strings.Contains(text, "run gone-run on "+host) {
		t.Fatalf("status text:\n%s", text)
	}
	// One live holder (this process) keeps the lock held; the dead one is still flagged.
	rec.Holders[1].PID = os.Getpid()
	data, _ = json.Marshal(rec)
	if err := os.WriteFile(filepath.Join(lake, filepath.FromSlash(load.LockPath)), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, rep, _ := statusJSON(t, lake); rep.LockExpired || len(rep.DeadHolders) != 1 || rep.DeadHolders[0].RunID != "expired-run" {
		t.Fatalf("with a live holder: lock expired %v, dead holders %+v", rep.LockExpired, rep.DeadHolders)
	}
}

func TestAgeText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		26*time.Hour + 5*time.Minute + 20*time.Second: "26h5m",
		90 * time.Second: "2m",
		940*24*time.Hour + 3*time.Hour + time.Minute: "940d3h",
		48 * time.Hour: "2d0h",
	} {
		if got := ageText(d); got != want {
			t.Errorf("ageText(%s) = %q, want %q", d, got, want)
		}
	}
}
