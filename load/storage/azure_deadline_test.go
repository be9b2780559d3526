package storage_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/chatlake/chatlake/load/storage"
)

// azureAt is a connection string for an account served at host (nothing is, there).
func azureAt(host string) string {
	return "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=c2VjcmV0LWtleS1vZi10aGUtdGVzdA==;BlobEndpoint=http://" + host + "/acct;"
}

// TestAzureOpenUnreachable: an az:// lake whose endpoint refuses connections, or accepts them
// and never answers, fails Open within the probe timeout with one line naming the URL.
func TestAzureOpenUnreachable(t *testing.T) {
	for _, tc := range []struct {
		name, host string
		want       string // in the error
	}{
		{"closed port", closedPort(t), "connection refused"},
		{"never answers", blackhole(t), storage.ErrTimeout.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(storage.EnvAzureConnectionString, azureAt(tc.host))
			const url = "az://lake-container/chat"
			start := time.Now()
			s, err := storage.Open(t.Context(), url, nil)
			took := time.Since(start)
			if err == nil {
				t.Fatalf("Open(%s) against %s succeeded: %s", url, tc.name, s.URL())
			}
			t.Logf("Open failed after %s: %v", took.Round(time.Millisecond), err)
			if took > storage.DefaultProbeTimeout+5*time.Second {
				t.Errorf("Open took %s, want at most the probe timeout %s", took, storage.DefaultProbeTimeout)
			}
			msg := err.Error()
			if !strings.Contains(msg, url) || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line naming %s and %q", msg, url, tc.want)
			}
			if tc.want == storage.ErrTimeout.Error() && !errors.Is(err, storage.ErrTimeout) {
				t.Errorf("error %v does not match ErrTimeout", err)
			}
		})
	}
}

// TestAzureCallDeadlines is TestGCSCallDeadlines for Azure: every call against storage that
// never answers ends by its own deadline (ErrTimeout), and against a closed port by its
// attempts with the connection error.
func TestAzureCallDeadlines(t *testing.T) {
	const d = 500 * time.Millisecond
	const backstop = 3 * time.Minute
	client := func(host string) *service.Client {
		c, err := service.NewClientFromConnectionString(azureAt(host), nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name     string
		client   *service.Client
		opts     *storage.AzureOptions
		deadline bool
		text     string
	}{
		{"never answers", client(blackhole(t)), &storage.AzureOptions{OpTimeout: d, ChunkTimeout: d}, true, "within"},
		{"closed port", client(closedPort(t)), nil, false, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := storage.NewAzureWithOptions(tc.client, "lake", "chat", tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range gcsCalls {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					ctx, cancel := context.WithTimeout(t.Context(), backstop)
					defer cancel()
					start := time.Now()
					err := c.call(ctx, s)
					t.Logf("%s failed after %s: %v", c.name, time.Since(start).Round(time.Millisecond), err)
					if err == nil {
						t.Fatalf("%s succeeded against storage that %s", c.name, tc.name)
					}
					if ctx.Err() != nil {
						t.Fatalf("%s ended by the %s backstop, not by the store: %v", c.name, backstop, err)
					}
					if errors.Is(err, storage.ErrTimeout) != tc.deadline {
						t.Errorf("%s: error %v; want it to match ErrTimeout: %v", c.name, err, tc.deadline)
					}
					if !strings.Contains(err.Error(), tc.text) || strings.Contains(err.Error(), "\n") {
						t.Errorf("%s: error %q, want one line with %q", c.name, err, tc.text)
					}
					if strings.Contains(err.Error(), "c2VjcmV0") {
						t.Errorf("%s: error holds the account key: %v", c.name, err)
					}
				})
			}
		})
	}
}

// TestAzureSlowReader: time between a reader's calls is not counted against its deadline.
func TestAzureSlowProducerAndReader(t *testing.T) {
	cs := startAzuriteConn(t, "slow")
	c, err := service.NewClientFromConnectionString(cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	const d = 300 * time.Millisecond
	s, err := storage.NewAzureWithOptions(c, "slow", "lake", &storage.AzureOptions{OpTimeout: d, ChunkTimeout: d})
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Create(t.Context(), "x.parquet")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := w.Write([]byte("part")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * d)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close after a slow producer: %v", err)
	}
	r, err := s.Open(t.Context(), "x.parquet")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * d)
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(b) != "partpartpart" {
		t.Fatalf("read back %q, %v", b, err)
	}
}
