package pipelines_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/pipelines"
	"github.com/chatlake/chatlake/schema"
	"github.com/chatlake/chatlake/sim"
)

// TestNightlyLateMessages runs the nightly command once a simulated day, at 02:00 UTC, over ten
// days whose messages partly arrive late. A late message is in the lake exactly once after the
// next run that still reads its day (the lookback); one that arrives after the lookback has
// passed is not, as documented. Each run counts the late messages it finds (new in a day an
// earlier run exported), by age, and warns when they reached its oldest lookback day; a
// backfill afterwards completes the lake exactly.
func TestNightlyLateMessages(t *testing.T) {
	so := simOptions(21, 40)
	so.To = time.Date(2024, 5, 11, 0, 0, 0, 0, time.UTC)
	h := newHarness(t, so, nil)
	first := day(t, "2024-05-01")
	exported := map[string]time.Time{} // day -> clock of the last run that exported it
	firstExport := map[string]time.Time{}
	lateSeen, warned := int64(0), 0
	for night := time.Date(2024, 5, 3, 2, 0, 0, 0, time.UTC); !night.After(time.Date(2024, 5, 13, 2, 0, 0, 0, time.UTC)); night = night.Add(24 * time.Hour) {
		h.clock.Set(night)
		sum, err := h.pipeline(h.client(nil), func(o *pipelines.Options) { o.Lookback = 2 }).Nightly(context.Background(), first)
		if err != nil {
			t.Fatalf("night %s: %v", night, err)
		}
		if sum.From == "" {
			t.Fatalf("night %s exported nothing", night)
		}
		// The late messages of this run: of the days it read that an earlier run exported,
		// those that arrived after that run and by now.
		wantLate, wantByAge, oldestLate := int64(0), map[int]int64{}, int64(0)
		for d, at := range exported {
			if d < sum.From || d > sum.To {
				continue
			}
			dd := day(t, d)
			for _, m := range h.sim.Truth(nil, dd, dd.AddDate(0, 0, 1), night) {
				if m.ArrivesAt.After(at) {
					wantLate++
					wantByAge[int(night.Truncate(24*time.Hour).Sub(dd).Hours()/24)]++
					if d == sum.From {
						oldestLate++
					}
				}
			}
		}
		if sum.LateMessages != wantLate || !maps.Equal(sum.LateByAge, wantByAge) {
			t.Fatalf("night %s: late messages %d %v, want %d %v", night, sum.LateMessages, sum.LateByAge, wantLate, wantByAge)
		}
		lateSeen += sum.LateMessages
		hasWarning := slices.ContainsFunc(sum.Warnings, func(w string) bool { return strings.Contains(w, "oldest day of the lookback") })
		if hasWarning != (oldestLate > 0) {
			t.Fatalf("night %s: %d late messages at the oldest lookback day %s, warning given %v: %q", night, oldestLate, sum.From, hasWarning, sum.Warnings)
		}
		if hasWarning {
			warned++
		}
		st, err := pipelines.ReadState(context.Background(), h.lake)
		if err != nil {
			t.Fatal(err)
		}
		for d, ds := range st.Days {
			if ds.RunID == sum.RunID {
				exported[d] = night
				if _, ok := firstExport[d]; !ok {
					firstExport[d] = night
				}
			}
		}
		if want := night.Add(-time.Hour).AddDate(0, 0, -1).Format(schema.DayLayout); st.Watermark != want {
			t.Fatalf("night %s: watermark %s, want %s", night, st.Watermark, want)
		}
	}

	// The lake must hold, for every day, what had arrived by the last run that read the day.
	var want []sim.Message
	pickedUp, missedForGood := 0, 0
	for d, at := range exported {
		dd := day(t, d)
		want = append(want, h.sim.Truth(nil, dd, dd.AddDate(0, 0, 1), at)...)
		for _, m := range h.sim.Truth(nil, dd, dd.AddDate(0, 0, 1), at.AddDate(0, 0, 30)) {
			switch {
			case m.ArrivesAt.After(firstExport[d]) && !m.ArrivesAt.After(at):
				pickedUp++
			case m.ArrivesAt.After(at):
				missedForGood++
			}
		}
	}
	if diff := lakecheck.Compare(h.read(), want); diff != "" {
		t.Fatal(diff)
	}
	if pickedUp == 0 {
		t.Error("no late message was picked up by a lookback: the case was not exercised")
	}
	if missedForGood == 0 {
		t.Error("no message arrived after its lookback: the documented limit was not exercised")
	}
	if int64(pickedUp) != lateSeen {
		t.Errorf("the runs counted %d late messages, the truth has %d picked up by a lookback", lateSeen, pickedUp)
	}
	if warned == 0 {
		t.Error("no run warned about late messages at its oldest lookback day: the case was not exercised")
	}
	t.Logf("late messages picked up by the lookback: %d (counted by the runs; %d runs warned); arrived after it (not in the lake): %d",
		pickedUp, warned, missedForGood)

	// A backfill once everything has arrived completes the lake exactly.
	h.clock.Set(time.Date(2024, 6, 15, 2, 0, 0, 0, time.UTC))
	last := day(t, "2024-05-10")
	if _, err := h.pipeline(h.client(nil), nil).Backfill(context.Background(), first, last, false); err != nil {
		t.Fatal(err)
	}
	h.check(first, last)
}

