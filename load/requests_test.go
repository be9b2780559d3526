package load

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/chatlake/chatlake/load/storage"
)

// statCounter counts the Stat calls (a HEAD request each on a cloud store) of a store.
type statCounter struct {
	storage.Store
	stats atomic.Int64
}

func (c *statCounter) Stat(ctx context.Context, name string) (storage.Object, error) {
	c.stats.Add(1)
	return c.Store.Stat(ctx, name)
}

// TestPublishStatsNothing: publishing learns each moved file's size and version from Move,
// with no Stat of it, and its manifest names the files' versions as the store has them.
func TestPublishStatsNothing(t *testing.T) {
	store := &statCounter{Store: newMemStore()}
	l := newTestLake(t, store, Options{RowGroupRows: 300})
	days := []string{"2024-05-02", "2024-05-03"}
	st := publish(t, l, days, "run-1", testDay(days[0], 0, 500), testDay(days[1], 0, 20))
	if st.Files != 2 {
		t.Fatalf("published %d files, want 2", st.Files)
	}
	if n := store.stats.Load(); n != 0 {
		t.Errorf("publishing 2 files made %d Stat calls, want none", n)
	}
	var bytes int64
	for _, day := range days {
		m, err := l.Manifest(context.Background(), day)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m.Files {
			o, err := store.Store.Stat(context.Background(), partitionDir(day)+f.Name)
			if err != nil {
				t.Fatal(err)
			}
			if f.Version != o.Version || f.Bytes != o.Size {
				t.Errorf("%s: the manifest names version %q, %d bytes; the store has %q, %d bytes", f.Name, f.Version, f.Bytes, o.Version, o.Size)
			}
			bytes += o.Size
		}
	}
	if st.Bytes != bytes {
		t.Errorf("PublishStats.Bytes = %d, want %d", st.Bytes, bytes)
	}
}
