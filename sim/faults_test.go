package sim_test

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chatlake/chatlake/sim"
)

func TestRandomFaults(t *testing.T) {
	const n, p = 800, 0.25
	// Binomial(800, 0.25): mean 200, sd 12.2; accept +-5 sd.
	lo, hi := int(n*p-5*math.Sqrt(n*p*(1-p))), int(n*p+5*math.Sqrt(n*p*(1-p)))
	tests := []struct {
		name   string
		faults sim.Faults
		kind   string
		// hit reports whether one reply shows the fault, failing t if it shows it wrongly.
		hit func(t *testing.T, r reply) bool
	}{
		{"429", sim.Faults{P429: p, RetryAfter: 1500 * time.Millisecond}, sim.FaultTooManyRequests, func(t *testing.T, r reply) bool {
			if r.status != 429 {
				return false
			}
			if ra := r.header.Get("Retry-After"); ra != "2" {
				t.Fatalf("Retry-After %q, want 2 (1.5 s rounded up)", ra)
			}
			return true
		}},
		{"5xx", sim.Faults{P5xx: p}, sim.FaultServerError, func(t *testing.T, r reply) bool {
			if r.status < 500 {
				return false
			}
			if !slices.Contains([]int{500, 502, 503, 504}, r.status) || r.header.Get("Content-Type") != "text/html" || json.Valid(r.body) {
				t.Fatalf("5xx reply %d %q %.100s", r.status, r.header.Get("Content-Type"), r.body)
			}
			return true
		}},
		{"cutoff", sim.Faults{PCutOff: p}, sim.FaultCutOff, func(t *testing.T, r reply) bool {
			if r.status != 200 {
				t.Fatalf("status %d", r.status)
			}
			if r.err == nil {
				if !json.Valid(r.body) {
					t.Fatalf("complete body is not JSON: %.100s", r.body)
				}
				return false
			}
			if !errors.Is(r.err, io.ErrUnexpectedEOF) || json.Valid(r.body) || len(r.body) == 0 {
				t.Fatalf("cut-off reply: %v, %d bytes", r.err, len(r.body))
			}
			return true
		}},
		{"spike", sim.Faults{PSpike: p, Spike: time.Microsecond}, sim.FaultSpike, func(t *testing.T, r reply) bool {
			if r.status != 200 {
				t.Fatalf("status %d", r.status)
			}
			return false // not visible to the client; counted from Stats below
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, sim.Options{Seed: 31, Faults: tc.faults})
			ids := h.s.UserIDs(nil)
			hits, codes := 0, map[int]bool{}
			for i := range n {
				var r reply
				if i%4 == 0 {
					r = h.do(usersPath(), url.Values{"attribute_name": {"feedback"}, "attribute_value": {"3"}}, nil)
				} else {
					r = h.do(convPath(ids[i%len(ids)]), window(defFrom(), defTo(), 1, 100), nil)
				}
				if tc.hit(t, r) {
					hits++
					codes[r.status] = true
				}
			}
			st := h.s.Stats()
			if tc.kind == sim.FaultSpike {
				hits = st.Faults[sim.FaultSpike]
			}
			if hits < lo || hits > hi {
				t.Errorf("%d faults in %d requests, want in [%d, %d]", hits, n, lo, hi)
			}
			if st.Faults[tc.kind] != hits || st.Requests != n || len(st.Faults) != 1 {
				t.Errorf("stats %+v, observed %d", st, hits)
			}
			if st.ByEndpoint[sim.EndpointUsers] != n/4 || st.ByEndpoint[sim.EndpointConversations] != n-n/4 {
				t.Errorf("by endpoint %v", st.ByEndpoint)
			}
			if tc.kind == sim.FaultServerError && len(codes) != 4 {
				t.Errorf("5xx codes seen: %v", codes)
			}
			total := 0
			for _, c := range st.ByStatus {
				total += c
			}
			if total != n {
				t.Errorf("by status %v sums to %d", st.ByStatus, total)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	// One token per 100 s and a burst of 2: two requests pass, the rest are refused for long.
	h := newHarness(t, sim.Options{Seed: 1, Faults: sim.Faults{RateLimit: 0.01, RateBurst: 2}})
	id := h.s.UserIDs(nil)[0]
	for i := range 5 {
		r := h.do(convPath(id), nil, nil)
		if i < 2 {
			if r.status != 200 {
				t.Fatalf("request %d: %d", i, r.status)
			}
			continue
		}
		ra, err := strconv.Atoi(r.header.Get("Retry-After"))
		if r.status != 429 || err != nil || ra < 90 || ra > 100 {
			t.Errorf("request %d: %d, Retry-After %q", i, r.status, r.header.Get("Retry-After"))
		}
	}
	if st := h.s.Stats(); st.Faults[sim.FaultRateLimit] != 3 || st.ByStatus[429] != 3 || st.ByStatus[200] != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestInvalidUsers(t *testing.T) {
	s0, _ := sim.New(sim.Options{Seed: 8})
	bad := s0.UserIDs(nil)[3]
	h := newHarness(t, sim.Options{Seed: 8, Faults: sim.Faults{InvalidUsers: []string{bad}}})
	if !slices.Contains(h.s.UserIDs(nil), bad) {
		t.Fatal("invalid user not listed")
	}
	r := h.do(convPath(bad), nil, nil)
	if r.status != 400 || decode(t, r.body).Status.Code != 1002 {
		t.Errorf("invalid user: %d %s", r.status, r.body)
	}
	if got := len(truthOf(h.s, bad, defFrom(), defTo(), farFuture())); got != 0 {
		t.Errorf("Truth has %d messages of the invalid user", got)
	}
	if all := len(s0.Truth(nil, defFrom(), defTo(), farFuture())) - len(h.s.Truth(nil, defFrom(), defTo(), farFuture())); all != len(truthOf(s0, bad, defFrom(), defTo(), farFuture())) {
		t.Errorf("Truth lost %d messages", all)
	}
	if st := h.s.Stats(); st.Faults[sim.FaultInvalidUser] != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestConcurrentRequests(t *testing.T) {
	h := newHarness(t, sim.Options{Seed: 41, Variant: sim.VariantMixed,
		Faults: sim.Faults{P429: 0.1, P5xx: 0.1, PCutOff: 0.1, PSpike: 0.1, Spike: time.Millisecond, Latency: time.Microsecond}})
	ids := h.s.UserIDs(nil)
	const workers, each = 8, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_ = h.do(convPath(ids[(w*each+i)%len(ids)]), window(defFrom(), defTo(), 1+i%3, 50), nil)
			}
		}()
	}
	wg.Wait()
	st := h.s.Stats()
	total := 0
	for _, c := range st.ByStatus {
		total += c
	}
	if st.Requests != workers*each || total != workers*each {
		t.Errorf("stats %+v", st)
	}
}
