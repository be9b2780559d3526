package load

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// overlapStore records how many ranged reads and how many staging writes (a merge's writing
// step) are under way at once. A ranged read waits (up to a few seconds) for a second one to
// start, so that reads that can overlap do.
type overlapStore struct {
	storage.Store

	mu                sync.Mutex
	reads, maxReads   int
	writes, maxWrites int
	second            chan struct{} // closed when two reads were under way at once
	secondOnce        sync.Once
}

func (s *overlapStore) OpenRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	s.mu.Lock()
	s.reads++
	s.maxReads = max(s.maxReads, s.reads)
	if s.reads >= 2 {
		s.secondOnce.Do(func() { close(s.second) })
	}
	s.mu.Unlock()
	select {
	case <-s.second:
	case <-time.After(5 * time.Second):
	}
	r, err := s.Store.OpenRange(ctx, name, off, n)
	s.mu.Lock()
	s.reads--
	s.mu.Unlock()
	return r, err
}

func (s *overlapStore) Create(ctx context.Context, name string) (storage.Writer, error) {
	w, err := s.Store.Create(ctx, name)
	if err != nil || !strings.HasPrefix(name, stagingPrefix) {
		return w, err
	}
	s.mu.Lock()
	s.writes++
	s.maxWrites = max(s.maxWrites, s.writes)
	s.mu.Unlock()
	return &doneWriter{Writer: w, done: func() {
		s.mu.Lock()
		s.writes--
		s.mu.Unlock()
	}}, nil
}

type doneWriter struct {
	storage.Writer
	done func()
	once sync.Once
}

func (w *doneWriter) Close() error { defer w.once.Do(w.done); return w.Writer.Close() }
func (w *doneWriter) Abort() error { defer w.once.Do(w.done); return w.Writer.Abort() }

// TestMergeWritingBound: days merged at once under one MergeInput.Writing of 1 overlap their
// object reads but write their shards one at a time, and publish every row.
func TestMergeWritingBound(t *testing.T) {
	ctx := context.Background()
	store := &overlapStore{Store: newMemStore(), second: make(chan struct{})}
	l := newTestLake(t, store, Options{})
	var days []string
	var rows [][]schema.Message
	for i := range 8 {
		d := fmt.Sprintf("2024-05-%02d", i+1)
		days = append(days, d)
		rows = append(rows, testDay(d, 0, 50))
	}
	idx, _, err := l.stageBatch(ctx, "plan-1", "a1", 0, stage(t, l, rows...))
	if err != nil {
		t.Fatal(err)
	}
	writing := semaphore.NewWeighted(1)
	g, gctx := errgroup.WithContext(ctx)
	for _, d := range days {
		g.Go(func() error {
			_, err := l.Merge(gctx, d, MergeInput{Plan: "plan-1", Attempt: "a1", Replace: func(string) bool { return true },
				RunID: "run-1", Staged: []*StagedBatch{idx}, Writing: writing})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if store.maxWrites != 1 {
		t.Errorf("%d merges wrote shards at once, want 1", store.maxWrites)
	}
	if store.maxReads < 2 {
		t.Errorf("at most %d ranged reads at once, want the days' reads to overlap", store.maxReads)
	}
	for i, d := range days {
		var got []schema.Message
		for _, r := range readPartition(t, store, d) {
			got = append(got, r...)
		}
		if len(got) != len(rows[i]) {
			t.Errorf("%s: %d rows, want %d", d, len(got), len(rows[i]))
		}
	}
}
