package pipelines

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/chatlake/chatlake/load"
)

// The lake's lock is load.LockRecord: package load encodes it and makes every change with a
// conditional write (load.Lock). This package decides when a run takes it (holdLock: before
// anything is written), keeps its lease renewed while the run lives, and stops the run when a
// renewal fails.

// lakeLock is this process's hold on the lake's lock: load's entry, renewed while the run lives.
type lakeLock struct {
	*load.Lock
}

// keep renews the lease every third of it until ctx ends. If a renewal fails, lost is called:
// the run must stop, because another run may take the lake over once the lease runs out.
func (l *lakeLock) keep(ctx context.Context, lost func(error)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(l.Lease() / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := l.Renew(ctx); err != nil && ctx.Err() == nil {
					lost(fmt.Errorf("lost the lake's lock while renewing it: %w", err))
					return
				}
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// holdLock takes the lake's lock for plan (load.Lake.AcquireLock: the shards of one sharded
// run share it) and keeps it renewed. The returned context is cancelled, with the renewal's
// error as its cause, when a renewal fails; release stops the renewals and releases the lock
// with a deadline of its own (a failure is logged: the lease expires by itself).
func (p *Pipeline) holdLock(ctx context.Context, plan, kind, shard string) (held context.Context, lock *lakeLock, release func(), err error) {
	l, err := p.lake.AcquireLock(ctx, load.LockRequest{Plan: plan, Kind: kind, RunID: p.o.RunID, Shard: shard,
		Lease: p.o.LockLease, Now: p.o.Clock})
	if err != nil {
		return nil, nil, nil, err
	}
	lock = &lakeLock{Lock: l}
	held, cancel := context.WithCancelCause(ctx)
	stopKeeping := lock.keep(held, func(err error) { cancel(err) })
	release = func() {
		stopKeeping()
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(held), 30*time.Second)
		defer rcancel()
		if err := lock.Release(rctx); err != nil {
			p.o.Logger.Warn("the lake's lock was not released; it expires by itself", "error", err.Error())
		}
		cancel(nil)
	}
	return held, lock, release, nil
}
