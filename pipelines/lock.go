package pipelines

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/chatlake/chatlake/load/storage"
)

// LockName is the lake's run lock.
const LockName = "_chatlake/lock.json"

// LockRecord says who holds the lake and until when.
type LockRecord struct {
	RunID    string    `json:"run_id"`
	Kind     string    `json:"kind"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
}

// LockedError says who holds the lock. It matches ErrLocked.
type LockedError struct{ Holder LockRecord }

func (e *LockedError) Error() string {
	return fmt.Sprintf("another chatlake run holds the lake: run %s (%s) on %s pid %d, lease until %s",
		e.Holder.RunID, e.Holder.Kind, e.Holder.Host, e.Holder.PID, e.Holder.Expires.UTC().Format(time.RFC3339))
}

func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// ReadLock returns the current lock record, or nil when the lake is not locked.
func ReadLock(ctx context.Context, store storage.Store) (*LockRecord, error) {
	data, _, err := store.Get(ctx, LockName)
	if errors.Is(err, storage.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", LockName, err)
	}
	var rec LockRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("reading %s: %w", LockName, err)
	}
	return &rec, nil
}

// lakeLock is a lease on the lake. It is taken with a create-only write; an expired lease (its
// holder crashed) is taken over with a write conditional on the version read, so of two runs
// racing for it exactly one wins.
type lakeLock struct {
	store storage.Store
	clock func() time.Time
	lease time.Duration

	mu      sync.Mutex
	rec     LockRecord
	version string
}

func acquireLock(ctx context.Context, store storage.Store, runID, kind string, lease time.Duration,
	clock func() time.Time) (*lakeLock, error) {
	host, _ := os.Hostname()
	now := clock().UTC()
	l := &lakeLock{store: store, clock: clock, lease: lease,
		rec: LockRecord{RunID: runID, Kind: kind, Host: host, PID: os.Getpid(), Acquired: now, Expires: now.Add(lease)}}
	data, version, err := store.Get(ctx, LockName)
	switch {
	case errors.Is(err, storage.ErrNotExist):
		version = ""
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", LockName, err)
	default:
		var held LockRecord
		if err := json.Unmarshal(data, &held); err == nil && now.Before(held.Expires) && !deadOnThisHost(held, host) {
			return nil, &LockedError{Holder: held}
		}
		// Expired, held by a process of this host that no longer exists (its run was killed),
		// or unreadable: take it over, conditionally.
	}
	if err := l.put(ctx, version); err != nil {
		if errors.Is(err, storage.ErrPrecondition) {
			if rec, rerr := ReadLock(ctx, store); rerr == nil && rec != nil {
				return nil, &LockedError{Holder: *rec}
			}
			return nil, fmt.Errorf("%w (it was taken while this run asked for it)", ErrLocked)
		}
		return nil, err
	}
	return l, nil
}

func (l *lakeLock) put(ctx context.Context, ifVersion string) error {
	data, err := json.MarshalIndent(l.rec, "", "  ")
	if err != nil {
		return err
	}
	version, err := l.store.PutIf(ctx, LockName, data, ifVersion)
	if err != nil {
		return fmt.Errorf("writing %s: %w", LockName, err)
	}
	l.version = version
	return nil
}

// deadOnThisHost tells a lock whose holder was a process of this very host that has died: its
// lease need not run out before the next run goes on.
func deadOnThisHost(held LockRecord, host string) bool {
	if host == "" || held.Host != host || held.PID <= 0 || held.PID == os.Getpid() {
		return false
	}
	return syscall.Kill(held.PID, 0) == syscall.ESRCH
}

// keep renews the lease every third of it until ctx ends. If renewal fails, lost is called: the
// run must stop, because another run may take the lake over once the lease runs out.
func (l *lakeLock) keep(ctx context.Context, lost func(error)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(l.lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				l.mu.Lock()
				l.rec.Expires = l.clock().UTC().Add(l.lease)
				err := l.put(ctx, l.version)
				l.mu.Unlock()
				if err != nil && ctx.Err() == nil {
					lost(fmt.Errorf("lost the lake's lock while renewing it: %w", err))
					return
				}
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// release deletes the lock if this run still holds it.
func (l *lakeLock) release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.store.DeleteIf(ctx, LockName, l.version); err != nil && !errors.Is(err, storage.ErrNotExist) {
		return fmt.Errorf("releasing %s: %w", LockName, err)
	}
	return nil
}
