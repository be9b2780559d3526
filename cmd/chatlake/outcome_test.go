package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chatlake/chatlake/pipelines"
	"github.com/chatlake/chatlake/sim"
)

// jsonRecords decodes every JSON log line of stderr; it fails on a line that is neither JSON
// nor the final "chatlake: " line.
func jsonRecords(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(stderr))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "chatlake: ") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON log line: %q", line)
		}
		recs = append(recs, m)
	}
	return recs
}

// summaryOf returns the summary record, checking that every record carries the run id.
func summaryOf(t *testing.T, recs []map[string]any) (sum map[string]any, level string, exit map[string]any) {
	t.Helper()
	runID := ""
	for _, r := range recs {
		id, _ := r["run_id"].(string)
		if id == "" {
			t.Fatalf("a log record without run_id: %v", r)
		}
		if runID == "" {
			runID = id
		}
		if id != runID {
			t.Fatalf("two run ids: %s and %s", runID, id)
		}
		switch r["msg"] {
		case "summary":
			sum, _ = r["summary"].(map[string]any)
			level, _ = r["level"].(string)
		case "exit":
			exit = r
		}
	}
	if sum == nil {
		t.Fatal("no summary record")
	}
	return sum, level, exit
}

// TestSummaryOutcome: the summary record says how the run ended, on success, with a failed
// user, and when the API refuses the key; a failed run's reason is also a JSON record.
func TestSummaryOutcome(t *testing.T) {
	t.Run("ok", func(t *testing.T) {
		s := startSim(t, 3, 6, nil)
		t.Setenv(apiKeyEnv, s.opts.APIKey)
		code, _, stderr := runCmd(t, s.exportArgs("export", t.TempDir(), "--log-format", "json")...)
		sum, level, exit := summaryOf(t, jsonRecords(t, stderr))
		if code != exitOK || sum["outcome"] != "ok" || sum["exit_code"] != 0.0 || sum["error"] != "" || level != "INFO" || exit != nil {
			t.Fatalf("exit %d, level %s, summary %v, exit record %v", code, level, sum, exit)
		}
		if sum["messages_published"].(float64) <= 0 || sum["messages_published"] != sum["rows_in"] || sum["users_owed"] != 0.0 || sum["duration_s"].(float64) <= 0 {
			t.Fatalf("summary %v", sum)
		}
	})
	t.Run("failed user", func(t *testing.T) {
		s := startSim(t, 3, 6, nil)
		bad := s.UserIDs(nil)[0]
		t.Setenv(apiKeyEnv, s.opts.APIKey)
		args := replaceFlag(t, s.exportArgs("export", t.TempDir(), "--log-format", "json", "--max-attempts", "1"), "--api-url", failingUser(t, s, bad))
		code, _, stderr := runCmd(t, args...)
		sum, level, exit := summaryOf(t, jsonRecords(t, stderr))
		if code != exitFailed || sum["outcome"] != "failed" || sum["exit_code"] != 1.0 || !strings.Contains(sum["error"].(string), bad) ||
			sum["users_owed"] != 1.0 || sum["messages_published"].(float64) <= 0 || level != "ERROR" {
			t.Fatalf("exit %d, level %s, summary %v", code, level, sum)
		}
		if exit == nil || exit["level"] != "ERROR" || exit["exit_code"] != 1.0 || !strings.Contains(exit["reason"].(string), bad) {
			t.Fatalf("exit record %v", exit)
		}
		if last := lastLine(stderr); !strings.HasPrefix(last, "chatlake: ") {
			t.Fatalf("the plain line is gone: %q", last)
		}
	})
	t.Run("401", func(t *testing.T) {
		s := startSim(t, 3, 6, nil)
		t.Setenv(apiKeyEnv, "0000dead-beef-4000-8000-00000000cafe-wrongkey")
		code, _, stderr := runCmd(t, s.exportArgs("export", t.TempDir(), "--log-format", "json")...)
		sum, level, exit := summaryOf(t, jsonRecords(t, stderr))
		if code != exitFailed || sum["outcome"] != "failed" || sum["exit_code"] != 1.0 || !strings.Contains(sum["error"].(string), "API key rejected") ||
			sum["messages_published"] != 0.0 || level != "ERROR" || exit == nil {
			t.Fatalf("exit %d, level %s, summary %v, exit %v", code, level, sum, exit)
		}
	})
}

