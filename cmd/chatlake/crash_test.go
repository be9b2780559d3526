package main

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
	"github.com/chatlake/chatlake/pipelines"
	"github.com/chatlake/chatlake/sim"
)

// crashLake is a lake a child process writes to, and a way to read it back with DuckDB.
type crashLake struct {
	url string
	env []string
	// dir returns a local directory holding the lake as it is now.
	dir func(t *testing.T) string
}

func localCrashLake(t *testing.T) crashLake {
	dir := t.TempDir()
	return crashLake{url: dir, dir: func(*testing.T) string { return dir }}
}

func gcsCrashLake(t *testing.T) crashLake {
	host, client := storagetest.StartFakeGCS(t, "lake")
	store := storage.NewGCS(client, "lake", "analytics/chat")
	return crashLake{
		url: "gs://lake/analytics/chat",
		env: []string{"STORAGE_EMULATOR_HOST=" + host},
		dir: func(t *testing.T) string {
			dir := t.TempDir()
			if err := lakecheck.Download(context.Background(), store, dir); err != nil {
				t.Fatal(err)
			}
			return dir
		},
	}
}

// runChild runs chatlake to completion and returns its exit code and stderr.
func runChild(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := child(ctx, env, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stderr.String()
	default:
		t.Fatal(err)
		return -1, ""
	}
}

// killAfter starts chatlake and kills it with SIGKILL after d. It reports whether the child
// was still running when killed.
func killAfter(t *testing.T, env []string, d time.Duration, args ...string) bool {
	t.Helper()
	cmd := child(context.Background(), env, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return false
	case <-time.After(d):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return true
	}
}

// checkReadable: a DuckDB read of the glob succeeds, finds no duplicate key and no row outside
// its dt, and finds only messages of the truth.
func checkReadable(t *testing.T, dir string, truth []sim.Message) int {
	t.Helper()
	rows, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(t), dir)
	if err != nil {
		if strings.Contains(err.Error(), "No files found") {
			return 0
		}
		t.Fatalf("DuckDB cannot read the lake after a kill: %v", err)
	}
	want := map[string]int{}
	for _, m := range truth {
		want[m.ChannelUserID+"|"+m.SentAt.Format(time.RFC3339Nano)+"|"+m.Sender+"|"+m.MessageType+"|"+m.Text]++
	}
	keys := map[string]bool{}
	for _, r := range rows {
		if keys[r.MessageKey] {
			t.Fatalf("after a kill, message_key %s is in the lake twice", r.MessageKey)
		}
		keys[r.MessageKey] = true
		if r.Dt != r.SentAt.UTC().Format("2006-01-02") {
			t.Fatalf("row %s at %s in dt=%s", r.MessageKey, r.SentAt, r.Dt)
		}
		k := r.ChannelUserID + "|" + r.SentAt.Format(time.RFC3339Nano) + "|" + r.Sender + "|" + r.MessageType + "|" + r.Text
		if want[k] == 0 {
			t.Fatalf("after a kill, the lake holds a message that is not in the truth: %s", k)
		}
		want[k]--
	}
	return len(rows)
}