// TestNightlyNeedsFrom: a lake without state needs --from; an open day is never exported.
func TestNightlyBadInput(t *testing.T) {
	h := newHarness(t, simOptions(1, 5), nil)
	h.clock.Set(time.Date(2024, 5, 3, 0, 30, 0, 0, time.UTC))
	_, err := h.pipeline(h.client(nil), nil).Nightly(context.Background(), time.Time{})
	if !errors.Is(err, pipelines.ErrBadInput) {
		t.Fatalf("no state, no --from: error %v, want ErrBadInput", err)
	}
	// At 00:30 on 05-03 with a 1h settle, 05-02 is still open: the last closed day is 05-01.
	_, err = h.pipeline(h.client(nil), nil).Nightly(context.Background(), day(t, "2024-05-02"))
	if !errors.Is(err, pipelines.ErrBadInput) {
		t.Fatalf("--from an open day: error %v, want ErrBadInput", err)
	}
	if objs, _ := h.store.List(context.Background(), "messages/"); len(objs) != 0 {
		t.Fatalf("bad input wrote %d files", len(objs))
	}
}

// TestBackfillResume interrupts a backfill after some batches and reruns it: the rerun skips
// the finished batches, makes fewer requests than a full run, and the lake equals the truth.
func TestBackfillResume(t *testing.T) {
	so := simOptions(31, 20)
	so.To = time.Date(2024, 5, 11, 0, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var requests atomic.Int64
	stopAfter := int64(-1)
	h := newHarness(t, so, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n := requests.Add(1); stopAfter > 0 && n == stopAfter {
				cancel()
			}
			next.ServeHTTP(w, r)
		})
	})
	from, to := day(t, "2024-05-01"), day(t, "2024-05-10")
	opts := func(o *pipelines.Options) { o.BatchSize = 2; o.ParallelBatches = 1; o.Concurrency = 1 }

	// A full run on a scratch harness measures what the whole backfill costs.
	full := newHarness(t, so, nil)
	fullSum, err := full.pipeline(full.client(nil), opts).Backfill(context.Background(), from, to, false)
	if err != nil {
		t.Fatal(err)
	}

	stopAfter = fullSum.API.Requests / 2
	_, err = h.pipeline(h.client(nil), opts).Backfill(ctx, from, to, false)
	if err == nil {
		t.Fatal("the interrupted backfill reported success")
	}
	before := requests.Load()
	sum, err := h.pipeline(h.client(nil), opts).Backfill(context.Background(), from, to, false)
	if err != nil {
		t.Fatal(err)
	}
	if sum.BatchesSkipped == 0 || !sum.Resumed {
		t.Fatal("the rerun skipped no finished batch")
	}
	rerun := requests.Load() - before
	if rerun >= fullSum.API.Requests {
		t.Fatalf("the rerun made %d requests, a full backfill makes %d", rerun, fullSum.API.Requests)
	}
	h.check(from, to)
	t.Logf("full backfill %d requests; resumed after %d batches with %d requests", fullSum.API.Requests, sum.BatchesSkipped, rerun)
	// A finished backfill is not done again.
	again, err := h.pipeline(h.client(nil), opts).Backfill(context.Background(), from, to, false)
	if err != nil || !again.AlreadyComplete {
		t.Fatalf("rerun of a finished backfill: %+v, %v; want already complete", again, err)
	}
}

// TestLock: a run on a lake whose lock is held refuses with ErrLocked and writes nothing; an
// expired lock (its run died) is taken over.
func TestLock(t *testing.T) {
	h := newHarness(t, simOptions(2, 20), nil)
	from, to := day(t, "2024-05-01"), day(t, "2024-05-02")
	held := load.LockRecord{Plan: "backfill-other", Kind: "backfill", Holders: []load.LockHolder{{RunID: "other",
		Host: "elsewhere", PID: 1, Acquired: h.clock.Now(), Expires: h.clock.Now().Add(time.Hour)}}}
	data, _ := json.Marshal(held)
	if _, err := h.store.PutIf(context.Background(), load.LockPath, data, ""); err != nil {
		t.Fatal(err)
	}
	_, err := h.pipeline(h.client(nil), nil).Export(context.Background(), from, to)
	var le *load.LockedError
	if !errors.Is(err, pipelines.ErrLocked) || !errors.As(err, &le) || le.Holder.Holders[0].RunID != "other" {
		t.Fatalf("error %v, want ErrLocked naming run other", err)
	}
	if objs, _ := h.store.List(context.Background(), "messages/"); len(objs) != 0 {
		t.Fatalf("a locked-out run wrote %d files", len(objs))
	}

	h.clock.Set(h.clock.Now().Add(2 * time.Hour)) // the holder's lease ran out
	if _, err := h.pipeline(h.client(nil), nil).Export(context.Background(), from, to); err != nil {
		t.Fatalf("expired lock not taken over: %v", err)
	}
	h.check(from, to)
	if rec, err := h.lake.ReadLock(context.Background()); err != nil || rec != nil {
		t.Fatalf("lock after the run: %+v, %v; want released", rec, err)
	}
}

