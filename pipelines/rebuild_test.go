package pipelines_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/pipelines"
)

// TestCorruptStateRebuild: a state file cut in half, empty, garbage or JSON null stops every
// command before it writes anything, with an error matching ErrCorruptState and ErrBadInput
// that names the way out; verify reports it; RebuildState keeps the bad file aside and rebuilds
// the days and the watermark from the manifests, after which the nightly run works and the lake
// equals the truth.
func TestCorruptStateRebuild(t *testing.T) {
	ctx := context.Background()
	corruptions := []struct {
		name string
		bad  func(good []byte) []byte
	}{
		{"cut in half", func(g []byte) []byte { return g[:len(g)/2] }},
		{"empty", func([]byte) []byte { return nil }},
		{"garbage", func([]byte) []byte { return []byte("\x00\xffnot json at all") }},
		{"null", func([]byte) []byte { return []byte("null\n") }},
	}
	for _, tc := range corruptions {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, simOptions(21, 6), nil)
			p := h.pipeline(h.client(nil), nil)
			if _, err := p.Nightly(ctx, day(t, "2024-05-01")); err != nil {
				t.Fatal(err)
			}
			good, _, err := h.store.Get(ctx, load.StatePath)
			if err != nil {
				t.Fatal(err)
			}
			before, err := pipelines.ReadState(ctx, h.lake)
			if err != nil {
				t.Fatal(err)
			}
			bad := tc.bad(good)
			putRaw(t, h, load.StatePath, bad)
			listing := snapshot(t, h)
			// Every write of the commands below is recorded: none may write, not even the lock
			// that it would remove again.
			rec := &writeRecorder{Store: h.store}
			corruptLake := h.lake
			h.lake = mustLake(t, rec)
			pc := h.pipeline(h.client(nil), nil)
			h.lake = corruptLake

			checkCorrupt := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, pipelines.ErrCorruptState) || !errors.Is(err, pipelines.ErrBadInput) {
					t.Fatalf("%s on a corrupt state: %v, want ErrCorruptState and ErrBadInput", what, err)
				}
				if !strings.Contains(err.Error(), "chatlake state rebuild --lake "+h.store.URL()) {
					t.Fatalf("%s: %q does not name the way out", what, err)
				}
			}
			_, err = pipelines.ReadState(ctx, h.lake)
			checkCorrupt("ReadState", err)
			_, err = pc.Nightly(ctx, day(t, "2024-05-01"))
			checkCorrupt("Nightly", err)
			_, err = pc.Export(ctx, day(t, "2024-05-02"), day(t, "2024-05-03"))
			checkCorrupt("Export", err)
			_, err = pc.Backfill(ctx, day(t, "2024-05-02"), day(t, "2024-05-03"), false)
			checkCorrupt("Backfill", err)
			_, err = pc.Forget(ctx, []string{"someone"})
			checkCorrupt("Forget", err)
			_, err = pc.Publish(ctx)
			checkCorrupt("Publish", err)
			if w := rec.written(); len(w) > 0 {
				t.Fatalf("commands on a corrupt state wrote %v", w)
			}
			if got := snapshot(t, h); got != listing {
				t.Fatalf("a command wrote into the lake with a corrupt state:\nbefore %s\nafter  %s", listing, got)
			}
			rep, err := h.lake.Verify(ctx, "", "")
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) != 1 || rep.Problems[0].Kind != load.ProblemUnreadableState {
				t.Fatalf("verify on a corrupt state: %+v, want one %s", rep.Problems, load.ProblemUnreadableState)
			}

			r, err := p.RebuildState(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(r.Kept, load.StatePath+".corrupt-") {
				t.Fatalf("kept as %q", r.Kept)
			}
			if kept, _, err := h.store.Get(ctx, r.Kept); err != nil || !bytes.Equal(kept, bad) {
				t.Fatalf("the bad file was not kept as it was: %v", err)
			}
			after, err := pipelines.ReadState(ctx, h.lake)
			if err != nil {
				t.Fatal(err)
			}
			if after.Watermark != before.Watermark || len(after.Days) != len(before.Days) || r.Watermark != before.Watermark {
				t.Fatalf("rebuilt watermark %q with %d days, the lost state had %q with %d days",
					after.Watermark, len(after.Days), before.Watermark, len(before.Days))
			}
			if _, err := p.RebuildState(ctx, false); !errors.Is(err, pipelines.ErrBadInput) {
				t.Fatalf("rebuilding a state that reads fine: %v, want ErrBadInput", err)
			}

			h.clock.Set(h.clock.Now().AddDate(0, 0, 2))
			if _, err := p.Nightly(ctx, time.Time{}); err != nil {
				t.Fatalf("the nightly run after the rebuild: %v", err)
			}
			h.check(day(t, "2024-05-01"), day(t, "2024-05-07"))
		})
	}
}