// TestCrashDuringExport kills a real export process with SIGKILL at many points while it
// writes, to a local lake and to GCS (fake-gcs-server, driven by the real client in the child).
// After every kill the lake reads cleanly; a final rerun completes it to equal the truth.
func TestCrashDuringExport(t *testing.T) {
	for _, backend := range []string{"local", "gcs"} {
		t.Run(backend, func(t *testing.T) {
			s := startSim(t, 9, 30, func(o *sim.Options) { o.Faults.Latency = 2 * time.Millisecond })
			lake := localCrashLake(t)
			if backend == "gcs" {
				lake = gcsCrashLake(t)
			}
			env := append([]string{apiKeyEnv + "=" + s.opts.APIKey}, lake.env...)
			spill := t.TempDir()
			args := s.exportArgs("export", lake.url, "--unit-days", "1", "--parallel-units", "3", "--target-file-size", "1048576",
				"--temp-dir", spill, "--log-format", "json")
			from, to := s.opts.From, s.opts.To
			truth := s.Truth(nil, from, to, to.AddDate(1, 0, 0))

			start := time.Now()
			if code, stderr := runChild(t, env, args...); code != 0 {
				t.Fatalf("first export exits %d: %s", code, lastLine(stderr))
			}
			full := time.Since(start)

			killed := 0
			for i := 1; i <= 8; i++ {
				d := full * time.Duration(i) / 9
				if killAfter(t, env, d, args...) {
					killed++
				}
				n := checkReadable(t, lake.dir(t), truth)
				t.Logf("killed after %s: the lake reads cleanly with %d rows", d.Round(time.Millisecond), n)
			}
			if killed < 4 {
				t.Fatalf("only %d of 8 runs were still running when killed: the kills hit nothing", killed)
			}
			if code, stderr := runChild(t, env, args...); code != 0 {
				t.Fatalf("the rerun after the kills exits %d: %s", code, lastLine(stderr))
			}
			dir := lake.dir(t)
			rows, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(t), dir)
			if err != nil {
				t.Fatal(err)
			}
			if diff := lakecheck.Compare(rows, truth); diff != "" {
				t.Fatal(diff)
			}
			if code, out := runChild(t, lake.env, "verify", "--lake", lake.url, "--from", "2024-05-01", "--to", "2024-05-07"); code != 0 {
				t.Fatalf("verify after the rerun exits %d: %s", code, out)
			}
			// The killed runs' local spill was swept by the rerun; the rerun cleaned its own.
			if left, _ := os.ReadDir(spill); len(left) != 0 {
				t.Fatalf("local spill left behind after the rerun: %v", left)
			}
		})
	}
}

// TestCrashFirstExport kills first exports into an empty lake (nothing published yet) at many
// points: what a glob sees is always readable, never a partial file or a duplicate.
func TestCrashFirstExport(t *testing.T) {
	s := startSim(t, 10, 25, func(o *sim.Options) { o.Faults.Latency = 2 * time.Millisecond })
	env := []string{apiKeyEnv + "=" + s.opts.APIKey}
	truth := s.Truth(nil, s.opts.From, s.opts.To, s.opts.To.AddDate(1, 0, 0))
	probe := t.TempDir()
	start := time.Now()
	args := func(lake string) []string {
		return s.exportArgs("export", lake, "--unit-days", "1", "--target-file-size", "1048576", "--log-format", "json")
	}
	if code, stderr := runChild(t, env, args(probe)...); code != 0 {
		t.Fatalf("export exits %d: %s", code, lastLine(stderr))
	}
	full := time.Since(start)
	for i := 1; i <= 6; i++ {
		dir := t.TempDir()
		d := full * time.Duration(i) / 7
		killAfter(t, env, d, args(dir)...)
		n := checkReadable(t, dir, truth)
		if code, stderr := runChild(t, env, args(dir)...); code != 0 {
			t.Fatalf("rerun after a kill at %s exits %d: %s", d, code, lastLine(stderr))
		}
		rows, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(t), dir)
		if err != nil {
			t.Fatal(err)
		}
		if diff := lakecheck.Compare(rows, truth); diff != "" {
			t.Fatalf("after a kill at %s (%d rows then) and a rerun: %s", d, n, diff)
		}
	}
}