// TestSIGTERM: a real export process that gets SIGTERM mid-run stops: it starts no request
// after the signal (at most the --concurrency requests already on their way arrive after it)
// and exits with 143, its summary says interrupted, and the lake's state records the run as
// interrupted; a rerun finishes the export. How long the stop takes is logged, not asserted
// (a loaded machine decides it); a minute's backstop catches a run that does not stop.
func TestSIGTERM(t *testing.T) {
	s := startSim(t, 5, 40, func(o *sim.Options) { o.Faults.Latency = 40 * time.Millisecond })
	var conversations atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/conversations") {
			conversations.Add(1)
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	lake := t.TempDir()
	env := []string{apiKeyEnv + "=" + s.opts.APIKey}
	const concurrency = 2
	args := replaceFlag(t, s.exportArgs("export", lake, "--log-format", "json", "--concurrency", strconv.Itoa(concurrency), "--batch-size", "10", "--parallel-batches", "1"),
		"--api-url", proxy.URL)
	cmd := child(context.Background(), env, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Wait until the run holds the lock (it is exporting), then stop it.
	deadline := time.Now().Add(time.Minute) // a backstop: a loaded machine starts it slowly
	for {
		if _, err := os.Stat(filepath.Join(lake, "_chatlake", "lock.json")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run never took the lock:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for conversations.Load() < 4 { // it is extracting
		select {
		case err := <-done:
			t.Fatalf("the run ended (%v) before it was stopped:\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	sent := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	before := conversations.Load()
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("still running a minute after SIGTERM")
	}
	took := time.Since(sent)
	if after := conversations.Load() - before; after > concurrency {
		t.Errorf("%d conversations requests arrived after SIGTERM, want at most the %d on their way", after, concurrency)
	}
	var ee *exec.ExitError
	if err == nil || !errorsAs(err, &ee) || ee.ExitCode() != exitSIGTERM {
		t.Fatalf("exit %v, want %d; stderr tail %s", err, exitSIGTERM, lastLine(stderr.String()))
	}
	t.Logf("stopped %s after SIGTERM", took.Round(time.Millisecond))
	sum, level, _ := summaryOf(t, jsonRecords(t, stderr.String()))
	if sum["outcome"] != "interrupted" || sum["exit_code"] != float64(exitSIGTERM) || level != "ERROR" || !strings.Contains(sum["error"].(string), "SIGTERM") {
		t.Fatalf("summary %v", sum)
	}
	st, rerr := pipelines.ReadState(context.Background(), mustLake(t, lake))
	if rerr != nil || st.LastRun == nil || st.LastRun.Outcome != "interrupted" || !strings.Contains(st.LastRun.Error, "SIGTERM") {
		t.Fatalf("state's last run %+v (%v)", st.LastRun, rerr)
	}
	// status names the unfinished run and the command that resumes it; that command, with
	// the API's URL filled in, finishes the export.
	_, rep, _ := statusJSON(t, lake)
	if len(rep.Plans) != 1 || rep.Plans[0].BatchesDone >= rep.Plans[0].Batches || !strings.HasPrefix(rep.Plans[0].Resume, "chatlake export ") {
		t.Fatalf("status after SIGTERM: unfinished runs %+v", rep.Plans)
	}
	resume := strings.Fields(rep.Plans[0].Resume)[1:]
	resume = append(replaceFlag(t, resume, "--api-url", s.url), "--rate", "1000", "--log-format", "json")
	if code, out := runChild(t, env, resume...); code != exitOK {
		t.Fatalf("the resume command %q exits %d: %s", rep.Plans[0].Resume, code, lastLine(out))
	}
	if _, rep, _ := statusJSON(t, lake); len(rep.Plans) != 0 || rep.LastRun == nil || rep.LastRun.Outcome != "ok" {
		t.Fatalf("after the resume command: unfinished %+v, last run %+v", rep.Plans, rep.LastRun)
	}
	if code, out := runChild(t, env, args...); code != exitOK {
		t.Fatalf("rerun exits %d: %s", code, lastLine(out))
	}
}

func errorsAs(err error, target **exec.ExitError) bool {
	ee, ok := err.(*exec.ExitError)
	*target = ee
	return ok
}

// lockedBuffer is a bytes.Buffer that a run writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestProgressRecordsOfAnExport: in JSON mode an export logs a progress record every
// --progress-every, with the run's id and a numeric eta_s, the last at 0 with every user done.
// The last user's conversations are answered only once four extracting records are out, so
// the count follows from the order of events, not from how often a loaded machine ticks (the
// export is one batch: without the interval there would be two records, after the batch and
// at the end).
func TestProgressRecordsOfAnExport(t *testing.T) {
	s := startSim(t, 3, 12, nil)
	var stderrBuf lockedBuffer
	last := slices.Max(s.UserIDs(nil))
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/channel-user/"+last+"/") {
			for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) &&
				strings.Count(stderrBuf.String(), `"phase":"extracting"`) < 4; {
				time.Sleep(5 * time.Millisecond)
			}
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	t.Setenv(apiKeyEnv, s.opts.APIKey)
	args := replaceFlag(t, s.exportArgs("export", t.TempDir(), "--log-format", "json", "--progress-every", "20ms",
		"--concurrency", "2", "--batch-size", "12"), "--api-url", proxy.URL)
	code := exitCode(run(context.Background(), args, io.Discard, &stderrBuf), &stderrBuf)
	stderr := stderrBuf.String()
	if code != exitOK {
		t.Fatalf("export exits %d: %s", code, lastLine(stderr))
	}
	recs := jsonRecords(t, stderr)
	summaryOf(t, recs) // every record carries the run id
	var progress []map[string]any
	for _, r := range recs {
		if r["msg"] == "progress" && r["phase"] == "extracting" {
			if _, ok := r["eta_s"].(float64); !ok {
				t.Fatalf("eta_s is not a number: %v", r)
			}
			progress = append(progress, r)
		}
	}
	if len(progress) < 4 {
		t.Fatalf("%d progress records, want one every 20ms while the last user waited for four", len(progress))
	}
	if last := progress[len(progress)-1]; last["eta_s"] != 0.0 || last["users_done"] != last["users"] {
		t.Errorf("the last progress record: %v", last)
	}
}