// TestRebuildWatermarkStopsAtAGap: the rebuilt watermark is the last day of the consecutive
// complete days from the first one; a day after a gap, or an incomplete day, is not behind it.
func TestRebuildWatermarkStopsAtAGap(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, simOptions(22, 4), nil)
	p := h.pipeline(h.client(nil), nil)
	if _, err := p.Export(ctx, day(t, "2024-05-01"), day(t, "2024-05-02")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Export(ctx, day(t, "2024-05-05"), day(t, "2024-05-06")); err != nil {
		t.Fatal(err)
	}
	putRaw(t, h, load.StatePath, []byte("{"))
	r, err := p.RebuildState(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if r.Watermark != "2024-05-02" || r.Days != 4 {
		t.Fatalf("rebuilt %+v, want watermark 2024-05-02 over 4 days", r)
	}

	// An incomplete manifest (an interrupted publish) ends the run of complete days.
	m, err := h.lake.Manifest(ctx, "2024-05-02")
	if err != nil {
		t.Fatal(err)
	}
	m.Complete = false
	data, _ := json.Marshal(m)
	putRaw(t, h, "_chatlake/manifests/messages/dt=2024-05-02.json", data)
	r, err = p.RebuildState(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if r.Watermark != "2024-05-01" || len(r.Incomplete) != 1 || r.Incomplete[0] != "2024-05-02" {
		t.Fatalf("rebuilt %+v, want watermark 2024-05-01 and 2024-05-02 incomplete", r)
	}
}

// putRaw replaces an object of the lake with data, whatever its version.
func putRaw(t *testing.T, h *harness, name string, data []byte) {
	t.Helper()
	ctx := context.Background()
	_, version, err := h.store.Get(ctx, name)
	if err != nil && !errors.Is(err, storage.ErrNotExist) {
		t.Fatal(err)
	}
	if _, err := h.store.PutIf(ctx, name, data, version); err != nil {
		t.Fatal(err)
	}
}

// snapshot names every object of the lake with its version.
func snapshot(t *testing.T, h *harness) string {
	t.Helper()
	objs, err := h.store.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, o := range objs {
		fmt.Fprintf(&b, "%s@%s ", o.Name, o.Version)
	}
	return b.String()
}

// writeRecorder records the names of every write, move and delete made through it.
type writeRecorder struct {
	storage.Store
	mu    sync.Mutex
	names []string
}

func (w *writeRecorder) record(name string) {
	w.mu.Lock()
	w.names = append(w.names, name)
	w.mu.Unlock()
}

func (w *writeRecorder) written() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.names)
}

func (w *writeRecorder) Create(ctx context.Context, name string) (storage.Writer, error) {
	w.record(name)
	return w.Store.Create(ctx, name)
}

func (w *writeRecorder) Move(ctx context.Context, src, dst string) (storage.Object, error) {
	w.record(dst)
	return w.Store.Move(ctx, src, dst)
}

func (w *writeRecorder) Delete(ctx context.Context, name string) error {
	w.record(name)
	return w.Store.Delete(ctx, name)
}

func (w *writeRecorder) PutIf(ctx context.Context, name string, data []byte, ifVersion string) (string, error) {
	w.record(name)
	return w.Store.PutIf(ctx, name, data, ifVersion)
}

func (w *writeRecorder) DeleteIf(ctx context.Context, name string, ifVersion string) error {
	w.record(name)
	return w.Store.DeleteIf(ctx, name, ifVersion)
}
