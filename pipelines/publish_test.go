package pipelines_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/pipelines"
)

// meetingStore holds the first write of a merged shard (under _chatlake/staging/) until a
// shard of another day is being written too, or until a deadline, and records how many days
// had a shard write open at once.
type meetingStore struct {
	storage.Store
	wait time.Duration

	mu      sync.Mutex
	open    map[string]int // day -> shard writes being created
	maxDays int
	met     chan struct{}
	once    sync.Once
}

func (s *meetingStore) Create(ctx context.Context, name string) (storage.Writer, error) {
	rest, ok := strings.CutPrefix(name, "_chatlake/staging/")
	_, after, hasDay := strings.Cut(rest, "/dt=")
	if !ok || !hasDay {
		return s.Store.Create(ctx, name)
	}
	day, _, _ := strings.Cut(after, "/")
	s.mu.Lock()
	s.open[day]++
	s.maxDays = max(s.maxDays, len(s.open))
	if len(s.open) >= 2 {
		s.once.Do(func() { close(s.met) })
	}
	s.mu.Unlock()
	select {
	case <-s.met:
	case <-time.After(s.wait):
		s.once.Do(func() { close(s.met) }) // no other day came: stop waiting from now on
	}
	w, err := s.Store.Create(ctx, name)
	s.mu.Lock()
	if s.open[day]--; s.open[day] == 0 {
		delete(s.open, day)
	}
	s.mu.Unlock()
	return w, err
}

// TestPublishMergesDaysInParallel: publishing merges up to ParallelPublish days at once, and
// one at a time with ParallelPublish 1; the lake is exact either way.
func TestPublishMergesDaysInParallel(t *testing.T) {
	for _, tc := range []struct {
		parallel, wantDays int
		wait               time.Duration
	}{
		{parallel: 2, wantDays: 2, wait: 10 * time.Second},
		{parallel: 1, wantDays: 1, wait: 200 * time.Millisecond},
	} {
		t.Run("parallel="+strconv.Itoa(tc.parallel), func(t *testing.T) {
			h := newHarness(t, simOptions(61, 12), nil)
			ms := &meetingStore{Store: h.store, wait: tc.wait, open: map[string]int{}, met: make(chan struct{})}
			h.lake = mustLake(t, ms)
			p := h.pipeline(h.client(nil), func(o *pipelines.Options) { o.ParallelPublish = tc.parallel })
			from, to := day(t, "2024-05-01"), day(t, "2024-05-07")
			if _, err := p.Export(context.Background(), from, to); err != nil {
				t.Fatal(err)
			}
			if ms.maxDays != tc.wantDays {
				t.Fatalf("ParallelPublish %d: at most %d days had merged shards being written at once, want %d",
					tc.parallel, ms.maxDays, tc.wantDays)
			}
			h.check(from, to)
		})
	}
}

// TestPublishStoppedByTheRunsEnd: a run whose context ends while it publishes (a signal, a lost
// lock) returns an error and records nothing as published: after that moment no day writes
// shards but the ParallelPublish (here 1) that were already writing theirs (days whose publish
// was under way may finish it: each day's commit is atomic on its own), and the state lists
// none of the run's days.
func TestPublishStoppedByTheRunsEnd(t *testing.T) {
	h := newHarness(t, simOptions(63, 10), nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ls := &lateStore{Store: h.store}
	// The second write of the first day's manifest is the one marking it complete.
	fs := &faultyStore{Store: ls, name: "_chatlake/manifests/messages/dt=2024-05-01.json", after: 1,
		onWrite: func(context.Context, storage.Store) { ls.ended.Store(true); cancel() }}
	h.lake = mustLake(t, fs)
	p := h.pipeline(h.client(nil), func(o *pipelines.Options) { o.ParallelPublish = 1 })
	if _, err := p.Export(ctx, day(t, "2024-05-01"), day(t, "2024-05-05")); err == nil {
		t.Fatal("the export whose context ended while it published returned no error")
	}
	st, err := pipelines.ReadState(context.Background(), h.lake)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Days) != 0 {
		t.Fatalf("the state lists days as exported, but publishing stopped (days %v)", st.Days)
	}
	if days := ls.lateDays(); len(days) > 1 {
		t.Fatalf("days %v wrote shards after the run's context ended, want at most the one already writing", days)
	}
}

// lateStore records the days that write shards (create staging files) once ended is set.
type lateStore struct {
	storage.Store
	ended atomic.Bool
	mu    sync.Mutex
	late  map[string]bool
}

func (s *lateStore) Create(ctx context.Context, name string) (storage.Writer, error) {
	if s.ended.Load() && strings.HasPrefix(name, "_chatlake/staging/") {
		_, rest, _ := strings.Cut(name, "/dt=")
		s.mu.Lock()
		if s.late == nil {
			s.late = map[string]bool{}
		}
		s.late[rest[:min(len(rest), len("2024-05-01"))]] = true
		s.mu.Unlock()
	}
	return s.Store.Create(ctx, name)
}

func (s *lateStore) lateDays() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var days []string
	for d := range s.late {
		days = append(days, d)
	}
	return days
}
