package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needTool finds one of the named programs (Debian's prometheus and prometheus-pushgateway):
// without it the test skips on a developer's machine and fails under CI=true.
func needTool(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	needOrSkip(t, false, strings.Join(names, " or ")+" is not on PATH (apt-get install prometheus prometheus-pushgateway)")
	return ""
}

// startPushgateway runs a real Pushgateway on a free loopback port until the test ends.
func startPushgateway(t *testing.T) string {
	t.Helper()
	bin := needTool(t, "prometheus-pushgateway", "pushgateway")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	// No persistence: Debian's default file (/var/lib/prometheus/pushgateway.data) is shared.
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--persistence.file=")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	url := "http://" + addr
	for deadline := time.Now().Add(2 * time.Minute); ; { // a backstop: a loaded machine starts it slowly
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

// sampleValues returns the value of every sample of the metric name in a text exposition,
// by its label text ({bot="...",...}).
func sampleValues(t *testing.T, text, name string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		out[line[len(name):i]] = v
	}
	return out
}

// oneValue is the value of the only sample of name whose labels contain all of want.
func oneValue(t *testing.T, text, name string, want ...string) float64 {
	t.Helper()
	var found []float64
	for labels, v := range sampleValues(t, text, name) {
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(labels, w)
		}
		if ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s with %v: %d samples, want 1\n%s", name, want, len(found), text)
	}
	return found[0]
}

// TestMetricsOfARun: an export with --metrics-file and --pushgateway writes a file that
// `promtool check metrics` accepts and pushes the same figures to a real Pushgateway; the
// figures are the summary's. A failed run (401) replaces them with its own outcome.
func TestMetricsOfARun(t *testing.T) {
	promtool := needTool(t, "promtool")
	gw := startPushgateway(t)
	s := startSim(t, 7, 6, nil)
	dir := t.TempDir()
	file := filepath.Join(dir, "chatlake.prom")
	t.Setenv(apiKeyEnv, s.opts.APIKey)
	args := s.exportArgs("export", filepath.Join(dir, "lake"), "--log-format", "json", "--metrics-file", file, "--pushgateway", gw)
	started := time.Now().Unix()
	code, _, stderr := runCmd(t, args...)
	finished := time.Now().Unix()
	if code != exitOK {
		t.Fatalf("export exits %d: %s", code, lastLine(stderr))
	}
	sum, _, _ := summaryOf(t, jsonRecords(t, stderr))
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = bytes.NewReader(data)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s\nthe file:\n%s", err, out, data)
	}
	bot := `bot="` + s.opts.BotKey + `"`
	fileText := string(data)
	if v := oneValue(t, fileText, "chatlake_last_run_messages_published", bot); v != sum["messages_published"].(float64) || v <= 0 {
		t.Errorf("file: messages published %v, summary %v", v, sum["messages_published"])
	}
	if v := oneValue(t, fileText, "chatlake_last_run_success", bot); v != 1 {
		t.Errorf("file: success %v, want 1", v)
	}
	if v := oneValue(t, fileText, "chatlake_last_run_outcome", bot, `outcome="ok"`); v != 1 {
		t.Errorf("file: outcome ok %v", v)
	}
	// The run's own clock, not a bound on how long a loaded machine took: while it ran.
	if v := int64(oneValue(t, fileText, "chatlake_last_success_timestamp_seconds", bot)); v < started || v > finished {
		t.Errorf("file: last success %d, want between the run's start %d and end %d", v, started, finished)
	}
	var requests float64
	for labels, v := range sampleValues(t, fileText, "chatlake_last_run_requests") {
		if strings.Contains(labels, bot) {
			requests += v
		}
	}
	if requests != sum["requests"].(float64) || requests <= 0 {
		t.Errorf("file: requests by outcome add up to %v, the summary says %v", requests, sum["requests"])
	}
	pushed := gatewayMetrics(t, gw)
	if v := oneValue(t, pushed, "chatlake_last_run_messages_published", bot, `job="chatlake"`); v != sum["messages_published"].(float64) {
		t.Errorf("Pushgateway: messages published %v, summary %v", v, sum["messages_published"])
	}

	// A run the API refuses: the file and the Pushgateway now say failed, exit code 1, and
	// still carry the last success of the lake.
	t.Setenv(apiKeyEnv, "0000dead-beef-4000-8000-00000000cafe-wrongkey")
	if code, _, stderr := runCmd(t, args...); code != exitFailed {
		t.Fatalf("with a wrong key, export exits %d: %s", code, lastLine(stderr))
	}
	data, _ = os.ReadFile(file)
	if v := oneValue(t, string(data), "chatlake_last_run_exit_code", bot); v != 1 {
		t.Errorf("file after a 401: exit code %v, want 1", v)
	}
	if v := oneValue(t, string(data), "chatlake_last_run_success", bot); v != 0 {
		t.Errorf("file after a 401: success %v, want 0", v)
	}
	if v := sampleValues(t, string(data), "chatlake_last_success_timestamp_seconds"); len(v) != 1 {
		t.Errorf("file after a 401: last success %v, want the earlier run's", v)
	}
	if v := oneValue(t, gatewayMetrics(t, gw), "chatlake_last_run_outcome", bot, `outcome="failed"`); v != 1 {
		t.Errorf("Pushgateway after a 401: outcome failed %v", v)
	}
}

func gatewayMetrics(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
