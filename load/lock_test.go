package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chatlake/chatlake/load/storage"
)

// lockStores are the stores the lock's tests race on: the local directory (its conditional
// writes take a lock file) and the in-memory store with the contract's version checks.
func lockStores(t *testing.T) map[string]func() storage.Store {
	return map[string]func() storage.Store{
		"local": func() storage.Store {
			s, err := storage.NewLocal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"mem": func() storage.Store { return newMemStore() },
	}
}

func lockLake(t *testing.T, store storage.Store) *Lake {
	t.Helper()
	l, err := NewLake(store, &Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestAcquireLockJoin: only another shard of the same sharded plan (same plan, same shard
// count, a shard index no live holder has) joins a held lock; everything else, a shard of
// another plan with the same shard count included, is refused with a *LockedError and leaves
// the lock as it was. A lock whose holders' leases ran out is taken over.
func TestAcquireLockJoin(t *testing.T) {
	type take struct{ plan, shard string }
	cases := []struct {
		name    string
		held    []take // taken in order, each must succeed
		expired bool   // the holders' leases ran out before req
		req     take
		joins   bool
	}{
		{name: "free lake", req: take{"plan-a", ""}, joins: true},
		{name: "unsharded run of the same plan", held: []take{{"plan-a", ""}}, req: take{"plan-a", ""}},
		{name: "next shard of the same plan", held: []take{{"plan-a", "0/4"}}, req: take{"plan-a", "1/4"}, joins: true},
		{name: "third shard of the same plan", held: []take{{"plan-a", "0/4"}, {"plan-a", "2/4"}}, req: take{"plan-a", "3/4"}, joins: true},
		{name: "shard of another plan, same shard count", held: []take{{"plan-a", "0/4"}}, req: take{"plan-b", "1/4"}},
		{name: "shard of another plan, same shard index", held: []take{{"plan-a", "0/4"}}, req: take{"plan-b", "0/4"}},
		{name: "shard of another plan beside two shards", held: []take{{"plan-a", "0/4"}, {"plan-a", "1/4"}}, req: take{"plan-b", "2/4"}},
		{name: "shard index already held", held: []take{{"plan-a", "0/4"}}, req: take{"plan-a", "0/4"}},
		{name: "another shard count", held: []take{{"plan-a", "0/4"}}, req: take{"plan-a", "1/2"}},
		{name: "unsharded run beside a shard", held: []take{{"plan-a", "0/4"}}, req: take{"plan-a", ""}},
		{name: "shard beside an unsharded run", held: []take{{"plan-a", ""}}, req: take{"plan-a", "1/4"}},
		{name: "expired holder of another plan", held: []take{{"plan-a", "0/4"}}, expired: true, req: take{"plan-b", "1/4"}, joins: true},
	}
	for storeName, newStore := range lockStores(t) {
		for _, c := range cases {
			t.Run(storeName+"/"+c.name, func(t *testing.T) {
				ctx := context.Background()
				lake := lockLake(t, newStore())
				now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
				clock := func() time.Time { return now }
				for i, h := range c.held {
					if _, err := lake.AcquireLock(ctx, LockRequest{Plan: h.plan, Kind: "backfill", RunID: fmt.Sprintf("held-%d", i),
						Shard: h.shard, Lease: time.Minute, Now: clock}); err != nil {
						t.Fatalf("holder %d (%s %s): %v", i, h.plan, h.shard, err)
					}
				}
				before, err := lake.ReadLock(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if c.expired {
					now = now.Add(2 * time.Minute)
				}
				_, err = lake.AcquireLock(ctx, LockRequest{Plan: c.req.plan, Kind: "backfill", RunID: "new",
					Shard: c.req.shard, Lease: time.Minute, Now: clock})
				after, rerr := lake.ReadLock(ctx)
				if rerr != nil {
					t.Fatal(rerr)
				}
				if c.joins {
					if err != nil {
						t.Fatalf("refused: %v; want it to hold the lock", err)
					}
					if after.Plan != c.req.plan || !after.holds("new") {
						t.Fatalf("lock after joining: %+v", after)
					}
					return
				}
				var le *LockedError
				if !errors.Is(err, ErrLocked) || !errors.As(err, &le) {
					t.Fatalf("error %v; want a *LockedError", err)
				}
				if after.holds("new") || after.Plan != before.Plan || len(after.Holders) != len(before.Holders) {
					t.Fatalf("a refused request changed the lock: %+v, was %+v", after, before)
				}
			})
		}
	}
}

// claimHookStore runs before once, just before the first conditional write of the lock: the
// claimer has read the lock and is about to write its claim.
type claimHookStore struct {
	storage.Store
	once   sync.Once
	before func()
}

func (h *claimHookStore) PutIf(ctx context.Context, name string, data []byte, ifVersion string) (string, error) {
	if name == LockPath {
		h.once.Do(h.before)
	}
	return h.Store.PutIf(ctx, name, data, ifVersion)
}

// readBarrierStore holds the first read of the lock of each claimer until every claimer has
// read it: they all read the same version, and all write their claim conditionally on it.
type readBarrierStore struct {
	storage.Store
	once    sync.Once
	arrived *sync.WaitGroup
}

func (s *readBarrierStore) Get(ctx context.Context, name string) ([]byte, string, error) {
	data, version, err := s.Store.Get(ctx, name)
	if name == LockPath {
		s.once.Do(func() {
			s.arrived.Done()
			s.arrived.Wait()
		})
	}
	return data, version, err
}

// TestClaimPublisherRace: shards that see every batch done at the same moment all claim the
// publisher role through the real conditional write; exactly one gets it, and the lock names
// it. Two shapes: the second claimer wins between the first one's read and its write (the
// first one's write fails on the version, and on reading again it must not claim too), and
// eight claimers that all read the same version before any of them writes.
func TestClaimPublisherRace(t *testing.T) {
	const instance = "plan-1@a1"
	for storeName, newStore := range lockStores(t) {
		t.Run(storeName+"/interleaved", func(t *testing.T) {
			ctx := context.Background()
			store := newStore()
			base := lockLake(t, store)
			a, err := base.AcquireLock(ctx, LockRequest{Plan: "plan-1", Kind: "backfill", RunID: "run-a", Shard: "0/2", Lease: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			b, err := base.AcquireLock(ctx, LockRequest{Plan: "plan-1", Kind: "backfill", RunID: "run-b", Shard: "1/2", Lease: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			var bClaimed bool
			var bErr error
			// a's writes go through a store that lets b claim after a read the lock.
			a.lake = lockLake(t, &claimHookStore{Store: store, before: func() { bClaimed, bErr = b.ClaimPublisher(ctx, instance) }})
			aClaimed, err := a.ClaimPublisher(ctx, instance)
			if err != nil || bErr != nil {
				t.Fatal(err, bErr)
			}
			if !bClaimed || aClaimed {
				t.Fatalf("a claimed %t, b claimed %t; want only b (b wrote its claim first)", aClaimed, bClaimed)
			}
			if rec, err := base.ReadLock(ctx); err != nil || rec.Publisher != "run-b" {
				t.Fatalf("lock %+v, %v; want run-b as the publisher", rec, err)
			}
		})
		t.Run(storeName+"/all-at-once", func(t *testing.T) {
			const shards = 8
			ctx := context.Background()
			store := newStore()
			base := lockLake(t, store)
			var arrived sync.WaitGroup
			arrived.Add(shards)
			locks := make([]*Lock, shards)
			for i := range shards {
				l, err := base.AcquireLock(ctx, LockRequest{Plan: "plan-1", Kind: "backfill", RunID: fmt.Sprintf("run-%d", i),
					Shard: fmt.Sprintf("%d/%d", i, shards), Lease: time.Hour})
				if err != nil {
					t.Fatal(err)
				}
				l.lake = lockLake(t, &readBarrierStore{Store: store, arrived: &arrived})
				locks[i] = l
			}
			claimed := make([]bool, shards)
			errs := make([]error, shards)
			var wg sync.WaitGroup
			for i, l := range locks {
				wg.Go(func() { claimed[i], errs[i] = l.ClaimPublisher(ctx, instance) })
			}
			wg.Wait()
			winner := ""
			for i := range shards {
				if errs[i] != nil {
					t.Fatalf("claimer %d: %v", i, errs[i])
				}
				if claimed[i] {
					if winner != "" {
						t.Fatalf("run-%d and %s both claimed the publisher role: two publishers", i, winner)
					}
					winner = fmt.Sprintf("run-%d", i)
				}
			}
			if winner == "" {
				t.Fatal("no claimer got the publisher role")
			}
			rec, err := base.ReadLock(ctx)
			if err != nil || rec.Publisher != winner || len(rec.Holders) != shards {
				t.Fatalf("lock %+v, %v; want %s as the publisher among %d holders", rec, err, winner, shards)
			}
			// Once the plan is marked published, nobody claims it again, the winner included.
			if err := locks[0].MarkPublished(ctx, instance); err != nil {
				t.Fatal(err)
			}
			for i, l := range locks {
				if again, err := l.ClaimPublisher(ctx, instance); err != nil || again {
					t.Fatalf("claimer %d after the plan was published: %t, %v", i, again, err)
				}
			}
		})
	}
}

// TestLockRecordUnchanged: the lock's encoding is the one lakes hold (a record written by the
// binaries before load owned it reads the same).
func TestLockRecordUnchanged(t *testing.T) {
	stored := `{"plan":"p1","kind":"backfill","holders":[{"run_id":"r1","host":"h","pid":7,"shard":"0/2",` +
		`"acquired":"2024-05-01T00:00:00Z","expires":"2024-05-01T00:02:00Z"}],"publisher":"r1","published":"p1@a"}`
	store := newMemStore()
	if _, err := store.PutIf(context.Background(), LockPath, []byte(stored), ""); err != nil {
		t.Fatal(err)
	}
	rec, err := lockLake(t, store).ReadLock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(rec)
	if string(data) != stored {
		t.Fatalf("re-encoded lock:\n%s\nwant\n%s", data, stored)
	}
}
