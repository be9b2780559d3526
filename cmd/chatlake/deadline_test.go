package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatlake/chatlake/load/storage"
)

// azureTestKey is the account key of azureConnString: no output may hold it.
const azureTestKey = "dGhlLWtleS1vZi1hbi1henVyZS1hY2NvdW50LWluLWEtdGVzdA=="

// azureConnString is a connection string for an account whose blob service is at host.
func azureConnString(host string) string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=%s;BlobEndpoint=http://%s/acct;", azureTestKey, host)
}

// blackHole accepts TCP connections on loopback and never answers, until the test ends.
func blackHole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// TestDeadlines: storage that refuses connections, storage that never answers and an API
// that never answers each end a real chatlake process within 60 s, at the flags the README
// documents, with a non-zero exit and a one-line reason; at the defaults, an API that never
// answers, and one whose conversations requests all hang while its User API answers (more users
// than --concurrency), end it within 120 s (about 90 s: the timers decide it, not the load).
// The cases run in parallel.
func TestDeadlines(t *testing.T) {
	hole := blackHole(t)
	s := startSim(t, 3, 3, nil)
	env := []string{apiKeyEnv + "=" + s.opts.APIKey}
	gcs := func(host string) []string { return append(env, "STORAGE_EMULATOR_HOST="+host) }
	lake := "gs://acme-lake/chat"
	s3 := func(endpoint string) []string { return append(append(env[:0:0], env...), s3Env(endpoint)...) }
	s3Lake := "s3://acme-lake/chat"
	azure := func(host string) []string {
		return append(env, storage.EnvAzureConnectionString+"="+azureConnString(host))
	}
	azLake := "az://acme-lake/chat"
	many := startSim(t, 4, 30, nil)
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/conversations") {
			<-r.Context().Done() // until the client gives up
			return
		}
		many.ServeHTTP(w, r)
	}))
	t.Cleanup(hanging.Close)
	for _, c := range []struct {
		name   string
		env    []string
		args   []string
		code   int
		reason string
		within time.Duration
	}{
		{"unreachable GCS, export at defaults", gcs("127.0.0.1:1"), s.exportArgs("export", lake), exitBadInput, "not reachable", time.Minute},
		{"unreachable GCS, status at defaults", gcs("127.0.0.1:1"), []string{"status", "--lake", lake}, exitBadInput, "not reachable", time.Minute},
		{"silent GCS, export --storage-timeout 20s", gcs(hole), s.exportArgs("export", lake, "--storage-timeout", "20s"), exitBadInput, "timed out", time.Minute},
		{"silent GCS, status --storage-timeout 20s", gcs(hole), []string{"status", "--lake", lake, "--storage-timeout", "20s"}, exitBadInput, "timed out", time.Minute},
		{"unreachable S3, export at defaults", s3("http://127.0.0.1:1"), s.exportArgs("export", s3Lake), exitBadInput, "not reachable", time.Minute},
		{"unreachable S3, status at defaults", s3("http://127.0.0.1:1"), []string{"status", "--lake", s3Lake}, exitBadInput, "not reachable", time.Minute},
		{"silent S3, export --storage-timeout 20s", s3("http://" + hole), s.exportArgs("export", s3Lake, "--storage-timeout", "20s"), exitBadInput, "timed out", time.Minute},
		{"silent S3, status --storage-timeout 20s", s3("http://" + hole), []string{"status", "--lake", s3Lake, "--storage-timeout", "20s"}, exitBadInput, "timed out", time.Minute},
		{"unreachable Azure, export at defaults", azure("127.0.0.1:1"), s.exportArgs("export", azLake), exitBadInput, "not reachable", time.Minute},
		{"unreachable Azure, status at defaults", azure("127.0.0.1:1"), []string{"status", "--lake", azLake}, exitBadInput, "not reachable", time.Minute},
		{"silent Azure, export --storage-timeout 20s", azure(hole), s.exportArgs("export", azLake, "--storage-timeout", "20s"), exitBadInput, "timed out", time.Minute},
		{"silent Azure, status --storage-timeout 20s", azure(hole), []string{"status", "--lake", azLake, "--storage-timeout", "20s"}, exitBadInput, "timed out", time.Minute},
		{"silent API, --request-timeout 10s --max-attempts 3", env,
			replaceFlag(t, s.exportArgs("export", t.TempDir(), "--request-timeout", "10s", "--max-attempts", "3"), "--api-url", "http://"+hole),
			exitFailed, "gave up after 3 attempts, last cause timeout", time.Minute},
		{"silent API at defaults", env, replaceFlag(t, s.exportArgs("export", t.TempDir()), "--api-url", "http://"+hole),
			exitFailed, "without an answer", 2 * time.Minute},
		{"conversations hang at defaults", append(env[:0:0], apiKeyEnv+"="+many.opts.APIKey),
			replaceFlag(t, many.exportArgs("export", t.TempDir()), "--api-url", hanging.URL),
			exitFailed, "30 user(s) failed and are owed (22 not started: the API had stopped answering)", 2 * time.Minute},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			code, stderr := runChild(t, c.env, c.args...)
			took := time.Since(start)
			last := lastLine(stderr)
			t.Logf("exit %d after %s: %s", code, took.Round(time.Millisecond), last)
			if took > c.within {
				t.Errorf("took %s, want under %s", took, c.within)
			}
			if code != c.code || !strings.HasPrefix(last, "chatlake: ") || !strings.Contains(last, c.reason) {
				t.Errorf("exit %d, last line %q; want exit %d and a line saying %q", code, last, c.code, c.reason)
			}
			if strings.Contains(stderr, azureTestKey) {
				t.Errorf("stderr holds the Azure account key:\n%s", stderr)
			}
		})
	}
}
