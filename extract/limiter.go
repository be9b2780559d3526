package extract

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Tuning of the Limiter. See BenchmarkAdaptiveRate for the figures they give.
const (
	// decreaseFactor multiplies the rate on a 429 (once per congestion event).
	decreaseFactor = 0.90
	// floorFraction of the ceiling is the lowest rate a Limiter goes down to.
	floorFraction = 0.01
	// increasePerSuccess is added to the rate on every success, so that the rate grows by
	// about increasePerSuccess*rate per second while the limiter is the bottleneck: slow
	// (4% of the rate per second), and reaching the ceiling again after a long throttled spell.
	increasePerSuccess = 0.04
	// shortHoldSlots: a 429 whose Retry-After is one second or less (the least the header can
	// say) or absent holds everyone for this many request slots at the lowered rate, long enough
	// for a server-side token bucket to hold a token or two again, rather than for a whole
	// second: with a bucket of 50 r/s, a second's hold for everyone would waste 50 requests of
	// capacity per 429 while the bucket can only store its burst.
	shortHoldSlots = 2
	// maxHold bounds any hold, whatever Retry-After says.
	maxHold = 10 * time.Minute
)

// Limiter is an adaptive rate limiter shared by all requests of a Client. Its rate starts at
// the ceiling; each 429 lowers it multiplicatively (once per congestion event: 429s of requests
// sent before the last decrease do not lower it again) down to a floor, and holds every caller
// for the Retry-After time; each success raises it additively back toward the ceiling.
//
// A Limiter is safe for concurrent use.
type Limiter struct {
	mu           sync.Mutex
	rl           *rate.Limiter
	ceiling      float64
	floor        float64
	cur          float64
	holdUntil    time.Time
	lastDecrease time.Time
}

// NewLimiter returns a Limiter whose rate, in requests per second, never exceeds ceiling. A
// ceiling that is not a positive finite number is taken as the default of 20.
func NewLimiter(ceiling float64) *Limiter {
	if !(ceiling > 0) || math.IsInf(ceiling, 0) {
		ceiling = DefaultRate
	}
	return &Limiter{
		// Burst 1: requests go out evenly spaced, never in a burst into the server's bucket.
		rl:      rate.NewLimiter(rate.Limit(ceiling), 1),
		ceiling: ceiling,
		floor:   ceiling * floorFraction,
		cur:     ceiling,
	}
}

// Wait blocks until the caller may send one request: until any hold set by Throttle is over
// and a slot at the current rate is free. It returns ctx.Err() (context.DeadlineExceeded if
// the deadline would pass first) when the context ends first.
func (l *Limiter) Wait(ctx context.Context) error {
	for {
		if err := l.waitHold(ctx); err != nil {
			return err
		}
		if err := l.rl.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return context.DeadlineExceeded
		}
		// A hold set while this caller waited for its slot applies to it too.
		l.mu.Lock()
		held := time.Now().Before(l.holdUntil)
		l.mu.Unlock()
		if !held {
			return nil
		}
	}
}

func (l *Limiter) waitHold(ctx context.Context) error {
	for {
		l.mu.Lock()
		d := time.Until(l.holdUntil)
		l.mu.Unlock()
		if d <= 0 {
			return ctx.Err()
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// Throttle records a 429 for a request sent at sent, whose answer carried retryAfter (0 when
// absent). It lowers the rate unless it was already lowered after the request was sent, and
// holds every caller of Wait: for retryAfter when it is more than a second, else for a few
// request slots at the new rate. It returns the hold.
func (l *Limiter) Throttle(sent time.Time, retryAfter time.Duration) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if !sent.Before(l.lastDecrease) {
		l.cur = math.Max(l.floor, l.cur*decreaseFactor)
		l.lastDecrease = now
		l.rl.SetLimitAt(now, rate.Limit(l.cur))
	}
	hold := time.Duration(shortHoldSlots / l.cur * float64(time.Second))
	switch {
	case retryAfter > time.Second:
		hold = min(retryAfter, maxHold)
	case retryAfter > 0:
		hold = min(hold, retryAfter)
	}
	if until := now.Add(hold); until.After(l.holdUntil) {
		l.holdUntil = until
	}
	return hold
}

// Success records a request that was not throttled and raises the rate a little, up to the
// ceiling.
func (l *Limiter) Success() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur >= l.ceiling {
		return
	}
	l.cur = math.Min(l.ceiling, l.cur+increasePerSuccess)
	l.rl.SetLimit(rate.Limit(l.cur))
}

// Rate is the current rate in requests per second.
func (l *Limiter) Rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur
}

// sleep waits for d or until ctx ends, whichever is first, and returns ctx.Err() in the latter
// case.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
