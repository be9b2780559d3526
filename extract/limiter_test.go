package extract

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestLimiterAdapts(t *testing.T) {
	l := NewLimiter(100)
	if r := l.Rate(); r != 100 {
		t.Fatalf("starts at %g, want the ceiling 100", r)
	}
	before := time.Now().Add(-time.Millisecond) // strictly before the decrease it causes
	l.Throttle(before, time.Second)
	if r := l.Rate(); !near(r, 90) {
		t.Errorf("after one 429: %g, want 90", r)
	}
	// A 429 of a request sent before that decrease is the same congestion event.
	l.Throttle(before, time.Second)
	if r := l.Rate(); !near(r, 90) {
		t.Errorf("after a stale 429: %g, want still 90", r)
	}
	l.Throttle(time.Now(), 0)
	if r := l.Rate(); !near(r, 81) {
		t.Errorf("after a second event: %g, want %g", r, 81.0)
	}
	for range 1000 {
		l.Throttle(time.Now(), 0)
	}
	if r := l.Rate(); !near(r, 1) {
		t.Errorf("after many 429s: %g, want the floor 1", r)
	}
	l.Success()
	if r := l.Rate(); !near(r, 1+increasePerSuccess) {
		t.Errorf("after a success: %g, want %g", r, 1+increasePerSuccess)
	}
	for range 10000 {
		l.Success()
	}
	if r := l.Rate(); r != 100 {
		t.Errorf("after many successes: %g, want the ceiling 100", r)
	}
}

func TestLimiterHold(t *testing.T) {
	slots := time.Duration(222222222) // 2 slots at 9 r/s (the ceiling 10 lowered once), in ns
	for _, tc := range []struct {
		name       string
		retryAfter time.Duration
		want       time.Duration
	}{
		{"no Retry-After: a few slots at the new rate", 0, slots},
		{"Retry-After 1s: a few slots", time.Second, slots},
		{"sub-slot Retry-After as is", 100 * time.Millisecond, 100 * time.Millisecond},
		{"Retry-After 30s in full", 30 * time.Second, 30 * time.Second},
		{"huge Retry-After bounded", 100 * time.Hour, maxHold},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLimiter(10)
			if got := l.Throttle(time.Now(), tc.retryAfter); got != tc.want {
				t.Errorf("hold %s, want %s", got, tc.want)
			}
		})
	}
}

func TestLimiterWaitCancelledDuringHold(t *testing.T) {
	l := NewLimiter(10)
	l.Throttle(time.Now(), time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- l.Wait(ctx) }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Wait = %v, want context.Canceled", err)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer dcancel()
	if err := l.Wait(dctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait = %v, want context.DeadlineExceeded", err)
	}
}

func TestLimiterBadCeiling(t *testing.T) {
	for _, c := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if r := NewLimiter(c).Rate(); r != DefaultRate {
			t.Errorf("NewLimiter(%g).Rate() = %g, want the default %d", c, r, DefaultRate)
		}
	}
	if err := NewLimiter(1000).Wait(context.Background()); err != nil {
		t.Errorf("Wait without a hold: %v", err)
	}
}
