package storage_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
)

// TestConformance runs the conformance suite on every backend twice: on one bucket, each
// subtest below its own prefix, and on a whole bucket that each subtest first empties (a
// prefix-less store sees everything in it).
func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Run("prefix", func(t *testing.T) {
				e := b.start(t, "lake")
				n := 0
				storagetest.Run(t, func(t *testing.T) storage.Store {
					n++ // each subtest gets its own prefix in the one bucket
					return e.store(t, fmt.Sprintf("runs/%d/", n), 0)
				})
			})
			t.Run("whole bucket", func(t *testing.T) {
				e := b.start(t, "whole")
				storagetest.Run(t, func(t *testing.T) storage.Store {
					s := e.store(t, "", 0)
					objs, err := s.List(t.Context(), "")
					if err != nil {
						t.Fatal(err)
					}
					for _, o := range objs {
						if err := s.Delete(t.Context(), o.Name); err != nil {
							t.Fatal(err)
						}
					}
					return s
				})
			})
		})
	}
}

// TestPrefixes checks on every backend that stores on neighbouring prefixes of one bucket do
// not see each other's objects, that names are relative to the prefix, and the URLs.
func TestPrefixes(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			e := b.start(t, "pfx")
			p1 := e.store(t, "p1", 0)
			p10 := e.store(t, "/p10/", 0)
			root := e.store(t, "", 0)
			for _, s := range []storage.Store{p1, p10} {
				if _, err := s.PutIf(ctx, "dt=2024-05-01/x.parquet", []byte(s.URL()), ""); err != nil {
					t.Fatal(err)
				}
			}
			base := b.scheme + "://pfx"
			for _, tc := range []struct {
				s    storage.Store
				url  string
				want []string
			}{
				{p1, base + "/p1", []string{"dt=2024-05-01/x.parquet"}},
				{p10, base + "/p10", []string{"dt=2024-05-01/x.parquet"}},
				{root, base, []string{"p1/dt=2024-05-01/x.parquet", "p10/dt=2024-05-01/x.parquet"}},
			} {
				if tc.s.URL() != tc.url {
					t.Errorf("URL() = %q, want %q", tc.s.URL(), tc.url)
				}
				objs, err := tc.s.List(ctx, "")
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, o := range objs {
					got = append(got, o.Name)
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("%s: List = %q, want %q", tc.url, got, tc.want)
				}
			}
			got, _, err := p10.Get(ctx, "dt=2024-05-01/x.parquet")
			if err != nil || string(got) != base+"/p10" {
				t.Fatalf("p10 object = %q, %v", got, err)
			}
		})
	}
}

// TestContentType checks on every backend the media type that a write sets from the name's
// extension, as the raw client sees it, whether the object was streamed (Create) or written
// whole (PutIf).
func TestContentType(t *testing.T) {
	write := map[string]func(ctx context.Context, s storage.Store, name string) error{
		"Create": func(ctx context.Context, s storage.Store, name string) error {
			w, err := s.Create(ctx, name)
			if err != nil {
				return err
			}
			if _, err := w.Write([]byte("x")); err != nil {
				w.Abort()
				return err
			}
			return w.Close()
		},
		"PutIf": func(ctx context.Context, s storage.Store, name string) error {
			_, err := s.PutIf(ctx, name, []byte("x"), "")
			return err
		},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := b.start(t, "ctype")
			for how, put := range write {
				s := e.store(t, how, 0)
				for name, want := range map[string]string{
					"dt=2024-05-01/p.parquet": "application/vnd.apache.parquet",
					"_state/state.json":       "application/json",
					"noext":                   "application/octet-stream",
				} {
					if err := put(t.Context(), s, name); err != nil {
						t.Fatalf("%s %s: %v", how, name, err)
					}
					got, err := e.contentType(t.Context(), how+"/"+name)
					if err != nil || got != want {
						t.Errorf("%s %s: ContentType %q, %v; want %q", how, name, got, err, want)
					}
				}
			}
		})
	}
}
