package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
)

// blackhole returns a loopback address that accepts connections, reads what it is sent and
// never answers: the storage a scheduler's job hangs on.
func blackhole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

// TestOpenUnreachable is the reproduction, on every backend: the environment names
// storage that refuses connections, or accepts them and never answers. With the default
// options Open must fail well within a minute, on one line that names the URL and the cause,
// and shows no secret.
func TestOpenUnreachable(t *testing.T) {
	for _, b := range backends {
		if b.open == nil {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range []struct {
				name, host string
				want       string // in the error
			}{
				{"closed port", closedPort(t), "connection refused"},
				{"never answers", blackhole(t), storage.ErrTimeout.Error()},
			} {
				t.Run(tc.name, func(t *testing.T) {
					url, opts := b.open(t, tc.host)
					start := time.Now()
					s, err := storage.Open(t.Context(), url, opts)
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
					if b.secret != "" && strings.Contains(msg, b.secret) {
						t.Errorf("error %q shows the secret", msg)
					}
				})
			}
		})
	}
}

// storeCalls are every call of a Store, each returning its error.
var storeCalls = []struct {
	name string
	call func(ctx context.Context, s storage.Store) error
}{
	{"Stat", func(ctx context.Context, s storage.Store) error { _, err := s.Stat(ctx, "a.json"); return err }},
	{"Get", func(ctx context.Context, s storage.Store) error { _, _, err := s.Get(ctx, "a.json"); return err }},
	{"Open", func(ctx context.Context, s storage.Store) error {
		r, err := s.Open(ctx, "a.json")
		if err == nil {
			r.Close()
		}
		return err
	}},
	{"List", func(ctx context.Context, s storage.Store) error { _, err := s.List(ctx, "dt="); return err }},
	{"PutIf", func(ctx context.Context, s storage.Store) error {
		_, err := s.PutIf(ctx, "a.json", []byte("{}"), "")
		return err
	}},
	{"PutIfVersion", func(ctx context.Context, s storage.Store) error {
		_, err := s.PutIf(ctx, "a.json", []byte("{}"), "7")
		return err
	}},
	{"DeleteIf", func(ctx context.Context, s storage.Store) error { return s.DeleteIf(ctx, "a.json", "7") }},
	{"Delete", func(ctx context.Context, s storage.Store) error { return s.Delete(ctx, "a.json") }},
	{"Move", func(ctx context.Context, s storage.Store) error {
		_, err := s.Move(ctx, "a.json", "b.json")
		return err
	}},
	{"CreateSmall", func(ctx context.Context, s storage.Store) error { return writeAll(ctx, s, 10) }},
	{"CreateChunks", func(ctx context.Context, s storage.Store) error { return writeAll(ctx, s, 20<<20) }},
}

// writeAll writes an object of n bytes in one Write and closes it.
func writeAll(ctx context.Context, s storage.Store, n int) error {
	w, err := s.Create(ctx, "dt=2024-05-01/part-0.parquet")
	if err != nil {
		return err
	}
	if _, err := w.Write(bytes.Repeat([]byte("x"), n)); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

// TestCallDeadlines runs every call of every backend against storage that never answers
// (each must fail with ErrTimeout: its own deadline ended it) and against a closed port with
// the default options (each must give up after MaxAttempts with the connection error, not by
// a deadline). The calls run in parallel on a machine that may be loaded, so no call is held
// to a wall-clock bound: what ended it is the assertion, and a backstop context, many times
// any deadline, catches a call that would hang (an error of the backstop is not ErrTimeout).
// No error may show the backend's secret.
func TestCallDeadlines(t *testing.T) {
	const d = 500 * time.Millisecond
	const backstop = 3 * time.Minute
	for _, b := range backends {
		if b.at == nil {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []struct {
				name     string
				host     string
				d        time.Duration // OpTimeout and ChunkTimeout; 0: the defaults
				deadline bool          // the store's deadline ends the call (ErrTimeout); else its attempts do
				text     string
			}{
				{"never answers", blackhole(t), d, true, "within"},
				{"closed port", closedPort(t), 0, false, "connection refused"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					s := b.at(t, tc.host, tc.d)
					for _, c := range storeCalls {
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
							if b.secret != "" && strings.Contains(err.Error(), b.secret) {
								t.Errorf("%s: error %q shows the secret", c.name, err)
							}
						})
					}
				})
			}
		})
	}
}

