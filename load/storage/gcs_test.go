package storage_test

import (
	"errors"
	"net/http"
	"testing"

	gcs "cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"

	"github.com/chatlake/chatlake/load/storage/storagetest"
)

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
