package storage_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
)

func TestOpen(t *testing.T) {
	_, client := storagetest.StartFakeGCS(t, "lake-bucket")
	tmp := t.TempDir()
	file := filepath.Join(tmp, "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(tmp)
	opts := &storage.OpenOptions{GCSClient: client}

	for i, tc := range []struct {
		url     string
		wantURL string // "" = an error naming the URL is wanted
		wantGCS bool
	}{
		{"gs://lake-bucket/prod/lake", "gs://lake-bucket/prod/lake", true},
		{"gs://lake-bucket/prod/lake/", "gs://lake-bucket/prod/lake", true},
		{"gs://lake-bucket", "gs://lake-bucket", true},
		{"gs://lake-bucket/", "gs://lake-bucket", true},
		{"file://" + tmp + "/f1", tmp + "/f1", false},
		{"file://localhost" + tmp + "/f2", tmp + "/f2", false},
		{tmp + "/abs", tmp + "/abs", false},
		{"rel/dir", tmp + "/rel/dir", false},
		{"./rel2", tmp + "/rel2", false},
		{"gs://no-such-bucket/x", "", false},
		{"gs://", "", false},
		{"gs:lake-bucket/x", "", false},
		{"gs://lake-bucket/a/../b", "", false},
		{"gs://lake-bucket/x?generation=1", "", false},
		{"s3://lake-bucket/x", "", false},
		{"http://example.com/x", "", false},
		{"file://otherhost/x", "", false},
		{"file:relative", "", false},
		{"", "", false},
		{"   ", "", false},
		{file, "", false},
		{"file://" + file + "/sub", "", false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			s, err := storage.Open(t.Context(), tc.url, opts)
			if tc.wantURL == "" {
				if err == nil {
					t.Fatalf("Open(%q) = %s, want an error", tc.url, s.URL())
				}
				if tc.url != "" && !strings.Contains(err.Error(), tc.url) {
					t.Fatalf("Open(%q) error %q does not name the URL", tc.url, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q): %v", tc.url, err)
			}
			if s.URL() != tc.wantURL {
				t.Fatalf("Open(%q).URL() = %q, want %q", tc.url, s.URL(), tc.wantURL)
			}
			_, isGCS := s.(*storage.GCS)
			_, isLocal := s.(*storage.Local)
			if isGCS != tc.wantGCS || isLocal == tc.wantGCS {
				t.Fatalf("Open(%q) = %T, want GCS %v", tc.url, s, tc.wantGCS)
			}
			if _, ok := s.(io.Closer); ok {
				t.Fatalf("Open(%q) with a caller's client returned an io.Closer", tc.url)
			}
			// The store works.
			probe := fmt.Sprintf("probe-%d.json", i) // some cases share a root
			if _, err := s.PutIf(t.Context(), probe, []byte("{}"), ""); err != nil {
				t.Fatalf("PutIf: %v", err)
			}
			if b, _, err := s.Get(t.Context(), probe); err != nil || string(b) != "{}" {
				t.Fatalf("Get = %q, %v", b, err)
			}
		})
	}
}

// TestOpenEmulatorEnv opens gs:// URLs without a client, as a child process would: the
// library's own client, pointed at the emulator by STORAGE_EMULATOR_HOST.
func TestOpenEmulatorEnv(t *testing.T) {
	host, client := storagetest.StartFakeGCS(t, "env-bucket")
	t.Setenv("STORAGE_EMULATOR_HOST", host)

	s, err := storage.Open(t.Context(), "gs://env-bucket/lake", nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	c, ok := s.(io.Closer)
	if !ok {
		t.Fatalf("Open without a client returned %T, want an io.Closer", s)
	}
	defer c.Close()
	w, err := s.Create(t.Context(), "dt=2024-05-01/part-00000-of-00001.parquet")
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(strings.Repeat("PAR1", 1000))
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Visible through the test's own client, under the prefix.
	r, err := client.Bucket("env-bucket").Object("lake/dt=2024-05-01/part-00000-of-00001.parquet").NewReader(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(got) != string(data) {
		t.Fatalf("read back %d bytes, %v; want %d", len(got), err, len(data))
	}

	if _, err := storage.Open(t.Context(), "gs://missing-bucket/lake", nil); err == nil || !strings.Contains(err.Error(), "gs://missing-bucket/lake") {
		t.Fatalf("Open of a missing bucket: %v, want an error naming the URL", err)
	}
}