// TestSlowProducer: on every backend, time between a writer's calls is not counted against
// its deadlines, so a producer (and a reader) slower than the deadlines still writes (and
// reads).
func TestSlowProducer(t *testing.T) {
	const d = 300 * time.Millisecond
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.start(t, "slow").store(t, "lake", d)
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
			time.Sleep(2 * d) // a slow reader too
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || string(got) != "partpartpart" {
				t.Fatalf("read back %q, %v", got, err)
			}
		})
	}
}

// TestOptionsValidated: a negative option is refused with an error naming the field.
func TestOptionsValidated(t *testing.T) {
	_, client := storagetest.StartFakeGCS(t, "opts")
	if _, err := storage.NewGCSWithOptions(client, "opts", "", &storage.GCSOptions{ChunkTimeout: -1}); err == nil || !strings.Contains(err.Error(), "ChunkTimeout") {
		t.Errorf("NewGCSWithOptions with ChunkTimeout -1: %v, want an error naming ChunkTimeout", err)
	}
	if _, err := storage.NewGCSWithOptions(client, "opts", "", &storage.GCSOptions{MaxAttempts: -1}); err == nil || !strings.Contains(err.Error(), "MaxAttempts") {
		t.Errorf("NewGCSWithOptions with MaxAttempts -1: %v, want an error naming MaxAttempts", err)
	}
	dir := filepath.Join(t.TempDir(), "lake")
	for _, o := range []storage.OpenOptions{{OpTimeout: -time.Second}, {ProbeTimeout: -time.Second}} {
		if _, err := storage.Open(t.Context(), dir, &o); err == nil || !strings.Contains(err.Error(), "Timeout") {
			t.Errorf("Open with %+v: %v, want an error naming the field", o, err)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Open with invalid options created %s", dir)
	}
}

// TestLocalLockDeadline: PutIf and DeleteIf wait for the lock file at most OpTimeout.
func TestLocalLockDeadline(t *testing.T) {
	dir := t.TempDir()
	const d = 200 * time.Millisecond
	l, err := storage.NewLocalWithOptions(dir, &storage.LocalOptions{OpTimeout: d})
	if err != nil {
		t.Fatal(err)
	}
	v, err := l.PutIf(t.Context(), "state.json", []byte("{}"), "")
	if err != nil {
		t.Fatal(err)
	}
	// Another holder of the lock: flock locks belong to open files, so this one conflicts.
	f, err := os.Open(filepath.Join(dir, ".chatlake-storage.lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"PutIf":    func() error { _, err := l.PutIf(t.Context(), "state.json", []byte("[]"), v); return err },
		"DeleteIf": func() error { return l.DeleteIf(t.Context(), "state.json", v) },
	} {
		start := time.Now()
		err := call()
		took := time.Since(start)
		if !errors.Is(err, storage.ErrTimeout) {
			t.Errorf("%s while the lock is held: %v, want ErrTimeout", name, err)
		}
		if took < d || took > d+2*time.Second {
			t.Errorf("%s gave up after %s, want about %s", name, took, d)
		}
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if _, err := l.PutIf(t.Context(), "state.json", []byte("[]"), v); err != nil {
		t.Fatalf("PutIf once the lock is free: %v", err)
	}
}

// TestMustExist: a lake that does not exist is an error matching ErrNotExist, and Open creates
// nothing; an existing one opens.
func TestMustExist(t *testing.T) {
	_, client := storagetest.StartFakeGCS(t, "must")
	if err := client.Bucket("must").Object("chat/_chatlake/state.json").NewWriter(t.Context()).Close(); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	missing := filepath.Join(tmp, "typo", "lake")
	opts := &storage.OpenOptions{GCSClient: client, MustExist: true}
	for _, url := range []string{missing, "file://" + missing, "gs://must/chta", "gs://must/cha"} {
		s, err := storage.Open(t.Context(), url, opts)
		if err == nil {
			t.Errorf("Open(%s, MustExist) = %s, want an error", url, s.URL())
			continue
		}
		if !errors.Is(err, storage.ErrNotExist) || !strings.Contains(err.Error(), url) {
			t.Errorf("Open(%s, MustExist): %v, want ErrNotExist naming the URL", url, err)
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "typo")); !os.IsNotExist(err) {
		t.Errorf("Open with MustExist created %s/typo: %v", tmp, err)
	}
	for _, url := range []string{tmp, "file://" + tmp, "gs://must/chat", "gs://must/chat/"} {
		if _, err := storage.Open(t.Context(), url, opts); err != nil {
			t.Errorf("Open(%s, MustExist) of an existing lake: %v", url, err)
		}
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("Open with MustExist left %d entries in the lake", len(entries))
	}
}
