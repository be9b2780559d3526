package storage_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"

	gcs "cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
)

func TestGCS(t *testing.T) {
	_, client := storagetest.StartFakeGCS(t, "lake")
	n := 0
	storagetest.Run(t, func(t *testing.T) storage.Store {
		n++ // each subtest gets its own prefix in the one bucket
		return storage.NewGCS(client, "lake", fmt.Sprintf("runs/%d/", n))
	})
}

func TestGCSWholeBucket(t *testing.T) {
	_, client := storagetest.StartFakeGCS(t, "whole")
	storagetest.Run(t, func(t *testing.T) storage.Store {
		// Empty the bucket: a prefix-less store sees everything in it.
		s := storage.NewGCS(client, "whole", "")
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
}

// TestGCSPrefixes checks that stores on neighbouring prefixes of one bucket do not see each
// other's objects and that names are relative to the prefix.
func TestGCSPrefixes(t *testing.T) {
	ctx := t.Context()
	_, client := storagetest.StartFakeGCS(t, "b")
	p1 := storage.NewGCS(client, "b", "p1")
	p10 := storage.NewGCS(client, "b", "/p10/")
	root := storage.NewGCS(client, "b", "")
	for _, s := range []*storage.GCS{p1, p10} {
		if _, err := s.PutIf(ctx, "dt=2024-05-01/x.parquet", []byte(s.URL()), ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		s    *storage.GCS
		url  string
		want []string
	}{
		{p1, "gs://b/p1", []string{"dt=2024-05-01/x.parquet"}},
		{p10, "gs://b/p10", []string{"dt=2024-05-01/x.parquet"}},
		{root, "gs://b", []string{"p1/dt=2024-05-01/x.parquet", "p10/dt=2024-05-01/x.parquet"}},
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
	b, _, err := p10.Get(ctx, "dt=2024-05-01/x.parquet")
	if err != nil || string(b) != "gs://b/p10" {
		t.Fatalf("p10 object = %q, %v", b, err)
	}
}

// TestGCSContentType checks the media type set from the extension.
func TestGCSContentType(t *testing.T) {
	ctx := t.Context()
	_, client := storagetest.StartFakeGCS(t, "ct")
	s := storage.NewGCS(client, "ct", "lake")
	for name, want := range map[string]string{
		"dt=2024-05-01/p.parquet": "application/vnd.apache.parquet",
		"_state/state.json":       "application/json",
		"noext":                   "application/octet-stream",
	} {
		w, err := s.Create(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		a, err := client.Bucket("ct").Object("lake/" + name).Attrs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if a.ContentType != want {
			t.Errorf("%s: ContentType %q, want %q", name, a.ContentType, want)
		}
	}
}

// TestFakeGCSEnforcesWritePreconditions checks, with the raw client and no code of ours, that
// the emulator answers 412 to violated write preconditions. Without this, the suite's PutIf
// tests could pass on the emulator only because of our own checks.
func TestFakeGCSEnforcesWritePreconditions(t *testing.T) {
	ctx := t.Context()
	_, client := storagetest.StartFakeGCS(t, "pre")
	o := client.Bucket("pre").Object("x")
	put := func(cond *gcs.Conditions, data string) (int64, error) {
		h := o
		if cond != nil {
			h = o.If(*cond)
		}
		w := h.NewWriter(ctx)
		w.Write([]byte(data))
		if err := w.Close(); err != nil {
			return 0, err
		}
		return w.Attrs().Generation, nil
	}
	gen, err := put(&gcs.Conditions{DoesNotExist: true}, "one")
	if err != nil {
		t.Fatalf("create with DoesNotExist: %v", err)
	}
	for _, tc := range []struct {
		name string
		cond gcs.Conditions
	}{
		{"DoesNotExist on an existing object", gcs.Conditions{DoesNotExist: true}},
		{"GenerationMatch with a stale generation", gcs.Conditions{GenerationMatch: gen - 1}},
	} {
		_, err := put(&tc.cond, "bad")
		var ge *googleapi.Error
		if !errors.As(err, &ge) || ge.Code != http.StatusPreconditionFailed {
			t.Errorf("%s: error %v, want HTTP 412", tc.name, err)
		}
	}
	if _, err := put(&gcs.Conditions{GenerationMatch: gen}, "two"); err != nil {
		t.Fatalf("GenerationMatch with the current generation: %v", err)
	}
}