// TestProgressLines: without a terminal, progress is a line per tick and per finished batch:
// users and batches done of total, messages, rate and an ETA.
func TestProgressLines(t *testing.T) {
	h := newHarness(t, simOptions(4, 10), nil)
	var buf syncBuffer
	p := h.pipeline(h.client(nil), func(o *pipelines.Options) {
		o.BatchSize, o.ParallelBatches, o.Progress, o.ProgressEvery = 4, 1, &buf, 5*time.Millisecond
	})
	if _, err := p.Backfill(context.Background(), day(t, "2024-05-01"), day(t, "2024-05-06"), false); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"batches 1/3", "batches 2/3", "users 10/10  batches 3/3", "msg/s", "eta 0s"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRerunExportsWhatIsOwed: a run whose user fails every attempt leaves it owed; the same
// command run again, while the user still fails, is incomplete again (never "already
// complete", never ok); once the fault is gone, the same command again exports the owed user
// (and, where nothing else is due, only it), the lake equals the truth and verify passes.
func TestRerunExportsWhatIsOwed(t *testing.T) {
	from, to := day(t, "2024-05-01"), day(t, "2024-05-07")
	for _, tc := range []struct {
		name     string
		run      func(p *pipelines.Pipeline) (*pipelines.Summary, error)
		onlyOwed bool // the rerun has nothing else to do: it asks only the owed user's conversations
	}{
		{"backfill", func(p *pipelines.Pipeline) (*pipelines.Summary, error) {
			return p.Backfill(context.Background(), from, to, false)
		}, true},
		{"nightly run with no day due", func(p *pipelines.Pipeline) (*pipelines.Summary, error) {
			return p.Nightly(context.Background(), from)
		}, true},
		{"export", func(p *pipelines.Pipeline) (*pipelines.Summary, error) {
			return p.Export(context.Background(), from, to)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			asked := map[string]bool{} // users whose conversations were asked
			h := newHarness(t, simOptions(41, 12), func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if _, rest, ok := strings.Cut(r.URL.EscapedPath(), "/channel-user/"); ok && strings.HasSuffix(r.URL.Path, "/conversations") {
						id, _ := url.PathUnescape(strings.SplitN(rest, "/", 2)[0]) // an id may hold a "/"
						mu.Lock()
						asked[id] = true
						mu.Unlock()
					}
					next.ServeHTTP(w, r)
				})
			})
			victim := h.sim.UserIDs(nil)[5]
			h.failing.Store(&victim)
			p := func() *pipelines.Pipeline {
				return h.pipeline(h.client(func(o *extract.Options) { o.MaxAttempts = 2 }), nil)
			}
			for attempt := 1; attempt <= 2; attempt++ {
				sum, err := tc.run(p())
				if !errors.Is(err, pipelines.ErrIncomplete) || !strings.Contains(err.Error(), victim) || sum.AlreadyComplete {
					t.Fatalf("run %d with the user failing: %v (already complete %v), want ErrIncomplete naming %s", attempt, err, sum.AlreadyComplete, victim)
				}
				st, err := pipelines.ReadState(context.Background(), h.lake)
				if err != nil {
					t.Fatal(err)
				}
				if o, ok := st.Owed[victim]; !ok || o.Attempts != attempt || len(st.Owed) != 1 {
					t.Fatalf("run %d: the state owes %+v, want %s after %d attempt(s)", attempt, st.Owed, victim, attempt)
				}
				rep, err := h.lake.Verify(context.Background(), "", "")
				if err != nil || rep.OK() {
					t.Fatalf("run %d: verify passes (%v) while %s is owed", attempt, err, victim)
				}
			}
			h.failing.Store(nil)
			mu.Lock()
			clear(asked)
			mu.Unlock()
			sum, err := tc.run(p())
			if err != nil || sum.AlreadyComplete || sum.OwedTotal != 0 {
				t.Fatalf("the rerun after the fault went: %v, already complete %v, owed %d", err, sum.AlreadyComplete, sum.OwedTotal)
			}
			mu.Lock()
			if tc.onlyOwed && (len(asked) != 1 || !asked[victim]) {
				t.Errorf("the rerun asked the conversations of %v, want only the owed %s", slices.Sorted(maps.Keys(asked)), victim)
			}
			mu.Unlock()
			h.check(from, to)
			if tc.name == "backfill" {
				if again, err := tc.run(p()); err != nil || !again.AlreadyComplete {
					t.Fatalf("a rerun with nothing owed: %v, already complete %v", err, again.AlreadyComplete)
				}
			}
		})
	}
}
