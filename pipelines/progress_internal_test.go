package pipelines

import (
	"testing"
	"time"
)

// TestETA: the ETA is the pace so far times the work left; at a steady pace, elapsed + ETA
// is the same total at every step (it converges instead of growing), and it is unknown
// before any work is done.
func TestETA(t *testing.T) {
	for _, c := range []struct {
		done, total int
		elapsed     time.Duration
		want        time.Duration
	}{
		{0, 100, time.Minute, -1},
		{10, 100, 0, -1},
		{100, 100, time.Minute, 0},
		{120, 100, time.Minute, 0},
		{25, 100, time.Minute, 3 * time.Minute},
		{50, 100, time.Minute, time.Minute},
	} {
		if got := eta(c.done, c.total, c.elapsed); got != c.want {
			t.Errorf("eta(%d, %d, %s) = %s, want %s", c.done, c.total, c.elapsed, got, c.want)
		}
	}
	const pace = 300 * time.Millisecond // per user
	for done := 1; done < 1000; done += 37 {
		elapsed := time.Duration(done) * pace
		total := elapsed + eta(done, 1000, elapsed)
		if d := total - 1000*pace; d > time.Millisecond || d < -time.Millisecond {
			t.Fatalf("at %d users done the predicted total is %s, want %s", done, total, 1000*pace)
		}
	}
}

func TestBar(t *testing.T) {
	for _, c := range []struct {
		done, total int
		want        string
	}{
		{0, 10, "[>         ]   0%"},
		{5, 10, "[=====>    ]  50%"},
		{10, 10, "[==========] 100%"},
		{0, 0, "[==========] 100%"},
	} {
		if got := bar(c.done, c.total, 10); got != c.want {
			t.Errorf("bar(%d, %d) = %q, want %q", c.done, c.total, got, c.want)
		}
	}
}
