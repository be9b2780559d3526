package pipelines

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/storage"
)

// LockName is the lake's run lock.
const LockName = load.LockPath

// lockUpdateAttempts bounds the read-modify-write loop of a lock update when other holders of
// the same plan write it at the same time.
const lockUpdateAttempts = 50

// LockRecord says which run plan holds the lake, who works on it, and until when. The shards
// of one sharded run hold it together (see canJoin); a holder whose lease ran out, or whose
// process died on this host, no longer counts.
type LockRecord struct {
	Plan      string       `json:"plan"`
	Kind      string       `json:"kind"`
	Holders   []LockHolder `json:"holders"`
	Publisher string       `json:"publisher,omitempty"` // the holder (run id) publishing the plan's partitions
	// Published names the instance of the plan (plan@attempt) that was published and recorded
	// in the state: a holder of that instance that finishes its batches later does not publish
	// it again (its state write would fail on the version). A new instance of the same plan id
	// (a rerun after the plan finished) has another attempt and publishes.
	Published string `json:"published,omitempty"`
}

// LockHolder is one process holding the lock.
type LockHolder struct {
	RunID    string    `json:"run_id"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	Shard    string    `json:"shard,omitempty"` // "i/n" of a sharded run
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
}

// live returns the holders whose lease runs at now and whose process is not known dead.
func (r *LockRecord) live(now time.Time, host string) []LockHolder {
	var out []LockHolder
	for _, h := range r.Holders {
		if now.Before(h.Expires) && !deadOnThisHost(h, host) {
			out = append(out, h)
		}
	}
	return out
}

// LockedError says who holds the lock. It matches ErrLocked.
type LockedError struct{ Holder LockRecord }

func (e *LockedError) Error() string {
	var hs []string
	for _, h := range e.Holder.Holders {
		hs = append(hs, fmt.Sprintf("run %s on %s pid %d until %s", h.RunID, h.Host, h.PID, h.Expires.UTC().Format(time.RFC3339)))
	}
	return fmt.Sprintf("another chatlake run holds the lake: %s plan %s (%s)", e.Holder.Kind, e.Holder.Plan, strings.Join(hs, "; "))
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

// lakeLock is this process's hold on the lake's lock: a lease, renewed while the run lives.
// Every change is a read-modify-write conditional on the version read, so concurrent holders
// never lose each other's entries, and of two plans racing for a free lake exactly one wins.
type lakeLock struct {
	store storage.Store
	clock func() time.Time
	lease time.Duration
	host  string
	me    LockHolder
	plan  string
	kind  string
}

func acquireLock(ctx context.Context, store storage.Store, plan, kind, runID, shard string, lease time.Duration,
	clock func() time.Time) (*lakeLock, error) {
	host, _ := os.Hostname()
	now := clock().UTC()
	l := &lakeLock{store: store, clock: clock, lease: lease, host: host, plan: plan, kind: kind,
		me: LockHolder{RunID: runID, Host: host, PID: os.Getpid(), Shard: shard, Acquired: now, Expires: now.Add(lease)}}
	err := l.update(ctx, func(rec *LockRecord) (bool, error) {
		if len(rec.Holders) > 0 && !canJoin(rec, plan, shard) {
			return false, &LockedError{Holder: *rec}
		}
		rec.Plan, rec.Kind = plan, kind
		rec.Holders = append(rec.Holders, l.me)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// canJoin tells whether a process may hold the lock beside its live holders: only another
// shard of the same sharded run (same plan, same shard count, a shard index no live holder
// has). Two unsharded runs, even of the same command, exclude each other.
func canJoin(rec *LockRecord, plan, shard string) bool {
	if rec.Plan != plan || shard == "" {
		return false
	}
	_, n, _ := strings.Cut(shard, "/")
	for _, h := range rec.Holders {
		_, hn, ok := strings.Cut(h.Shard, "/")
		if !ok || hn != n || h.Shard == shard {
			return false
		}
	}
	return true
}

// update applies fn to the current record (expired and dead holders already dropped) and
// writes the result conditionally, retrying when another holder wrote in between. fn returns
// false to write nothing. A record left without holders is deleted.
func (l *lakeLock) update(ctx context.Context, fn func(*LockRecord) (bool, error)) error {
	for range lockUpdateAttempts {
		data, version, err := l.store.Get(ctx, LockName)
		var rec LockRecord
		switch {
		case errors.Is(err, storage.ErrNotExist):
			version = ""
		case err != nil:
			return fmt.Errorf("reading %s: %w", LockName, err)
		default:
			if json.Unmarshal(data, &rec) != nil {
				rec = LockRecord{} // unreadable: taken over, conditionally
			}
		}
		now := l.clock().UTC()
		live := rec.live(now, l.host)
		if len(live) == 0 {
			rec = LockRecord{}
		} else {
			rec.Holders = live
		}
		if rec.Publisher != "" && !slices.ContainsFunc(rec.Holders, func(h LockHolder) bool { return h.RunID == rec.Publisher }) {
			rec.Publisher = ""
		}
		write, err := fn(&rec)
		if err != nil || !write {
			return err
		}
		if len(rec.Holders) == 0 {
			if version == "" {
				return nil
			}
			err = l.store.DeleteIf(ctx, LockName, version)
		} else {
			var out []byte
			out, err = json.MarshalIndent(rec, "", "  ")
			if err == nil {
				_, err = l.store.PutIf(ctx, LockName, out, version)
			}
		}
		if errors.Is(err, storage.ErrPrecondition) || errors.Is(err, storage.ErrNotExist) {
			continue // another holder wrote in between: read again
		}
		if err != nil {
			return fmt.Errorf("writing %s: %w", LockName, err)
		}
		return nil
	}
	return fmt.Errorf("writing %s: %w (it kept changing while this run wrote it)", LockName, ErrLocked)
}

// deadOnThisHost tells a holder that was a process of this very host that has died: its
// lease need not run out before the next run goes on.
func deadOnThisHost(h LockHolder, host string) bool {
	if host == "" || h.Host != host || h.PID <= 0 || h.PID == os.Getpid() {
		return false
	}
	return syscall.Kill(h.PID, 0) == syscall.ESRCH
}

// errLockLost: this run's entry was gone from the lock (its lease ran out and another run may
// have taken the lake).
var errLockLost = errors.New("this run no longer holds the lake's lock")

// renew extends this holder's lease.
func (l *lakeLock) renew(ctx context.Context) error {
	return l.update(ctx, func(rec *LockRecord) (bool, error) {
		i := slices.IndexFunc(rec.Holders, func(h LockHolder) bool { return h.RunID == l.me.RunID })
		if i < 0 || rec.Plan != l.plan {
			return false, errLockLost
		}
		rec.Holders[i].Expires = l.clock().UTC().Add(l.lease)
		return true, nil
	})
}

// keep renews the lease every third of it until ctx ends. If a renewal fails, lost is called:
// the run must stop, because another run may take the lake over once the lease runs out.
func (l *lakeLock) keep(ctx context.Context, lost func(error)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(l.lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := l.renew(ctx); err != nil && ctx.Err() == nil {
					lost(fmt.Errorf("lost the lake's lock while renewing it: %w", err))
					return
				}
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// claimPublisher makes this holder the plan's publisher, unless another live holder is.
func (l *lakeLock) claimPublisher(ctx context.Context, attempt string) (bool, error) {
	claimed := false
	err := l.update(ctx, func(rec *LockRecord) (bool, error) {
		claimed = false // update may call this again, after another holder's write won
		if !slices.ContainsFunc(rec.Holders, func(h LockHolder) bool { return h.RunID == l.me.RunID }) {
			return false, errLockLost
		}
		if rec.Published == attempt {
			return false, nil
		}
		switch rec.Publisher {
		case l.me.RunID:
			claimed = true
			return false, nil
		case "":
			rec.Publisher, claimed = l.me.RunID, true
			return true, nil
		}
		return false, nil
	})
	return claimed, err
}

// markPublished records in the lock that the plan is published, before the publisher leaves
// it, so that no other holder claims the publisher role for it again.
func (l *lakeLock) markPublished(ctx context.Context, attempt string) error {
	return l.update(ctx, func(rec *LockRecord) (bool, error) {
		if !slices.ContainsFunc(rec.Holders, func(h LockHolder) bool { return h.RunID == l.me.RunID }) {
			return false, errLockLost
		}
		if rec.Published == attempt {
			return false, nil
		}
		rec.Published = attempt
		return true, nil
	})
}

// release removes this holder from the lock; the lock object goes with its last holder. It
// never removes another holder's entry, nor a lock that another plan took over.
func (l *lakeLock) release(ctx context.Context) error {
	return l.update(ctx, func(rec *LockRecord) (bool, error) {
		i := slices.IndexFunc(rec.Holders, func(h LockHolder) bool { return h.RunID == l.me.RunID })
		if i < 0 {
			return false, nil
		}
		rec.Holders = slices.Delete(rec.Holders, i, i+1)
		if rec.Publisher == l.me.RunID {
			rec.Publisher = ""
		}
		return true, nil
	})
}

// holdLock takes the lake's lock for plan (see acquireLock) and keeps it renewed. The returned
// context is cancelled, with the renewal's error as its cause, when a renewal fails; release
// stops the renewals and releases the lock with a deadline of its own (a failure is logged:
// the lease expires by itself).
func (p *Pipeline) holdLock(ctx context.Context, plan, kind, shard string) (held context.Context, lock *lakeLock, release func(), err error) {
	lock, err = acquireLock(ctx, p.lake.Store(), plan, kind, p.o.RunID, shard, p.o.LockLease, p.o.Clock)
	if err != nil {
		return nil, nil, nil, err
	}
	held, cancel := context.WithCancelCause(ctx)
	stopKeeping := lock.keep(held, func(err error) { cancel(err) })
	release = func() {
		stopKeeping()
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(held), 30*time.Second)
		defer rcancel()
		if err := lock.release(rctx); err != nil {
			p.o.Logger.Warn("the lake's lock was not released; it expires by itself", "error", err.Error())
		}
		cancel(nil)
	}
	return held, lock, release, nil
}
