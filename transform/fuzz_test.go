package transform

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzFlatten: Flatten never panics; it either fails with a *FieldError matching ErrNotObject
// or ErrTimestamp, or gives a row with a UTC, millisecond SentAt, a compact JSON object (or nil)
// in ExtraJSON, and a stable identity.
func FuzzFlatten(f *testing.F) {
	for _, m := range realisticMix() {
		f.Add([]byte(m))
	}
	inputs, _ := filepath.Glob(filepath.Join("testdata", "flatten", "*", "input.json"))
	for _, p := range inputs {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"timestamp":"2024-05-02 10:15:32.123+0000","file":{"url":1,"x":null},"template":"t","response":[1,{"a":null}]}`))
	f.Add([]byte(`{"timestamp":-62135596800000,"message_type":"OPTIONS","response":"[\"a\",[1]]"}`))
	f.Add([]byte(`[]`))
	src, u := testSource(), testUser()
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Flatten(src, u, raw)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || !(errors.Is(err, ErrNotObject) || errors.Is(err, ErrTimestamp)) {
				t.Fatalf("error %v (%T) is not a *FieldError matching a sentinel", err, err)
			}
			if len(fe.Value) > maxValueLen+3 {
				t.Fatalf("error value %d bytes long", len(fe.Value))
			}
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("invalid JSON %q flattened without error", raw)
		}
		checkInvariants(t, m)
		if m.SentAt.Year() < 1 || m.SentAt.Year() > 9999 {
			t.Fatalf("SentAt %v outside years 0001-9999", m.SentAt)
		}
		again, err := Flatten(src, u, raw)
		if err != nil || IdentityOf(&again) != IdentityOf(&m) {
			t.Fatalf("second Flatten differs: %v", err)
		}
	})
}
