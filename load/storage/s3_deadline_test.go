package storage_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
)

// TestS3OpenUnreachable: an S3 endpoint that refuses connections, or accepts them and never
// answers, fails Open with the default options well within a minute, on one line that names
// the URL and the cause, and never shows the secret key.
func TestS3OpenUnreachable(t *testing.T) {
	for _, kv := range storagetest.MotoEnv() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	for _, tc := range []struct {
		name, host string
		want       string // in the error
	}{
		{"closed port", "127.0.0.1:1", "connection refused"},
		{"never answers", blackhole(t), storage.ErrTimeout.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const url = "s3://lake-bucket/chat"
			start := time.Now()
			s, err := storage.Open(t.Context(), url, &storage.OpenOptions{S3Endpoint: "http://" + tc.host, S3PathStyle: true})
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
			if strings.Contains(msg, storagetest.MotoSecretKey) {
				t.Errorf("error %q shows the secret key", msg)
			}
		})
	}
}

// TestS3CallDeadlines runs every call against storage that never answers (each must fail with
// ErrTimeout: its own deadline ended it) and against a closed port with the default options
// (each must give up after MaxAttempts with the connection error, not by a deadline), as
// TestGCSCallDeadlines does for GCS. No error may show the secret key.
func TestS3CallDeadlines(t *testing.T) {
	const d = 500 * time.Millisecond
	const backstop = 3 * time.Minute
	for _, tc := range []struct {
		name     string
		host     string
		opts     *storage.S3Options
		deadline bool // the store's deadline ends the call (ErrTimeout); else its attempts do
		text     string
	}{
		{"never answers", blackhole(t), &storage.S3Options{OpTimeout: d, ChunkTimeout: d}, true, "within"},
		{"closed port", "127.0.0.1:1", nil, false, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := storage.NewS3WithOptions(storagetest.MotoClient("http://"+tc.host), "lake", "chat", tc.opts)
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
					took := time.Since(start)
					t.Logf("%s failed after %s: %v", c.name, took.Round(time.Millisecond), err)
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
					if strings.Contains(err.Error(), storagetest.MotoSecretKey) {
						t.Errorf("%s: error %q shows the secret key", c.name, err)
					}
				})
			}
		})
	}
}

// TestS3SlowProducer: time between a writer's calls is not counted against its deadlines, so
// a producer (and a reader) slower than the deadlines still writes (and reads).
func TestS3SlowProducer(t *testing.T) {
	_, client := storagetest.StartMoto(t, "slow")
	const d = 300 * time.Millisecond
	s, err := storage.NewS3WithOptions(client, "slow", "lake", &storage.S3Options{OpTimeout: d, ChunkTimeout: d})
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
