package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/chatlake/chatlake/metrics"
)

// sample is a failed nightly run whose every field differs, so a value in the wrong metric
// shows.
func sample() metrics.Run {
	started := time.Date(2024, 5, 21, 2, 0, 0, 0, time.UTC)
	return metrics.Run{
		Bot: "0123456789abcdef", Customer: "1001", Kind: "nightly",
		Outcome: "incomplete", ExitCode: 1,
		Started: started, Finished: started.Add(754 * time.Second),
		LastSuccess:       time.Date(2024, 5, 20, 2, 11, 0, 0, time.UTC),
		MessagesPublished: 123456,
		Requests:          map[string]int64{"ok": 5000, "retried": 42, "failed": 3},
		RateLimited:       17, Retries: 45,
		UsersListed: 900, UsersSkipped: 3, UsersOwed: 5,
		BytesWritten: 98765432, LateMessages: 11,
		Build: map[string]string{"version": "v1.2.3", "vcs.revision": "abc123", "vcs.modified": "false", "go": "go1.26.8"},
	}
}

// want is what sample must produce, by metric and its own labels (beyond bot, customer, kind).
var want = map[string]float64{
	"chatlake_last_run_start_timestamp_seconds":       1716256800,
	"chatlake_last_run_finish_timestamp_seconds":      1716257554,
	"chatlake_last_run_duration_seconds":              754,
	"chatlake_last_run_exit_code":                     1,
	"chatlake_last_run_success":                       0,
	`chatlake_last_run_outcome{outcome="incomplete"}`: 1,
	"chatlake_last_success_timestamp_seconds":         1716171060,
	"chatlake_last_run_messages_published":            123456,
	`chatlake_last_run_requests{outcome="ok"}`:        5000,
	`chatlake_last_run_requests{outcome="retried"}`:   42,
	`chatlake_last_run_requests{outcome="failed"}`:    3,
	"chatlake_last_run_rate_limited_responses":        17,
	"chatlake_last_run_retries":                       45,
	`chatlake_last_run_users{state="listed"}`:         900,
	`chatlake_last_run_users{state="skipped"}`:        3,
	`chatlake_last_run_users{state="owed"}`:           5,
	"chatlake_last_run_written_bytes":                 98765432,
	"chatlake_last_run_late_messages":                 11,
	`chatlake_build_info{go="go1.26.8",vcs_modified="false",vcs_revision="abc123",version="v1.2.3"}`: 1,
}

// common are the labels of every metric of sample.
var common = map[string]string{"bot": "0123456789abcdef", "customer": "1001", "kind": "nightly"}

// series flattens parsed families into "name{own labels}" -> value, checking that every
// series carries the common labels and every family has HELP text. Labels in skip (the
// Pushgateway's job and instance) are ignored.
func series(t *testing.T, mfs map[string]*dto.MetricFamily, skip ...string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for name, mf := range mfs {
		if !strings.HasPrefix(name, "chatlake_") {
			continue
		}
		if mf.GetHelp() == "" {
			t.Errorf("%s has no HELP text", name)
		}
		for _, m := range mf.GetMetric() {
			var own []string
			seen := map[string]bool{}
		labels:
			for _, lp := range m.GetLabel() {
				for _, s := range skip {
					if lp.GetName() == s {
						continue labels
					}
				}
				if v, ok := common[lp.GetName()]; ok {
					if lp.GetValue() != v {
						t.Errorf("%s: label %s=%q, want %q", name, lp.GetName(), lp.GetValue(), v)
					}
					seen[lp.GetName()] = true
					continue
				}
				own = append(own, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
			}
			if len(seen) != len(common) {
				t.Errorf("%s%v lacks some of the labels %v", name, own, common)
			}
			key := name
			if len(own) > 0 {
				key += "{" + strings.Join(own, ",") + "}"
			}
			var v float64
			switch {
			case m.Gauge != nil:
				v = m.GetGauge().GetValue()
			case m.Untyped != nil:
				v = m.GetUntyped().GetValue()
			default:
				t.Errorf("%s is not a gauge", key)
			}
			out[key] = v
		}
	}
	return out
}

func checkSeries(t *testing.T, got map[string]float64) { checkSeriesOf(t, want, got) }

func checkSeriesOf(t *testing.T, want, got map[string]float64) {
	t.Helper()
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("missing %s", k)
		} else if math.Abs(g-v) > 1e-6 {
			t.Errorf("%s = %v, want %v", k, g, v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected series %s = %v", k, got[k])
		}
	}
}

