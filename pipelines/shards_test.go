package pipelines_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/pipelines"
	"github.com/chatlake/chatlake/sim"
)

// doneBarrier holds each shard after it wrote its batch's done record until every shard has
// written its own: then each shard sees every batch done at the same moment.
type doneBarrier struct {
	mu      sync.Mutex
	waiting int
	all     chan struct{}
}

func (b *doneBarrier) arrive(ctx context.Context) {
	b.mu.Lock()
	b.waiting--
	if b.waiting == 0 {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-ctx.Done():
	}
}

// barrierStore is one shard's view of the lake's store: its first done record written, it
// waits at the barrier.
type barrierStore struct {
	storage.Store
	once    sync.Once
	barrier *doneBarrier
}

func (s *barrierStore) PutIf(ctx context.Context, name string, data []byte, ifVersion string) (string, error) {
	v, err := s.Store.PutIf(ctx, name, data, ifVersion)
	if err == nil && strings.Contains(name, "/done/") {
		s.once.Do(func() { s.barrier.arrive(ctx) })
	}
	return v, err
}

// TestShardsFinishingTogetherPublishOnce: two shards of one run, one batch each, that both see
// every batch done at the same moment both claim the publisher role (a conditional write into
// the lock on a local directory): exactly one publishes, the other ends without error, and the
// lake holds every message once.
func TestShardsFinishingTogetherPublishOnce(t *testing.T) {
	h := newHarness(t, simOptions(7, 20), nil)
	from, to := day(t, "2024-05-01"), day(t, "2024-05-03")
	const shards = 2
	barrier := &doneBarrier{waiting: shards, all: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sums := make([]*pipelines.Summary, shards)
	errs := make([]error, shards)
	var wg sync.WaitGroup
	for i := range shards {
		lake, err := load.NewLake(&barrierStore{Store: h.store, barrier: barrier}, &load.Options{TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		p, err := pipelines.New(h.client(nil), lake, pipelines.Options{CustomerID: sim.DefaultCustomerID, BotKey: sim.DefaultBotKey,
			Selectors: h.sels, Concurrency: 4, Clock: h.clock.Now, BatchSize: 10, ShardIndex: i, ShardCount: shards})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			sums[i], errs[i] = p.Export(ctx, from, to)
			if errs[i] != nil {
				cancel() // the other shard must not wait at the barrier for this one
			}
		})
	}
	wg.Wait()
	published := 0
	for i := range shards {
		if errs[i] != nil {
			t.Fatalf("shard %d: %v", i, errs[i])
		}
		if sums[i].Batches != shards || sums[i].BatchesDone != 1 {
			t.Fatalf("shard %d did %d of %d batches; want 1 of %d (the barrier needs one each)", i, sums[i].BatchesDone, sums[i].Batches, shards)
		}
		if sums[i].Published {
			published++
		}
	}
	if published != 1 {
		t.Fatalf("%d shards published; want exactly one", published)
	}
	h.check(from, to)
}

// TestShardedRunRecordCountsEveryShard: the run record of a sharded run (what status shows)
// counts the messages of every shard, though the shard that publishes records it alone.
func TestShardedRunRecordCountsEveryShard(t *testing.T) {
	h := newHarness(t, simOptions(7, 20), nil)
	from, to := day(t, "2024-05-01"), day(t, "2024-05-03")
	var total int64
	var last *pipelines.Summary
	for i := range 2 {
		p := h.pipeline(h.client(nil), func(o *pipelines.Options) { o.BatchSize, o.ShardIndex, o.ShardCount = 10, i, 2 })
		sum, err := p.Export(context.Background(), from, to)
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
		if sum.Messages == 0 {
			t.Fatalf("shard %d extracted no message", i)
		}
		total += sum.Messages
		last = sum
	}
	if !last.Published {
		t.Fatal("the last shard did not publish")
	}
	st, err := pipelines.ReadState(context.Background(), h.lake)
	if err != nil {
		t.Fatal(err)
	}
	if st.LastRun == nil || st.LastRun.Messages != total || last.Messages == total {
		t.Fatalf("the run record counts %v messages, want every shard's %d (the publisher's own: %d)", st.LastRun, total, last.Messages)
	}
}
