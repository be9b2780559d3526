package pipelines_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/pipelines"
)

// askedUsers records whose conversations a server was asked, in front of next; hang, when set,
// holds every conversations request until the client gives up.
type askedUsers struct {
	mu    sync.Mutex
	users map[string]int
	hang  atomic.Bool
}

func (a *askedUsers) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, rest, ok := strings.Cut(r.URL.EscapedPath(), "/channel-user/"); ok && strings.HasSuffix(r.URL.Path, "/conversations") {
			id, _ := url.PathUnescape(strings.SplitN(rest, "/", 2)[0]) // an id may hold a "/"
			a.mu.Lock()
			if a.users == nil {
				a.users = map[string]int{}
			}
			a.users[id]++
			a.mu.Unlock()
			if a.hang.Load() {
				select {
				case <-r.Context().Done():
				case <-time.After(time.Minute):
				}
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (a *askedUsers) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.users)
}

// TestStalledAPIStartsNoMoreUsers: when the User API answers and every conversations request
// hangs, the users in flight give up after their SilenceBudget, and by then the client is
// stalled (StallAfter is shorter), so no other user is started: the run ends with every user
// owed, having asked the conversations of the first Concurrency users only, whatever the
// machine's load (the order of events decides it, not a duration).
func TestStalledAPIStartsNoMoreUsers(t *testing.T) {
	var asked askedUsers
	asked.hang.Store(true)
	h := newHarness(t, simOptions(51, 12), asked.wrap)
	c := h.client(func(o *extract.Options) {
		o.AttemptTimeout, o.SilenceBudget, o.StallAfter, o.MaxAttempts = 100*time.Millisecond, 250*time.Millisecond, 150*time.Millisecond, 50
	})
	const concurrency = 3
	sum, err := h.pipeline(c, func(o *pipelines.Options) { o.Concurrency, o.BatchSize = concurrency, 4 }).
		Export(context.Background(), day(t, "2024-05-01"), day(t, "2024-05-07"))
	if !errors.Is(err, pipelines.ErrIncomplete) {
		t.Fatalf("error %v, want ErrIncomplete", err)
	}
	if len(sum.OwedUsers) != 12 || sum.NotStarted != 12-concurrency {
		t.Fatalf("owed %d users (%d not started), want 12 (%d not started)", len(sum.OwedUsers), sum.NotStarted, 12-concurrency)
	}
	if n := asked.count(); n != concurrency {
		t.Fatalf("the conversations of %d users were asked, want the %d in flight when the API stopped answering", n, concurrency)
	}
	st, err := pipelines.ReadState(context.Background(), h.lake)
	if err != nil || len(st.Owed) != 12 {
		t.Fatalf("the state owes %d users (%v), want 12", len(st.Owed), err)
	}
	rep, err := h.lake.Verify(context.Background(), "", "")
	if err != nil || rep.OK() {
		t.Fatalf("verify: %v, OK %v while users are owed", err, rep.OK())
	}

	// The API answers again: the next run exports what is owed, and the lake is the truth.
	asked.hang.Store(false)
	if _, err := h.pipeline(h.client(nil), nil).Export(context.Background(), day(t, "2024-05-01"), day(t, "2024-05-07")); err != nil {
		t.Fatal(err)
	}
	h.check(day(t, "2024-05-01"), day(t, "2024-05-07"))
}

// TestSlowAPIIsNotStalled: an API that answers every request well within StallAfter is never
// stalled, however long the run, and a hold after a 429 (no request out) longer than
// StallAfter does not count: the run exports every user. The run keeps requests out for many
// times StallAfter in all, so silence that an answer did not end would stall it.
func TestSlowAPIIsNotStalled(t *testing.T) {
	so := simOptions(52, 45)
	so.Faults.Latency = 40 * time.Millisecond
	var throttled atomic.Bool
	h := newHarness(t, so, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/conversations") && throttled.CompareAndSwap(false, true) {
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	c := h.client(func(o *extract.Options) { o.StallAfter = 500 * time.Millisecond })
	sum, err := h.pipeline(c, func(o *pipelines.Options) { o.Concurrency = 1 }).
		Export(context.Background(), day(t, "2024-05-01"), day(t, "2024-05-07"))
	if err != nil || sum.NotStarted != 0 {
		t.Fatalf("error %v, %d users not started", err, sum.NotStarted)
	}
	if sum.API.Throttled != 1 || sum.API.Requests < 45 {
		t.Fatalf("requests %d, 429s %d: want a 429 and a request per user at least", sum.API.Requests, sum.API.Throttled)
	}
	h.check(day(t, "2024-05-01"), day(t, "2024-05-07"))
}
