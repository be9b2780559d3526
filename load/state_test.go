package load

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chatlake/chatlake/load/storage"
)

// TestReadState: what each stored state reads as: none (an empty state, version ""), the
// current format, the first format (its backfills dropped), a newer format (ErrUnknownFormat),
// and files that do not decode (ErrCorruptState).
func TestReadState(t *testing.T) {
	cases := []struct {
		name    string
		stored  string // "" for no state file
		want    error
		wantWM  string
		backfil int
	}{
		{name: "none"},
		{name: "current", stored: `{"format":2,"watermark":"2024-05-03","backfills":{"p":{"from":"2024-05-01","to":"2024-05-02","selectors":null,"started":"2024-05-01T00:00:00Z"}}}`, wantWM: "2024-05-03", backfil: 1},
		{name: "first format", stored: `{"format":1,"watermark":"2024-05-03","backfills":{"u":{}}}`, wantWM: "2024-05-03"},
		{name: "newer format", stored: `{"format":3}`, want: ErrUnknownFormat},
		{name: "cut short", stored: `{"format":2,"water`, want: ErrCorruptState},
		{name: "empty", stored: " ", want: ErrCorruptState},
		{name: "no format", stored: `{"watermark":"2024-05-03"}`, want: ErrCorruptState},
		{name: "not an object", stored: `[1]`, want: ErrCorruptState},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			store := newMemStore()
			if c.stored != "" {
				if _, err := store.PutIf(ctx, StatePath, []byte(c.stored), ""); err != nil {
					t.Fatal(err)
				}
			}
			st, version, err := lockLake(t, store).ReadState(ctx)
			if c.want != nil {
				if !errors.Is(err, c.want) || !strings.Contains(err.Error(), StatePath) {
					t.Fatalf("error %v; want %v naming %s", err, c.want, StatePath)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.Format != stateFormat || st.Watermark != c.wantWM || len(st.Backfills) != c.backfil || (version == "") != (c.stored == "") {
				t.Fatalf("state %+v version %q", st, version)
			}
		})
	}
}

// TestWriteState: a write is conditional on the version read: the first writer of two that
// read the same version wins, the second fails with ErrStateChanged and writes nothing; a
// state kept aside is the file as it was, under a name of its own.
func TestWriteState(t *testing.T) {
	for storeName, newStore := range lockStores(t) {
		t.Run(storeName, func(t *testing.T) {
			ctx := context.Background()
			lake := lockLake(t, newStore())
			st, v0, err := lake.ReadState(ctx)
			if err != nil {
				t.Fatal(err)
			}
			a, b := st.Clone(), st.Clone()
			a.Watermark, b.Watermark = "2024-05-01", "2024-05-02"
			v1, err := lake.WriteState(ctx, a, v0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := lake.WriteState(ctx, b, v0); !errors.Is(err, ErrStateChanged) || !errors.Is(err, storage.ErrPrecondition) {
				t.Fatalf("second writer of version %q: %v; want ErrStateChanged", v0, err)
			}
			got, v, err := lake.ReadState(ctx)
			if err != nil || got.Watermark != "2024-05-01" || v != v1 {
				t.Fatalf("state %+v version %q (%v); want the first writer's", got, v, err)
			}
			now := time.Date(2024, 5, 3, 4, 5, 6, 0, time.UTC)
			kept, kv, err := lake.KeepStateAside(ctx, now)
			if err != nil || kv != v1 || !strings.HasPrefix(kept, StatePath+".corrupt-20240503T040506") {
				t.Fatalf("kept as %q version %q (%v)", kept, kv, err)
			}
			again, _, err := lake.KeepStateAside(ctx, now)
			if err != nil || again == kept {
				t.Fatalf("kept again as %q (%v); want another name than %q", again, err, kept)
			}
			orig, _, _ := lake.store.Get(ctx, StatePath)
			copied, _, err := lake.store.Get(ctx, kept)
			if err != nil || string(copied) != string(orig) {
				t.Fatalf("kept copy %q (%v); want %q", copied, err, orig)
			}
		})
	}
}
