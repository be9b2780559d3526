package storage_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/chatlake/chatlake/load/storage"
)

// dirsUnder lists the directories under root (root excluded), relative and slash-separated.
func dirsUnder(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLocalPrunesEmptyDirectories: a local store's directories last only while objects are
// under them, as a cloud store's names do; the root stays.
func TestLocalPrunesEmptyDirectories(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "lake")
	l, err := storage.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	put := func(name string) {
		t.Helper()
		if _, err := l.PutIf(ctx, name, []byte(name), ""); err != nil {
			t.Fatal(err)
		}
	}
	put("_chatlake/runs/p1/attempts/a1/done/batch-0.done")
	put("_chatlake/runs/p1/attempts/a1/done/batch-1.done")
	put("_chatlake/runs/p1/plan.json")
	put("_chatlake/staging/r1/dt=2024-05-01/part-0.parquet")
	put("messages/dt=2024-05-01/part-0.parquet")

	steps := []struct {
		what string
		do   func() error
		want []string
	}{
		{"delete one of two in a directory", func() error {
			return l.Delete(ctx, "_chatlake/runs/p1/attempts/a1/done/batch-0.done")
		}, []string{"_chatlake", "_chatlake/runs", "_chatlake/runs/p1", "_chatlake/runs/p1/attempts",
			"_chatlake/runs/p1/attempts/a1", "_chatlake/runs/p1/attempts/a1/done", "_chatlake/staging",
			"_chatlake/staging/r1", "_chatlake/staging/r1/dt=2024-05-01", "messages", "messages/dt=2024-05-01"}},
		{"conditional delete of the last one", func() error {
			_, v, err := l.Get(ctx, "_chatlake/runs/p1/attempts/a1/done/batch-1.done")
			if err != nil {
				return err
			}
			return l.DeleteIf(ctx, "_chatlake/runs/p1/attempts/a1/done/batch-1.done", v)
		}, []string{"_chatlake", "_chatlake/runs", "_chatlake/runs/p1", "_chatlake/staging",
			"_chatlake/staging/r1", "_chatlake/staging/r1/dt=2024-05-01", "messages", "messages/dt=2024-05-01"}},
		{"a move out of a directory", func() error {
			_, err := l.Move(ctx, "_chatlake/staging/r1/dt=2024-05-01/part-0.parquet", "messages/dt=2024-05-01/part-1.parquet")
			return err
		}, []string{"_chatlake", "_chatlake/runs", "_chatlake/runs/p1", "messages", "messages/dt=2024-05-01"}},
		{"the last object", func() error {
			for _, n := range []string{"_chatlake/runs/p1/plan.json", "messages/dt=2024-05-01/part-0.parquet", "messages/dt=2024-05-01/part-1.parquet"} {
				if err := l.Delete(ctx, n); err != nil {
					return err
				}
			}
			return nil
		}, nil},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		if got := dirsUnder(t, root); !slices.Equal(got, s.want) {
			t.Fatalf("after %s: directories %q, want %q", s.what, got, s.want)
		}
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		t.Fatalf("the root is gone: %v", err)
	}
}

// TestLocalPruneRaces: writers that make a directory while others empty and prune it never
// fail, and every object written and not deleted is there (run with -race; the store is shared
// as by a run's goroutines, and the files as by processes).
func TestLocalPruneRaces(t *testing.T) {
	ctx := context.Background()
	l, err := storage.NewLocal(filepath.Join(t.TempDir(), "lake"))
	if err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 4, 150
	var g errgroup.Group
	for w := range workers {
		g.Go(func() error {
			for i := range rounds {
				scratch := fmt.Sprintf("shared/a/b/w%d-%d", w, i)
				kept := fmt.Sprintf("shared/a/kept/w%d-%d", w, i)
				var err error
				switch i % 3 {
				case 0:
					_, err = l.PutIf(ctx, scratch, []byte("x"), "")
				case 1:
					var wr storage.Writer
					if wr, err = l.Create(ctx, scratch); err == nil {
						if _, err = wr.Write([]byte("x")); err == nil {
							err = wr.Close()
						}
					}
				case 2:
					if _, err = l.PutIf(ctx, scratch+".src", []byte("x"), ""); err == nil {
						_, err = l.Move(ctx, scratch+".src", scratch)
					}
				}
				if err == nil {
					err = l.Delete(ctx, scratch)
				}
				if err == nil && i%10 == 0 {
					_, err = l.PutIf(ctx, kept, []byte("k"), "")
				}
				if err == nil {
					_, err = l.List(ctx, "shared/")
				}
				if err != nil {
					return fmt.Errorf("writer %d, round %d: %w", w, i, err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	objs, err := l.List(ctx, "shared/")
	if err != nil {
		t.Fatal(err)
	}
	if want := workers * rounds / 10; len(objs) != want {
		t.Fatalf("%d objects left, want the %d kept", len(objs), want)
	}
}
