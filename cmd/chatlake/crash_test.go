package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
	"github.com/chatlake/chatlake/pipelines"
	"github.com/chatlake/chatlake/sim"
)

// crashLake is a lake a child process writes to, and a way to read it back with DuckDB.
type crashLake struct {
	url   string
	env   []string
	store storage.Store // of a lake on a cloud store's emulator; nil for a local directory
}

// dir returns a local directory holding the lake as it is now: the lake's own, or a download
// of its objects.
func (l crashLake) dir(t testing.TB) string {
	if l.store == nil {
		return l.url
	}
	dir := t.TempDir()
	if err := lakecheck.Download(context.Background(), l.store, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func localCrashLake(t testing.TB) crashLake { return crashLake{url: t.TempDir()} }

func gcsCrashLake(t testing.TB) crashLake {
	host, client := storagetest.StartFakeGCS(t, "lake")
	return crashLake{url: "gs://lake/analytics/chat", env: []string{"STORAGE_EMULATOR_HOST=" + host},
		store: storage.NewGCS(client, "lake", "analytics/chat")}
}

// s3CrashLake is a lake on moto's S3 server, which the child reaches through the standard AWS
// configuration (the environment) and CHATLAKE_S3_ENDPOINT / CHATLAKE_S3_PATH_STYLE.
func s3CrashLake(t testing.TB) crashLake {
	endpoint, client := storagetest.StartMoto(t, "lake")
	return crashLake{url: "s3://lake/analytics/chat", env: s3Env(endpoint),
		store: storage.NewS3(client, "lake", "analytics/chat")}
}

// azureCrashLake is a lake in a container of Azurite, which the child reaches through the
// connection string in its environment.
func azureCrashLake(t testing.TB) crashLake {
	cs, client := storagetest.StartAzurite(t, "lake")
	return crashLake{url: "az://lake/analytics/chat", env: []string{storage.EnvAzureConnectionString + "=" + cs},
		store: storage.NewAzure(client, "lake", "analytics/chat")}
}

// s3Env is the environment of a child that reaches moto at endpoint.
func s3Env(endpoint string) []string {
	return append(storagetest.MotoEnv(), envName("s3-endpoint")+"="+endpoint, envName("s3-path-style")+"=true")
}

// crashLakeOf is the lake of a kind: "local", "gcs", "azure" or "s3".
func crashLakeOf(t testing.TB, kind string) crashLake {
	switch kind {
	case "gcs":
		return gcsCrashLake(t)
	case "azure":
		return azureCrashLake(t)
	case "s3":
		return s3CrashLake(t)
	}
	return localCrashLake(t)
}

// runChild runs chatlake to completion and returns its exit code and stderr.
func runChild(t testing.TB, env []string, args ...string) (int, string) {
	t.Helper()
	// A generous bound: a rerun on fake-gcs-server took over 3 minutes on a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
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
func killAfter(t testing.TB, env []string, d time.Duration, args ...string) bool {
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

// killDelay is how long the next attempt lives when left of a full run's time is still to do
// and kills more kills are wanted: a random 0.5 to 1.5 x left/(kills+1), u in [0, 1) being the
// draw. Every attempt lives a share of what is left rather than of the full run, so that the
// kills, however the draws fall, never add up to a full run: after the last one at least 1.6%
// of it is left, and more in truth, as each attempt also spends time starting and resuming
// (fixed shares of the full run let ten long draws finish the work after nine kills, on CI).
func killDelay(left time.Duration, kills int, u float64) time.Duration {
	return time.Duration((0.5 + u) * float64(left) / float64(kills+1))
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
// writes, to a local lake, to GCS (fake-gcs-server), to Azure (Azurite) and to S3 (moto's
// server), each driven by the real client in the child. After every kill the lake reads cleanly; a final rerun completes it
// to equal the truth.
func TestCrashDuringExport(t *testing.T) {
	for _, backend := range []string{"local", "gcs", "azure", "s3"} {
		t.Run(backend, func(t *testing.T) {
			s := startSim(t, 9, 30, func(o *sim.Options) { o.Faults.Latency = 2 * time.Millisecond })
			lake := crashLakeOf(t, backend)
			env := append([]string{apiKeyEnv + "=" + s.opts.APIKey}, lake.env...)
			spill := t.TempDir()
			args := s.exportArgs("export", lake.url, "--batch-size", "4", "--parallel-batches", "2", "--target-file-size", "1048576",
				"--temp-dir", spill, "--log-format", "json")
			from, to := s.opts.From, s.opts.To
			truth := s.Truth(nil, from, to, to.AddDate(1, 0, 0))

			// The kills are spread over the time of a rerun, the shorter of two (on a loaded
			// machine one run's time says little about the next).
			full := time.Duration(1<<63 - 1)
			for range 2 {
				start := time.Now()
				if code, stderr := runChild(t, env, args...); code != 0 {
					t.Fatalf("export exits %d: %s", code, lastLine(stderr))
				}
				full = min(full, time.Since(start))
			}

			killed := 0
			for i := 1; i <= 8; i++ {
				d := full * time.Duration(i) / 9
				if killAfter(t, env, d, args...) {
					killed++
				}
				// The first export completed the lake, and every later one replaces the same
				// users' rows with the same rows: a kill at any point leaves every row readable.
				n := checkReadable(t, lake.dir(t), truth)
				if n != len(truth) {
					t.Fatalf("killed after %s: the lake reads %d rows of the %d it held before", d.Round(time.Millisecond), n, len(truth))
				}
				t.Logf("killed after %s: the lake reads cleanly with %d rows", d.Round(time.Millisecond), n)
			}
			if killed < 4 {
				t.Fatalf("only %d of 8 runs were still running when killed: the kills hit nothing", killed)
			}
			code, rerun := runChild(t, env, args...)
			if code != 0 {
				t.Fatalf("the rerun after the kills exits %d: %s", code, lastLine(rerun))
			}
			dir := lake.dir(t)
			rows, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(t), dir)
			if err != nil {
				// What the lake held, and what the rerun logged, to find why.
				var names []string
				_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
					if err == nil && !d.IsDir() {
						names = append(names, strings.TrimPrefix(p, dir))
					}
					return nil
				})
				t.Fatalf("reading the lake after the rerun: %v\nlake objects: %s\nrerun's log:\n%s", err, strings.Join(names, " "), rerun)
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
		return s.exportArgs("export", lake, "--batch-size", "4", "--target-file-size", "1048576", "--log-format", "json")
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

// minConversationRequests is the fewest conversations requests an export of the truth's
// users can make: one per user and 500 messages, at least one per user.
func minConversationRequests(users []string, truth []sim.Message) int {
	per := map[string]int{}
	for _, m := range truth {
		per[m.ChannelUserID]++
	}
	n := 0
	for _, u := range users {
		n += max(1, (per[u]+499)/500)
	}
	return n
}

// TestKilledRepeatedly kills a backfill, and a first nightly run, with SIGKILL at 10 random
// moments each, on a local lake, on fake-gcs-server, on Azurite and on moto's S3: after every
// kill the lake reads cleanly (no duplicate key, no partial file); the final rerun makes the
// lake equal the truth; and all attempts together make at most minimum x (1.05 + 0.05 x kills)
// conversations requests.
func TestKilledRepeatedly(t *testing.T) {
	// done tells a lake whose state records a finished run (a backfill, or the first nightly).
	done := func(t *testing.T, dir string) bool {
		st, err := pipelines.ReadState(context.Background(), mustLake(t, dir))
		if err != nil {
			t.Fatal(err)
		}
		return st.Watermark != ""
	}
	const kills = 10
	for _, lakeKind := range []string{"local", "gcs", "azure", "s3"} {
		for _, command := range []string{"backfill", "run"} {
			t.Run(lakeKind+"/"+command, func(t *testing.T) {
				// 240 users in batches of 3: a kill loses at most the batch in flight (3 users,
				// 1.25% of them), well inside the 5% a kill is allowed, however the kills fall.
				s := startSim(t, 12, 240, func(o *sim.Options) {
					o.To = time.Date(2024, 5, 15, 0, 0, 0, 0, time.UTC)
					o.Faults.Latency = 2 * time.Millisecond
				})
				lake := crashLakeOf(t, lakeKind)
				env := append([]string{apiKeyEnv + "=" + s.opts.APIKey}, lake.env...)
				args := s.exportArgs("backfill", lake.url, "--batch-size", "3", "--parallel-batches", "1", "--concurrency", "3", "--log-format", "json")
				args = replaceFlag(t, args, "--to", "2024-05-14")
				if command == "run" {
					// The first nightly run, with a settle lag that makes 2024-05-14 the last closed day.
					settle := time.Since(time.Date(2024, 5, 15, 0, 0, 0, 0, time.UTC)).Truncate(time.Hour) - time.Hour
					args = s.exportArgs("run", lake.url, "--from", "2024-05-01", "--settle", settle.String(),
						"--batch-size", "3", "--parallel-batches", "1", "--concurrency", "3", "--log-format", "json")
				}
				truth := s.Truth(nil, s.opts.From, s.opts.To, s.opts.To.AddDate(1, 0, 0))
				minimum := minConversationRequests(s.UserIDs(nil), truth)

				// Full runs on scratch local lakes time the command: the shorter of two, as one
				// run's time on a loaded machine says little about the next (a slow first run
				// spread the kills so wide that the work was done after 7).
				full := time.Duration(1<<63 - 1)
				for range 2 {
					start := time.Now()
					if code, stderr := runChild(t, env, replaceFlag(t, args, "--lake", t.TempDir())...); code != 0 {
						t.Fatalf("full run exits %d: %s", code, lastLine(stderr))
					}
					full = min(full, time.Since(start))
				}
				before := s.Stats().ByEndpoint[sim.EndpointConversations]

				// Kill at random moments until 10 kills happened or an attempt finished the work.
				// The kills fall all along the run rather than all in its first part (a resumed
				// attempt has less left to do than a full run); see killDelay.
				killed, finished := 0, false
				left := full
				for attempt := 0; killed < kills && attempt < 3*kills; attempt++ {
					d := killDelay(left, kills-killed, rand.Float64())
					left -= d
					if !killAfter(t, env, d, args...) {
						finished = true
						break
					}
					killed++
					dir := lake.dir(t)
					checkReadable(t, dir, truth)
					if done(t, dir) { // killed after the run recorded its end: nothing is left to do
						finished = true
						break
					}
				}
				if killed < kills {
					t.Fatalf("only %d kills before an attempt finished the work; the issue asks for %d", killed, kills)
				}
				if !finished {
					if code, stderr := runChild(t, env, args...); code != 0 {
						t.Fatalf("the rerun after %d kills exits %d: %s", killed, code, lastLine(stderr))
					}
				}
				rows, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(t), lake.dir(t))
				if err != nil {
					t.Fatal(err)
				}
				if diff := lakecheck.Compare(rows, truth); diff != "" {
					t.Fatal(diff)
				}
				total := s.Stats().ByEndpoint[sim.EndpointConversations] - before
				bound := float64(minimum) * (1.05 + 0.05*float64(killed))
				t.Logf("%d kills of %s (full run %s): %d conversations requests over all attempts, minimum %d, bound %.0f",
					killed, command, full.Round(time.Millisecond), total, minimum, bound)
				if float64(total) > bound {
					t.Fatalf("%d conversations requests over %d kills and the rerun, more than minimum %d x (1.05 + 0.05 x %d) = %.0f",
						total, killed, minimum, killed, bound)
				}
			})
		}
	}
}

// TestKillDelay: ten kills never add up to the full run, even when every draw is the longest.
func TestKillDelay(t *testing.T) {
	const full, kills = time.Second, 10
	for _, draw := range []func() float64{
		func() float64 { return 0.999999 },
		func() float64 { return 0 },
		rand.Float64,
	} {
		left := time.Duration(full)
		for k := kills; k > 0; k-- {
			left -= killDelay(left, k, draw())
		}
		if left < full*16/1000 {
			t.Errorf("after %d kills %s of a %s run is left; want at least 1.6%%", kills, left, full)
		}
	}
}

// TestConcurrentRuns starts two exports on one lake at once: one refuses with the locked exit
// code, the other completes, and the lake is exact.
func TestConcurrentRuns(t *testing.T) {
	for _, kind := range []string{"local", "s3", "azure"} {
		t.Run(kind, func(t *testing.T) {
			s := startSim(t, 13, 20, func(o *sim.Options) { o.Faults.Latency = 5 * time.Millisecond })
			lake := crashLakeOf(t, kind)
			env := append([]string{apiKeyEnv + "=" + s.opts.APIKey}, lake.env...)
			args := s.exportArgs("export", lake.url, "--log-format", "json")
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
			rows, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(t), lake.dir(t))
			if err != nil {
				t.Fatal(err)
			}
			if diff := lakecheck.Compare(rows, s.Truth(nil, s.opts.From, s.opts.To, s.opts.To.AddDate(1, 0, 0))); diff != "" {
				t.Fatal(diff)
			}
		})
	}
}

// mustLake is the local lake in dir.
func mustLake(t *testing.T, dir string) *load.Lake {
	t.Helper()
	st, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	lake, err := load.NewLake(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	return lake
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
