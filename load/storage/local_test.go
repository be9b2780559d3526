package storage_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
)

func TestLocal(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		l, err := storage.NewLocal(filepath.Join(t.TempDir(), "lake"))
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}

func TestNewLocal(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir string
		wantErr   bool
	}{
		{"new nested dir", filepath.Join(tmp, "x", "y", "lake"), false},
		{"existing dir", tmp, false},
		{"a file", file, true},
		{"below a file", filepath.Join(file, "lake"), true},
		{"not writable", "/proc", true}, // not writable even by root
		{"empty", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := storage.NewLocal(tc.dir)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("NewLocal(%q) succeeded, want an error", tc.dir)
				}
				if !strings.Contains(err.Error(), tc.dir) {
					t.Fatalf("NewLocal(%q) error %q does not name the directory", tc.dir, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewLocal(%q): %v", tc.dir, err)
			}
			if fi, err := os.Stat(tc.dir); err != nil || !fi.IsDir() {
				t.Fatalf("directory %q not created: %v", tc.dir, err)
			}
			if l.URL() != tc.dir {
				t.Fatalf("URL() = %q, want %q", l.URL(), tc.dir)
			}
		})
	}
}

// TestLocalNameEscape checks that no name reaches outside the root, through any method.
func TestLocalNameEscape(t *testing.T) {
	ctx := t.Context()
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root")
	outside := filepath.Join(tmp, "outside.txt")
	if err := os.WriteFile(outside, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := storage.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"../outside.txt", "a/../../outside.txt", outside, "/outside.txt", "./../outside.txt"} {
		t.Run(name, func(t *testing.T) {
			w, err := l.Create(ctx, name)
			if err == nil {
				w.Write([]byte("bad"))
				w.Close()
			}
			if !errors.Is(err, storage.ErrBadName) {
				t.Errorf("Create(%q) = %v, want ErrBadName", name, err)
			}
			if _, err := l.PutIf(ctx, name, []byte("bad"), ""); !errors.Is(err, storage.ErrBadName) {
				t.Errorf("PutIf(%q) = %v, want ErrBadName", name, err)
			}
			if err := l.Delete(ctx, name); !errors.Is(err, storage.ErrBadName) {
				t.Errorf("Delete(%q) = %v, want ErrBadName", name, err)
			}
			if _, _, err := l.Get(ctx, name); !errors.Is(err, storage.ErrBadName) {
				t.Errorf("Get(%q) = %v, want ErrBadName", name, err)
			}
			if _, err := l.Move(ctx, name, "in.txt"); !errors.Is(err, storage.ErrBadName) {
				t.Errorf("Move(%q, in.txt) = %v, want ErrBadName", name, err)
			}
		})
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "keep" {
		t.Fatalf("file outside the root: %q, %v; want it untouched", b, err)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if want := []string{"outside.txt", "root"}; !slices.Equal(got, want) {
		t.Fatalf("parent of the root holds %q, want %q", got, want)
	}
}

// TestLocalAbandonedCreate is the crash case: a Create that never reaches Close (the process
// died) leaves its temporary file on disk, but neither List nor an analyst's glob sees it.
func TestLocalAbandonedCreate(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	l, err := storage.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"messages/dt=2024-05-01/part-00000-of-00002.parquet", "top.parquet"} {
		if _, err := l.PutIf(ctx, name, []byte("PAR1 done"), ""); err != nil {
			t.Fatal(err)
		}
	}
	// Globs that name an extension or a file-name prefix; a bare "*" (which in Go and most
	// tools matches dotfiles too) would see the temporaries, see the package doc.
	globs := []string{"*.parquet", "messages/dt=*/*.parquet", "messages/*/*.parquet", "messages/dt=2024-05-01/part-*", "*/*/*.parquet"}
	globAll := func() map[string][]string {
		out := map[string][]string{}
		for _, g := range globs {
			m, err := filepath.Glob(filepath.Join(root, g))
			if err != nil {
				t.Fatal(err)
			}
			out[g] = m
		}
		return out
	}
	beforeGlob := globAll()
	beforeList, err := l.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}

	// Abandoned: never closed, never aborted, its context never cancelled.
	var abandoned []storage.Writer
	for _, name := range []string{"messages/dt=2024-05-01/part-00001-of-00002.parquet", "messages/dt=2024-05-02/part-00000-of-00001.parquet", "new.parquet"} {
		w, err := l.Create(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("PAR1 half a file")); err != nil {
			t.Fatal(err)
		}
		abandoned = append(abandoned, w)
	}
	t.Cleanup(func() {
		for _, w := range abandoned {
			w.Abort()
		}
	})

	// The temporaries exist (so the checks below are about naming, not about absence).
	tmps, err := filepath.Glob(filepath.Join(root, "messages", "dt=2024-05-01", ".*"))
	if err != nil || len(tmps) != 1 {
		t.Fatalf("temporary files in the partition: %q, %v; want one", tmps, err)
	}

	afterList, err := l.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(afterList, beforeList) {
		t.Fatalf("List changed by abandoned writes:\nbefore %+v\nafter  %+v", beforeList, afterList)
	}
	afterGlob := globAll()
	for _, g := range globs {
		if !slices.Equal(afterGlob[g], beforeGlob[g]) {
			t.Errorf("glob %q: before %q, after %q", g, beforeGlob[g], afterGlob[g])
		}
	}
	// A fresh store over the same directory (the next run) does not see them either.
	l2, err := storage.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := l2.List(ctx, ""); err != nil || !slices.Equal(got, beforeList) {
		t.Fatalf("new store List = %+v, %v; want %+v", got, err, beforeList)
	}
}

// TestLocalCancelRemovesTemp checks that cancelling a write's context removes its temporary
// file even if the writer is never touched again.
func TestLocalCancelRemovesTemp(t *testing.T) {
	root := t.TempDir()
	l, err := storage.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "dt=2024-05-01")
	for _, end := range []string{"cancel", "abort"} {
		t.Run(end, func(t *testing.T) {
			ctx, cancel := contextWithCancel(t)
			w, err := l.Create(ctx, "dt=2024-05-01/part.parquet")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write([]byte("data")); err != nil {
				t.Fatal(err)
			}
			if n := countEntries(t, dir); n != 1 {
				t.Fatalf("%d entries in %s during the write, want 1 (the temporary)", n, dir)
			}
			if end == "cancel" {
				cancel()
			} else if err := w.Abort(); err != nil {
				t.Fatal(err)
			}
			// context.AfterFunc runs in its own goroutine; Close waits for it via the writer's lock.
			if err := w.Close(); err == nil {
				t.Fatal("Close after the end succeeded")
			}
			if n := countEntries(t, dir); n != 0 {
				t.Fatalf("%d entries in %s after %s, want 0", n, dir, end)
			}
		})
	}
}

func countEntries(t *testing.T, dir string) int {
	t.Helper()
	e, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(e)
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	return ctx, cancel
}
