package load

import (
	"context"
	"io"
	"os"
	"sync/atomic"
	"testing"

	"github.com/chatlake/chatlake/schema"
)

// rangeCounter counts the ranged reads of a store whose objects are not local files.
type rangeCounter struct {
	*memStore
	reads atomic.Int64
}

func (c *rangeCounter) OpenRange(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	c.reads.Add(1)
	return c.memStore.OpenRange(ctx, name, offset, length)
}

// TestFetchStaged: a window of days is read with one ranged read per staged part (its header
// with it: the window starts at the first day), the merges of its days read nothing more from
// the store, and publish exactly
// the staged rows; a day outside the window still merges (a read of its own); Close removes
// the fetched files.
func TestFetchStaged(t *testing.T) {
	ctx := context.Background()
	store := &rangeCounter{memStore: newMemStore()}
	l := newTestLake(t, store, Options{})
	days := DaysBetween("2024-05-01", "2024-05-20")
	const batches = 3
	idx, want := stageBatches(t, l, days, batches, nil)

	// Another process (another Lake on the store) publishes: it has no local copies.
	l = newTestLake(t, store, Options{})
	window := days[:16]
	store.reads.Store(0)
	f, err := l.FetchStaged(ctx, idx, window)
	if err != nil {
		t.Fatal(err)
	}
	if got := store.reads.Load(); got != batches {
		t.Errorf("FetchStaged made %d ranged reads, want %d (one per staged part)", got, batches)
	}
	merge := func(day string, f *StagedFetch) {
		t.Helper()
		mergeStaged(t, l, store.memStore, day, idx, f, want[day])
	}
	store.reads.Store(0)
	for _, d := range window {
		merge(d, f)
	}
	if got := store.reads.Load(); got != 0 {
		t.Errorf("merging the window's %d days made %d ranged reads, want none", len(window), got)
	}
	store.reads.Store(0)
	merge(days[16], f) // not in the window: read from the store
	if got := store.reads.Load(); got != batches {
		t.Errorf("merging a day outside the window made %d ranged reads, want %d (its segments; the headers are known)", got, batches)
	}
	dir := f.dir
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Close left %s: %v", dir, err)
	}

	// A local lake reads its staged objects in place: nothing to fetch.
	ll := newTestLake(t, newLocalStore(t), Options{})
	if lf, err := ll.FetchStaged(ctx, idx, window); lf != nil || err != nil {
		t.Errorf("FetchStaged on a local lake = %v, %v; want nil, nil", lf, err)
	}
}

// TestFetchStagedFromCopies: the staged parts a Lake wrote to a remote store are fetched from
// its local copies, with no read of the store, and publish exactly the staged rows; past the
// copies' budget a part is read from the store; the copies go with their plan (forgetRun) and
// with the Lake (Close).
func TestFetchStagedFromCopies(t *testing.T) {
	ctx := context.Background()
	store := &rangeCounter{memStore: newMemStore()}
	l := newTestLake(t, store, Options{})
	days := DaysBetween("2024-05-01", "2024-05-04")
	idx, want := stageBatches(t, l, days, 3, func(b int) {
		if b == 2 {
			l.copies.budget = l.copies.bytes // full: the third batch is not copied
		}
	})
	store.reads.Store(0)
	f, err := l.FetchStaged(ctx, idx, days)
	if err != nil {
		t.Fatal(err)
	}
	if got := store.reads.Load(); got != 1 {
		t.Errorf("FetchStaged made %d ranged reads, want 1 (the part past the copies' budget)", got)
	}
	for _, day := range days {
		mergeStaged(t, l, store.memStore, day, idx, f, want[day])
	}
	if got := store.reads.Load(); got != 1 {
		t.Errorf("fetching and merging made %d ranged reads, want 1", got)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	copied, _ := l.copies.path(idx[0].Parts[0].Name, idx[0].Parts[0].Bytes)
	if _, err := os.Stat(copied); err != nil {
		t.Fatalf("the copy of a staged part is gone before its plan: %v", err)
	}
	l.forgetRun("plan-1")
	if _, err := os.Stat(copied); !os.IsNotExist(err) {
		t.Errorf("forgetRun left the copy %s: %v", copied, err)
	}
	dir := l.copies.dir
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Close left the copies' directory %s: %v", dir, err)
	}
}

// stageBatches stages batches batches of plan-1@a1, each with 3 rows of every day, and returns
// their index and the rows of each day; before(b), if not nil, runs before batch b.
func stageBatches(t *testing.T, l *Lake, days []string, batches int, before func(b int)) ([]*StagedBatch, map[string][]schema.Message) {
	t.Helper()
	want := map[string][]schema.Message{}
	var idx []*StagedBatch
	for b := range batches {
		if before != nil {
			before(b)
		}
		var rows [][]schema.Message
		for _, d := range days {
			r := testDay(d, 10*b, 10*b+3)
			want[d] = append(want[d], r...)
			rows = append(rows, r)
		}
		sb, _, err := l.stageBatch(context.Background(), "plan-1", "a1", b, stage(t, l, rows...))
		if err != nil {
			t.Fatal(err)
		}
		idx = append(idx, sb)
	}
	return idx, want
}
