package extract

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// hang holds a request until its client gives up or the test ends.
func hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(time.Minute):
	}
}

// TestSilenceBudget: a request whose attempts get no answer gives up once they have waited
// SilenceBudget in all, long before MaxAttempts, on either endpoint and whether the headers or
// the body never come; attempts that are answered (5xx) do not spend the budget.
func TestSilenceBudget(t *testing.T) {
	const attempt, budget = 150 * time.Millisecond, 400 * time.Millisecond
	for _, tc := range []struct {
		name       string
		serve      func(w http.ResponseWriter, r *http.Request)
		cause      string
		minA, maxA int // attempts made
	}{
		// 150 + 150 + 100 ms: three attempts, two when a loaded machine stretches the first.
		{"no headers", func(_ http.ResponseWriter, r *http.Request) { hang(r) }, CauseTimeout, 2, 3},
		{"headers, then no body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(200)
			_, _ = w.Write([]byte(`{"conversations":[`))
			w.(http.Flusher).Flush()
			hang(r)
		}, CauseTimeout, 2, 3},
		{"answered 503", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 503, `down`) }, Cause5xx, 20, 20},
	} {
		for _, ep := range []endpoint{endpointUsers, endpointConversations} {
			t.Run(tc.name+"/"+map[endpoint]string{endpointUsers: "users", endpointConversations: "conversations"}[ep], func(t *testing.T) {
				rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) { tc.serve(w, r) })
				c, _ := newTestClient(t, rec.srv.URL, func(o *Options) {
					o.MaxAttempts, o.AttemptTimeout, o.SilenceBudget = 20, attempt, budget
				})
				err := callEndpoint(c, context.Background(), ep)
				var re *RetryError
				if !errors.As(err, &re) || re.Cause != tc.cause {
					t.Fatalf("error %v, want a *RetryError with cause %s", err, tc.cause)
				}
				if re.Attempts < tc.minA || re.Attempts > tc.maxA || len(rec.requests()) != re.Attempts {
					t.Fatalf("%d attempts (%d requests), want %d..%d", re.Attempts, len(rec.requests()), tc.minA, tc.maxA)
				}
				if tc.cause == CauseTimeout && re.Unanswered < budget {
					t.Errorf("gave up after %s without an answer, before the budget %s", re.Unanswered, budget)
				}
				if tc.cause != CauseTimeout && re.Unanswered != 0 {
					t.Errorf("answered attempts spent %s of the budget", re.Unanswered)
				}
			})
		}
	}
}

// TestSilenceAndStalled: Silence grows while a request waits for an answer and the Client is
// Stalled once it reaches StallAfter; an answer ends it. A limiter hold after a 429 longer than
// StallAfter, with no request out, is not silence.
func TestSilenceAndStalled(t *testing.T) {
	t.Run("a request that is not answered", func(t *testing.T) {
		release := make(chan struct{})
		arrived := make(chan struct{}, 10)
		rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
			arrived <- struct{}{}
			if n == 1 {
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
			}
			writeJSON(w, 200, convBody(1, -1, msgs(1, 1)))
		})
		c, _ := newTestClient(t, rec.srv.URL, func(o *Options) { o.StallAfter = 50 * time.Millisecond })
		if c.Silence() != 0 || c.Stalled() {
			t.Fatalf("a new client: silence %s, stalled %v", c.Silence(), c.Stalled())
		}
		done := make(chan error, 1)
		go func() { _, err := collect(c, context.Background(), "u1", testWindow()); done <- err }()
		<-arrived
		for !c.Stalled() { // the request waits: silence grows until the client is stalled
			select {
			case err := <-done:
				t.Fatalf("the request ended (%v) before the client was stalled", err)
			case <-time.After(5 * time.Millisecond):
			}
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if c.Stalled() || c.Silence() != 0 {
			t.Fatalf("after an answer: silence %s, stalled %v", c.Silence(), c.Stalled())
		}
	})
	t.Run("a limiter hold is not silence", func(t *testing.T) {
		var second atomic.Bool
		rec := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, n int) {
			if n == 1 {
				w.Header().Set("Retry-After", "2")
				writeJSON(w, 429, ``)
				return
			}
			second.Store(true)
			writeJSON(w, 200, convBody(1, -1, msgs(1, 1)))
		})
		c, _ := newTestClient(t, rec.srv.URL, func(o *Options) { o.StallAfter = 500 * time.Millisecond })
		done := make(chan error, 1)
		go func() { _, err := collect(c, context.Background(), "u1", testWindow()); done <- err }()
		for {
			if c.Stalled() && !second.Load() {
				t.Fatalf("stalled (silence %s) during the 2s hold after a 429", c.Silence())
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				if len(rec.requests()) != 2 {
					t.Fatalf("%d requests, want the 429 and its retry", len(rec.requests()))
				}
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
}