func parse(t *testing.T, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("parse the text format: %v", err)
	}
	return mfs
}

// need finds a tool of the Debian packages prometheus / prometheus-pushgateway. Without it the
// test is skipped on a developer's machine and fails in CI (CI=true), where .ci/run installs it.
func need(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("none of %v on PATH (apt-get install prometheus prometheus-pushgateway)", names)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func TestWriteTextfile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "chatlake.prom")
	if err := os.WriteFile(path, []byte("# an older run\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := metrics.WriteTextfile(path, sample()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkSeries(t, series(t, parse(t, bytes.NewReader(data))))
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the directory holds %d entries, want only chatlake.prom (no temporary left)", len(entries))
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v; want 0644 (node_exporter must read it)", fi.Mode(), err)
	}

	promtool := need(t, "promtool")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(data)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s\nthe file:\n%s", err, out, data)
	}
}

// TestWriteTextfileInvalid: an invalid run writes nothing and keeps the previous file.
func TestWriteTextfileInvalid(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "chatlake.prom")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for field, mutate := range map[string]func(r *metrics.Run){
		"Kind":         func(r *metrics.Run) { r.Kind = "" },
		"Outcome":      func(r *metrics.Run) { r.Outcome = "" },
		"Finished":     func(r *metrics.Run) { r.Finished = r.Started.Add(-time.Second) },
		"UsersSkipped": func(r *metrics.Run) { r.UsersSkipped = -1 },
		"Requests":     func(r *metrics.Run) { r.Requests["ok"] = -1 },
	} {
		r := sample()
		mutate(&r)
		err := metrics.WriteTextfile(path, r)
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s invalid: %v, want an error naming it", field, err)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != "old\n" {
		t.Errorf("the previous file was replaced: %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries, want 1", len(entries))
	}
	if err := metrics.WriteTextfile(filepath.Join(dir, "no", "such", "dir.prom"), sample()); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

// startPushgateway runs a real Pushgateway on a free loopback port until the test ends.
func startPushgateway(t *testing.T) string {
	bin := need(t, "prometheus-pushgateway", "pushgateway")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	// No persistence: Debian's default file (/var/lib/prometheus/pushgateway.data) would carry
	// metrics from one test run (and one test) to the next.
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--persistence.file=")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	url := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Pushgateway on %s is not ready: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPush(t *testing.T) {
	url := startPushgateway(t)
	ctx := t.Context()
	// A first push of the same group, then a run that never succeeded: it has no
	// last-success metric, and the push (a PUT) must replace the whole group, so the first
	// push's must be gone too.
	if err := metrics.Push(ctx, url, sample(), nil); err != nil {
		t.Fatal(err)
	}
	never := sample()
	never.LastSuccess = time.Time{}
	if err := metrics.Push(ctx, url, never, &metrics.PushOptions{Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	wantPushed := map[string]float64{}
	for k, v := range want {
		if k != "chatlake_last_success_timestamp_seconds" {
			wantPushed[k] = v
		}
	}
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	mfs := parse(t, resp.Body)
	checkSeriesOf(t, wantPushed, series(t, mfs, "job", "instance"))
	for _, m := range mfs["chatlake_last_run_exit_code"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "job" && lp.GetValue() != "chatlake" {
				t.Errorf("job label %q, want chatlake", lp.GetValue())
			}
		}
	}
}

// TestPushDeadline: a Pushgateway that accepts the connection and never answers makes Push fail
// after its timeout, not hang.
func TestPushDeadline(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	err = metrics.Push(context.Background(), "http://"+l.Addr().String(), sample(), &metrics.PushOptions{Timeout: 300 * time.Millisecond})
	if took := time.Since(start); err == nil || took > 3*time.Second {
		t.Fatalf("Push to a server that never answers: %v after %s, want an error after about 300ms", err, took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want one matching context.DeadlineExceeded", err)
	}
}
