package load

import (
	"context"
	"errors"
	"sync"

	"github.com/chatlake/chatlake/load/storage"
)

// errInjected is the error of every injected fault.
var errInjected = errors.New("injected fault")

// faults says which operations of a faultStore fail.
type faults struct {
	writeAfter int64 // > 0: a Create'd writer fails once it has been given this many bytes
	failClose  bool  // every Create'd writer's Close fails (and the object is not written)
	// closeCommits: a writer's Close commits what it was given even after a failed Write (a
	// store that does not remember a failed write: only the writer's caller can tell).
	closeCommits bool
	moveAfter    int // >= 0: that many Moves succeed, every later one fails; < 0: off
	putIfAfter   int // >= 0: that many PutIfs succeed, every later one fails; < 0: off
}

func noFaults() faults { return faults{moveAfter: -1, putIfAfter: -1} }

// faultStore wraps a Store and injects faults.
type faultStore struct {
	storage.Store

	mu     sync.Mutex
	f      faults
	moves  int
	putIfs int
}

func newFaultStore(s storage.Store, f faults) *faultStore { return &faultStore{Store: s, f: f} }

// set replaces the faults and resets the counters.
func (s *faultStore) set(f faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f, s.moves, s.putIfs = f, 0, 0
}

func (s *faultStore) Create(ctx context.Context, name string) (storage.Writer, error) {
	w, err := s.Store.Create(ctx, name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return &faultWriter{w: w, limit: s.f.writeAfter, failClose: s.f.failClose, closeCommits: s.f.closeCommits}, nil
}

func (s *faultStore) Move(ctx context.Context, src, dst string) (storage.Object, error) {
	s.mu.Lock()
	fail := s.f.moveAfter >= 0 && s.moves >= s.f.moveAfter
	s.moves++
	s.mu.Unlock()
	if fail {
		return storage.Object{}, errInjected
	}
	return s.Store.Move(ctx, src, dst)
}

func (s *faultStore) PutIf(ctx context.Context, name string, data []byte, ifVersion string) (string, error) {
	s.mu.Lock()
	fail := s.f.putIfAfter >= 0 && s.putIfs >= s.f.putIfAfter
	s.putIfs++
	s.mu.Unlock()
	if fail {
		return "", errInjected
	}
	return s.Store.PutIf(ctx, name, data, ifVersion)
}

// faultWriter fails after limit bytes, or at Close.
type faultWriter struct {
	w            storage.Writer
	limit        int64
	n            int64
	failClose    bool
	closeCommits bool
	failed       bool
}

func (w *faultWriter) Write(p []byte) (int, error) {
	if w.limit > 0 && w.n+int64(len(p)) > w.limit {
		w.failed = true
		return 0, errInjected
	}
	w.n += int64(len(p))
	return w.w.Write(p)
}

func (w *faultWriter) Close() error {
	if (w.failed && !w.closeCommits) || w.failClose {
		_ = w.w.Abort()
		return errInjected
	}
	return w.w.Close()
}

func (w *faultWriter) Abort() error { return w.w.Abort() }
