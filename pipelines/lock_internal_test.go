package pipelines

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chatlake/chatlake/load/storage"
)

// hookStore runs before once, just before the first conditional write of the lock.
type hookStore struct {
	storage.Store
	once   sync.Once
	before func()
}

func (h *hookStore) PutIf(ctx context.Context, name string, data []byte, ifVersion string) (string, error) {
	if name == LockName {
		h.once.Do(h.before)
	}
	return h.Store.PutIf(ctx, name, data, ifVersion)
}

// TestClaimPublisherLosesTheRace: two shards claim the publisher role at once; the one whose
// write loses to the other's claim and retries must not claim it too (it did: a claim from the
// lost attempt was kept, and two shards published the same plan at once).
func TestClaimPublisherLosesTheRace(t *testing.T) {
	ctx := context.Background()
	store, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now
	a, err := acquireLock(ctx, store, "plan-1", "backfill", "run-a", "0/2", time.Minute, clock)
	if err != nil {
		t.Fatal(err)
	}
	b, err := acquireLock(ctx, store, "plan-1", "backfill", "run-b", "1/2", time.Minute, clock)
	if err != nil {
		t.Fatal(err)
	}
	var bClaimed bool
	var bErr error
	// a reads the lock, then b claims the role before a's write lands.
	a.store = &hookStore{Store: store, before: func() { bClaimed, bErr = b.claimPublisher(ctx, "plan-1@a1") }}
	aClaimed, err := a.claimPublisher(ctx, "plan-1@a1")
	if err != nil || bErr != nil {
		t.Fatal(err, bErr)
	}
	if !bClaimed {
		t.Fatal("b did not claim the publisher role on a free lock")
	}
	if aClaimed {
		t.Error("a claimed the publisher role that b holds: two publishers")
	}
	rec, err := ReadLock(ctx, store)
	if err != nil || rec == nil || rec.Publisher != "run-b" {
		t.Errorf("lock record %+v, %v; want run-b as the publisher", rec, err)
	}
}
