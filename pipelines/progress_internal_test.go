package pipelines

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/chatlake/chatlake/load"
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

// TestProgressFollowsTicker: progress records come on the ticks of a ticker of ProgressEvery
// (a fake ticker here, so the count is of events, not of wall-clock time), one per tick, and
// when the run ends one more only if the figures changed since the last tick: the last record
// is never a repeat.
func TestProgressFollowsTicker(t *testing.T) {
	for _, c := range []struct {
		name          string
		doneAfterLast bool // the users finish after the last tick
		want          int  // records
	}{
		{"figures changed after the last tick", true, 4},
		{"nothing changed after the last tick", false, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			written := make(recordWriter, 16)
			o := Options{ProgressEvery: 7 * time.Second, Logger: slog.New(slog.NewJSONHandler(written, nil))}
			sum := &Summary{}
			sum.setBatches(1, 1, 0, 3)
			p := newProgress(o, sum)
			ticks := make(chan time.Time) // unbuffered: a send returns once the reporter took it
			var every time.Duration
			p.newTicker = func(d time.Duration) (<-chan time.Time, func()) { every = d; return ticks, func() {} }
			stop := p.start(context.Background())
			var lines [][]byte
			tick := func() { // a tick, and its record written
				ticks <- time.Time{}
				lines = append(lines, <-written)
			}
			tick()
			sum.userDone(10)
			tick()
			finish := func() {
				sum.userDone(10)
				sum.userDone(10)
				sum.batchDone(load.BatchStats{})
			}
			if !c.doneAfterLast {
				finish()
			}
			tick()
			if c.doneAfterLast {
				finish()
			}
			stop()
			for len(written) > 0 {
				lines = append(lines, <-written)
			}
			if every != o.ProgressEvery {
				t.Errorf("the ticker's period is %s, want ProgressEvery %s", every, o.ProgressEvery)
			}
			var recs []map[string]any
			for _, line := range lines {
				var r map[string]any
				if err := json.Unmarshal(line, &r); err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				delete(r, "time")
				delete(r, "elapsed_s")
				delete(r, "messages_per_s")
				delete(r, "eta")
				delete(r, "eta_s")
				recs = append(recs, r)
			}
			if len(recs) != c.want {
				t.Fatalf("%d progress records, want %d (one per tick, and a final one only if it is new):\n%v", len(recs), c.want, recs)
			}
			last := recs[len(recs)-1]
			if last["users_done"] != 3.0 || last["batches_done"] != 1.0 {
				t.Errorf("the last record is not the run's end: %v", last)
			}
			if prev := recs[len(recs)-2]; c.doneAfterLast && reflect.DeepEqual(prev, last) {
				t.Errorf("the last record repeats the one before: %v", last)
			}
		})
	}
}

// recordWriter hands each log record written (one Write of a slog handler) to the test.
type recordWriter chan []byte

func (w recordWriter) Write(p []byte) (int, error) {
	w <- bytes.Clone(p)
	return len(p), nil
}