// TestBackfillKilledResumes kills a backfill with SIGKILL at random points and reruns it until
// it completes: the lake equals the truth, and the reruns together made fewer requests than a
// full backfill redone after each kill would have.
func TestBackfillKilledResumes(t *testing.T) {
	s := startSim(t, 12, 25, func(o *sim.Options) {
		o.To = time.Date(2024, 5, 15, 0, 0, 0, 0, time.UTC)
		o.Faults.Latency = 3 * time.Millisecond
	})
	env := []string{apiKeyEnv + "=" + s.opts.APIKey}
	lake := t.TempDir()
	args := s.exportArgs("backfill", lake, "--unit-days", "1", "--parallel-units", "2", "--log-format", "json")
	args = replaceFlag(t, args, "--to", "2024-05-14")
	full := t.TempDir()
	start := time.Now()
	before := s.Stats().Requests
	if code, stderr := runChild(t, env, replaceFlag(t, args, "--lake", full)...); code != 0 {
		t.Fatalf("full backfill exits %d: %s", code, lastLine(stderr))
	}
	fullRequests := s.Stats().Requests - before
	fullTime := time.Since(start)

	// Kill at a random moment after the backfill has finished at least one unit.
	cmd := child(context.Background(), env, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	killed := false
	deadline := time.After(time.Minute)
	for !killed {
		select {
		case <-done:
			t.Fatal("the backfill finished before it could be killed")
		case <-deadline:
			t.Fatal("the backfill finished no unit within a minute")
		case <-time.After(5 * time.Millisecond):
		}
		st, err := pipelines.ReadState(context.Background(), mustLocal(t, lake))
		if err != nil || len(st.Backfills) == 0 {
			continue
		}
		for _, b := range st.Backfills {
			if len(b.Done) > 0 {
				time.Sleep(time.Duration(rand.IntN(int(fullTime/4/time.Millisecond)+1)) * time.Millisecond)
				_ = cmd.Process.Signal(syscall.SIGKILL)
				<-done
				killed = true
			}
		}
	}
	n := checkReadable(t, lake, s.Truth(nil, s.opts.From, s.opts.To, s.opts.To.AddDate(1, 0, 0)))
	t.Logf("killed a backfill with %d rows published", n)
	before = s.Stats().Requests
	code, stderr := runChild(t, env, args...)
	if code != 0 {
		t.Fatalf("the rerun exits %d: %s", code, lastLine(stderr))
	}
	rerun := s.Stats().Requests - before
	if rerun == 0 || rerun >= fullRequests {
		t.Fatalf("the rerun after a kill made %d requests, a full backfill makes %d: want some, and fewer", rerun, fullRequests)
	}
	if !strings.Contains(stderr, `"units_already_done":`) || strings.Contains(stderr, `"units_already_done":0`) {
		t.Fatalf("the rerun's summary does not report skipped units:\n%s", stderr)
	}
	rows, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(t), lake)
	if err != nil {
		t.Fatal(err)
	}
	if diff := lakecheck.Compare(rows, s.Truth(nil, s.opts.From, time.Date(2024, 5, 15, 0, 0, 0, 0, time.UTC), s.opts.To.AddDate(1, 0, 0))); diff != "" {
		t.Fatal(diff)
	}
	t.Logf("full backfill: %d requests; the rerun after a kill: %d", fullRequests, rerun)
}

// TestConcurrentRuns starts two exports on one lake at once: one refuses with the locked exit
// code, the other completes, and the lake is exact.
func TestConcurrentRuns(t *testing.T) {
	s := startSim(t, 13, 20, func(o *sim.Options) { o.Faults.Latency = 5 * time.Millisecond })
	env := []string{apiKeyEnv + "=" + s.opts.APIKey}
	lake := t.TempDir()
	args := s.exportArgs("export", lake, "--log-format", "json")
	type result struct {
		code   int
		stderr string
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			code, stderr := runChild(t, env, args...)
			results <- result{code, stderr}
		}()
	}
	codes := map[int]int{}
	var lockedMsg string
	for range 2 {
		r := <-results
		codes[r.code]++
		if r.code == exitLocked {
			lockedMsg = lastLine(r.stderr)
		}
	}
	if codes[exitOK] != 1 || codes[exitLocked] != 1 {
		t.Fatalf("exit codes %v, want one 0 and one %d", codes, exitLocked)
	}
	if !strings.Contains(lockedMsg, "another chatlake run holds the lake") {
		t.Fatalf("the refused run says %q", lockedMsg)
	}
	rows, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(t), lake)
	if err != nil {
		t.Fatal(err)
	}
	if diff := lakecheck.Compare(rows, s.Truth(nil, s.opts.From, s.opts.To, s.opts.To.AddDate(1, 0, 0))); diff != "" {
		t.Fatal(diff)
	}
}

func mustLocal(t *testing.T, dir string) storage.Store {
	t.Helper()
	st, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func replaceFlag(t *testing.T, args []string, flag, value string) []string {
	t.Helper()
	out := append([]string(nil), args...)
	for i := range out {
		if out[i] == flag && i+1 < len(out) {
			out[i+1] = value
			return out
		}
	}
	t.Fatalf("no flag %s in %v", flag, args)
	return nil
}
