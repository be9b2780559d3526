package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/chatlake/chatlake/load/storage"
)

// lockUpdateAttempts bounds the read-modify-write loop of a lock update when other holders of
// the same plan write it at the same time.
const lockUpdateAttempts = 50

// LockRecord is the lake's run lock, at LockPath: which run plan holds the lake, who works on
// it, and until when. The shards of one sharded run hold it together (AcquireLock); a holder
// whose lease ran out, or whose process died on this host, no longer counts.
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

// DeadReason says why h no longer holds the lock at now, seen from a process on host: its
// lease ran out, or it was a process of this very host that is gone. "" means it may be alive.
func (h LockHolder) DeadReason(now time.Time, host string) string {
	if !now.Before(h.Expires) {
		return "lease expired at " + h.Expires.UTC().Format(time.RFC3339)
	}
	if host != "" && h.Host == host && h.PID > 0 && h.PID != os.Getpid() &&
		errors.Is(syscall.Kill(h.PID, 0), syscall.ESRCH) {
		return fmt.Sprintf("pid %d is gone from this host", h.PID)
	}
	return ""
}

// live returns the holders that may be alive at now (DeadReason).
func (r *LockRecord) live(now time.Time, host string) []LockHolder {
	var out []LockHolder
	for _, h := range r.Holders {
		if h.DeadReason(now, host) == "" {
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

// Is matches ErrLocked.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// decodeLock is the one decoder of a stored lock record.
func decodeLock(data []byte) (*LockRecord, error) {
	var rec LockRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// ReadLock returns the lock record as stored (dead holders included), or nil when the lake is
// not locked.
func (l *Lake) ReadLock(ctx context.Context) (*LockRecord, error) {
	data, _, err := l.store.Get(ctx, LockPath)
	if errors.Is(err, storage.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", LockPath, err)
	}
	rec, err := decodeLock(data)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", LockPath, err)
	}
	return rec, nil
}

// LockRequest is what AcquireLock needs.
type LockRequest struct {
	Plan  string // the run plan (or the command, e.g. "state-rebuild") the lock is taken for
	Kind  string // the kind of run, for people
	RunID string // this process's run id: its entry in the lock
	// Shard is "i/n" for shard i of a run sharded n ways, "" for an unsharded run.
	Shard string
	// Lease is how long the entry counts without a Renew.
	Lease time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Lock is this process's entry in the lake's lock, taken by AcquireLock. Every change is a
// read-modify-write conditional on the version read, so concurrent holders never lose each
// other's entries, and of two plans racing for a free lake exactly one wins. It is safe for
// concurrent use; keeping it renewed is the caller's job (Renew every fraction of the lease).
type Lock struct {
	lake *Lake
	req  LockRequest
	host string
	me   LockHolder
}

// AcquireLock takes the lake's lock for req.Plan, or joins its live holders when they are the
// other shards of the same sharded run: the same plan, the same shard count, a shard index no
// live holder has. Two unsharded runs, even of the same command, exclude each other, and so do
// the shards of two different plans. Holders whose lease ran out, or that were processes of
// this host that died, are dropped. A lake held by others gives a *LockedError.
func (l *Lake) AcquireLock(ctx context.Context, req LockRequest) (*Lock, error) {
	if err := checkID("plan", req.Plan); err != nil {
		return nil, fmt.Errorf("acquiring %s: %w", LockPath, err)
	}
	if req.Lease <= 0 {
		return nil, fmt.Errorf("acquiring %s: lease %s is not positive", LockPath, req.Lease)
	}
	if req.Now == nil {
		req.Now = time.Now
	}
	host, _ := os.Hostname()
	now := req.Now().UTC()
	k := &Lock{lake: l, req: req, host: host,
		me: LockHolder{RunID: req.RunID, Host: host, PID: os.Getpid(), Shard: req.Shard, Acquired: now, Expires: now.Add(req.Lease)}}
	err := k.update(ctx, func(rec *LockRecord) (bool, error) {
		if len(rec.Holders) > 0 && !canJoin(rec, req.Plan, req.Shard) {
			return false, &LockedError{Holder: *rec}
		}
		rec.Plan, rec.Kind = req.Plan, req.Kind
		rec.Holders = append(rec.Holders, k.me)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// canJoin tells whether a process may hold the lock beside its live holders: only another
// shard of the same sharded run (same plan, same shard count, a shard index no live holder
// has).
func canJoin(rec *LockRecord, plan, shard string) bool {
	_, n, ok := strings.Cut(shard, "/")
	if rec.Plan != plan || !ok {
		return false
	}
	for _, h := range rec.Holders {
		_, hn, ok := strings.Cut(h.Shard, "/")
		if !ok || hn != n || h.Shard == shard {
			return false
		}
	}
	return true
}

// Lease is the lease the lock was taken with.
func (k *Lock) Lease() time.Duration { return k.req.Lease }

// update applies fn to the current record (dead holders already dropped, and a publisher that
// is no longer a holder) and writes the result conditionally on the version read, reading again
// when another holder wrote in between. fn returns false to write nothing. A record left
// without holders is deleted.
func (k *Lock) update(ctx context.Context, fn func(*LockRecord) (bool, error)) error {
	store := k.lake.store
	for range lockUpdateAttempts {
		data, version, err := store.Get(ctx, LockPath)
		rec := &LockRecord{}
		switch {
		case errors.Is(err, storage.ErrNotExist):
			version = ""
		case err != nil:
			return fmt.Errorf("reading %s: %w", LockPath, err)
		default:
			if rec, err = decodeLock(data); err != nil {
				rec = &LockRecord{} // unreadable: taken over, conditionally
			}
		}
		if live := rec.live(k.req.Now().UTC(), k.host); len(live) == 0 {
			rec = &LockRecord{}
		} else {
			rec.Holders = live
		}
		if rec.Publisher != "" && !rec.holds(rec.Publisher) {
			rec.Publisher = ""
		}
		write, err := fn(rec)
		if err != nil || !write {
			return err
		}
		if len(rec.Holders) == 0 {
			if version == "" {
				return nil
			}
			err = store.DeleteIf(ctx, LockPath, version)
		} else {
			var out []byte
			out, err = json.MarshalIndent(rec, "", "  ")
			if err == nil {
				_, err = store.PutIf(ctx, LockPath, out, version)
			}
		}
		if errors.Is(err, storage.ErrPrecondition) || errors.Is(err, storage.ErrNotExist) {
			continue // another holder wrote in between: read again
		}
		if err != nil {
			return fmt.Errorf("writing %s: %w", LockPath, err)
		}
		return nil
	}
	return fmt.Errorf("writing %s: %w (it kept changing while this run wrote it)", LockPath, ErrLocked)
}

// holds tells whether runID is one of the record's holders.
func (r *LockRecord) holds(runID string) bool {
	return slices.ContainsFunc(r.Holders, func(h LockHolder) bool { return h.RunID == runID })
}

// Renew extends this holder's lease by the lease from now. An entry that is gone (its lease
// ran out and it was dropped) gives ErrLockLost: the run must stop.
func (k *Lock) Renew(ctx context.Context) error {
	return k.update(ctx, func(rec *LockRecord) (bool, error) {
		i := slices.IndexFunc(rec.Holders, func(h LockHolder) bool { return h.RunID == k.me.RunID })
		if i < 0 || rec.Plan != k.req.Plan {
			return false, ErrLockLost
		}
		rec.Holders[i].Expires = k.req.Now().UTC().Add(k.req.Lease)
		return true, nil
	})
}

// ClaimPublisher makes this holder the publisher of instance (plan@attempt) unless another
// live holder is, or instance is marked published (MarkPublished). Of holders that claim at
// once exactly one gets true: the claim is a conditional write. ErrLockLost when this holder's
// entry is gone.
func (k *Lock) ClaimPublisher(ctx context.Context, instance string) (bool, error) {
	claimed := false
	err := k.update(ctx, func(rec *LockRecord) (bool, error) {
		claimed = false // update calls this again after another holder's write won
		if !rec.holds(k.me.RunID) {
			return false, ErrLockLost
		}
		if rec.Published == instance {
			return false, nil
		}
		switch rec.Publisher {
		case k.me.RunID:
			claimed = true
			return false, nil
		case "":
			rec.Publisher, claimed = k.me.RunID, true
			return true, nil
		}
		return false, nil
	})
	return claimed, err
}

// MarkPublished records in the lock that instance (plan@attempt) is published, before the
// publisher leaves it, so that no other holder claims the publisher role for it again.
func (k *Lock) MarkPublished(ctx context.Context, instance string) error {
	return k.update(ctx, func(rec *LockRecord) (bool, error) {
		if !rec.holds(k.me.RunID) {
			return false, ErrLockLost
		}
		if rec.Published == instance {
			return false, nil
		}
		rec.Published = instance
		return true, nil
	})
}

// Release removes this holder from the lock; the lock object goes with its last holder. It
// never removes another holder's entry, nor a lock that another plan took over.
func (k *Lock) Release(ctx context.Context) error {
	return k.update(ctx, func(rec *LockRecord) (bool, error) {
		i := slices.IndexFunc(rec.Holders, func(h LockHolder) bool { return h.RunID == k.me.RunID })
		if i < 0 {
			return false, nil
		}
		rec.Holders = slices.Delete(rec.Holders, i, i+1)
		if rec.Publisher == k.me.RunID {
			rec.Publisher = ""
		}
		return true, nil
	})
}
