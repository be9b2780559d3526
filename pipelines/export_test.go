package pipelines_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/pipelines"
	"github.com/chatlake/chatlake/sim"
)

// TestExportEqualsTruth exports a multi-day range from the simulator over loopback HTTP in
// every response shape and reads the lake back with DuckDB: the rows equal the simulator's
// truth, sent_at is a timestamp, every dt is its row's UTC date, keys are unique; a second
// export leaves exactly the same rows and keys.
func TestExportEqualsTruth(t *testing.T) {
	variants := []sim.Variant{sim.VariantCanonical, sim.VariantTopLevel, sim.VariantTopLevelNoStatus,
		sim.VariantMessagesKey, sim.VariantNoPaging, sim.VariantFlatUsers, sim.VariantUserID,
		sim.VariantUserIDCamel, sim.VariantMixed}
	for _, v := range variants {
		t.Run(string(v), func(t *testing.T) {
			so := simOptions(11, 30)
			so.Variant = v
			h := newHarness(t, so, nil)
			from, to := day(t, "2024-05-01"), day(t, "2024-05-07")
			p := h.pipeline(h.client(nil), nil)
			sum, err := p.Export(context.Background(), from, to)
			if err != nil {
				t.Fatal(err)
			}
			first := h.check(from, to)
			if int(sum.Messages) != len(first) {
				t.Errorf("summary says %d messages, the lake has %d", sum.Messages, len(first))
			}
			if v != sim.VariantCanonical {
				return
			}
			typ, err := lakecheck.ColumnType(context.Background(), lakecheck.Open(t), h.dir, "sent_at")
			if err != nil {
				t.Fatal(err)
			}
			if typ != "TIMESTAMP WITH TIME ZONE" {
				t.Errorf("DuckDB reads sent_at as %s, want TIMESTAMP WITH TIME ZONE", typ)
			}
			before, _ := h.store.List(context.Background(), "messages/")
			if _, err := h.pipeline(h.client(nil), nil).Export(context.Background(), from, to); err != nil {
				t.Fatal(err)
			}
			second := h.check(from, to)
			sameKeys(t, first, second)
			after, _ := h.store.List(context.Background(), "messages/")
			if len(before) != len(after) {
				t.Errorf("rerun changed the file count: %d -> %d", len(before), len(after))
			}
			for i := range min(len(before), len(after)) {
				if before[i].Name != after[i].Name {
					t.Errorf("rerun changed file names: %s -> %s", before[i].Name, after[i].Name)
				}
			}
		})
	}
}

// TestExportRequestCount: one query per user for the whole range, so the requests stay at
// the minimum a correct client needs.
func TestExportRequestCount(t *testing.T) {
	h := newHarness(t, simOptions(3, 40), nil)
	from, to := day(t, "2024-05-01"), day(t, "2024-05-07")
	c := h.client(nil)
	sum, err := h.pipeline(c, nil).Export(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	h.check(from, to)
	simSels := h.sim.Selectors()
	minimum := h.sim.MinRequests(simSels, from, to.AddDate(0, 0, 1), h.clock.Now(), 500)
	got := int(sum.API.Requests)
	// Paging until a short page costs one more request when a count is an exact multiple of
	// the page size; the 1 ms requeries that settle identical messages split by a page
	// boundary are counted in the summary.
	slack := len(simSels) + sum.Requeries
	if got < minimum || got > minimum+slack {
		t.Errorf("requests %d, minimum %d (allowed up to +%d)", got, minimum, slack)
	}
	if st := h.sim.Stats(); int(st.Requests) != got {
		t.Errorf("client counted %d requests, the simulator served %d", got, st.Requests)
	}
}

// TestExportExactUnderFaults turns every fault on at once, for several seeds, and compares the
// lake with the truth row for row.
func TestExportExactUnderFaults(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			so := simOptions(seed, 20)
			so.Variant = sim.VariantMixed
			so.MaxPageSize = 100 // many pages, many page boundaries
			so.Faults = sim.Faults{P5xx: 0.10, P429: 0.05, PCutOff: 0.02, InclusiveEnd: true,
				RateLimit: 400, RetryAfter: time.Second, UsersIgnorePaging: true}
			h := newHarness(t, so, nil)
			// The range ends inside the data, so the window's end bound is exercised.
			from, to := day(t, "2024-05-01"), day(t, "2024-05-04")
			c := h.client(func(o *extract.Options) { o.PageSize = 100; o.MaxAttempts = 20 })
			// Small batches, so several batches stage and merge the same days.
			sum, err := h.pipeline(c, func(o *pipelines.Options) { o.BatchSize = 3 }).Export(context.Background(), from, to)
			if err != nil {
				t.Fatal(err)
			}
			h.check(from, to)
			st := c.Stats()
			if st.Throttled == 0 || st.Retries["5xx"] == 0 {
				t.Errorf("the faults did not happen (429s %d, retries %v): the test proves nothing", st.Throttled, st.Retries)
			}
			if sum.OutsideWindow == 0 {
				t.Errorf("inclusive ends sent no message outside a window: the boundary case was not exercised")
			}
		})
	}
}

// TestTwinsAcrossPageBoundary: identical messages that a page boundary splits stay, and a
// deployment that repeats a message across pages adds nothing.
func TestTwinsAcrossPageBoundary(t *testing.T) {
	for _, repeat := range []bool{false, true} {
		t.Run(fmt.Sprint("repeat=", repeat), func(t *testing.T) {
			so := simOptions(5, 12)
			var wrap func(http.Handler) http.Handler
			if repeat {
				wrap = repeatLastOnNextPage
			}
			h := newHarness(t, so, wrap)
			from, to := day(t, "2024-05-01"), day(t, "2024-05-07")
			sum, err := h.pipeline(h.client(nil), nil).Export(context.Background(), from, to)
			if err != nil {
				t.Fatal(err)
			}
			h.check(from, to)
			if sum.Requeries == 0 {
				t.Error("no identity was settled with a 1 ms query: the page-boundary twin was not exercised")
			}
			if repeat && sum.RepeatedDropped == 0 {
				t.Error("the repeating deployment's repeats were not seen")
			}
		})
	}
}

// TestUserErrors: a user the API calls invalid is skipped and listed; a user whose requests
// keep failing fails its unit, which publishes nothing, while the other units are published.
func TestUserErrors(t *testing.T) {
	t.Run("invalid user skipped", func(t *testing.T) {
		so := simOptions(7, 15)
		probe, err := sim.New(so)
		if err != nil {
			t.Fatal(err)
		}
		bad := probe.UserIDs(nil)[3]
		so.Faults.InvalidUsers = []string{bad}
		h := newHarness(t, so, nil)
		from, to := day(t, "2024-05-01"), day(t, "2024-05-07")
		sum, err := h.pipeline(h.client(nil), nil).Export(context.Background(), from, to)
		if err != nil {
			t.Fatal(err)
		}
		if len(sum.SkippedUsers) != 1 || sum.SkippedUsers[0] != bad {
			t.Fatalf("skipped users %v, want [%s]", sum.SkippedUsers, bad)
		}
		var want []sim.Message
		for _, m := range h.truth(from, to) {
			if m.ChannelUserID != bad {
				want = append(want, m)
			}
		}
		if diff := lakecheck.Compare(h.read(), want); diff != "" {
			t.Fatal(diff)
		}
	})
	t.Run("a fatal error starts no other user", func(t *testing.T) {
		// Every conversations request is answered 1003. With one user in flight, the first
		// answer stops the run: no user may start between the failed user freeing its slot and
		// the run's context ending. The window is short, so the run is repeated.
		so := simOptions(9, 12)
		so.Faults.RejectConversations = 1003
		h := newHarness(t, so, nil)
		from, to := day(t, "2024-05-01"), day(t, "2024-05-07")
		for run := range 200 {
			before := h.sim.Stats().ByEndpoint[sim.EndpointConversations]
			p := h.pipeline(h.client(nil), func(o *pipelines.Options) { o.Concurrency, o.ParallelBatches, o.BatchSize = 1, 1, 2 })
			if _, err := p.Export(context.Background(), from, to); !errors.Is(err, extract.ErrInvalidDate) {
				t.Fatalf("run %d: error %v, want ErrInvalidDate", run, err)
			}
			if n := h.sim.Stats().ByEndpoint[sim.EndpointConversations] - before; n != 1 {
				t.Fatalf("run %d: %d conversations requests after a 1003, want 1: the run went on", run, n)
			}
		}
	})
	t.Run("a failing user holds no one back", func(t *testing.T) {
		so := simOptions(8, 15)
		h := newHarness(t, so, nil)
		from, to := day(t, "2024-05-01"), day(t, "2024-05-07")
		// A first export: the lake has every user's rows.
		if _, err := h.pipeline(h.client(nil), nil).Export(context.Background(), from, to); err != nil {
			t.Fatal(err)
		}
		before := h.read()
		victim := h.sim.UserIDs(nil)[2]

		// Late messages arrive, then the victim's requests fail every attempt.
		h.clock.Set(h.clock.Now().Add(24 * time.Hour))
		h.failing.Store(&victim)
		c := h.client(func(o *extract.Options) { o.MaxAttempts = 3 })
		sum, err := h.pipeline(c, func(o *pipelines.Options) { o.BatchSize = 4 }).Export(context.Background(), from, to)
		if !errors.Is(err, pipelines.ErrIncomplete) {
			t.Fatalf("error %v, want ErrIncomplete", err)
		}
		if !strings.Contains(err.Error(), victim) || !slices.Equal(sum.OwedUsers, []string{victim}) {
			t.Fatalf("error %q, owed %v: want the user %s named", err, sum.OwedUsers, victim)
		}
		// Every other user's rows are published anew; the victim keeps its previous rows.
		var want []sim.Message
		for _, m := range h.truth(from, to) {
			if m.ChannelUserID != victim {
				want = append(want, m)
			}
		}
		got := h.read()
		var victimRows, others []lakecheck.Row
		for _, r := range got {
			if r.ChannelUserID == victim {
				victimRows = append(victimRows, r)
			} else {
				others = append(others, r)
			}
		}
		if diff := lakecheck.Compare(others, want); diff != "" {
			t.Fatal(diff)
		}
		var victimBefore []lakecheck.Row
		for _, r := range before {
			if r.ChannelUserID == victim {
				victimBefore = append(victimBefore, r)
			}
		}
		if len(victimBefore) == 0 || !slices.Equal(lakecheck.Keys(victimRows), lakecheck.Keys(victimBefore)) {
			t.Fatalf("the failing user's rows changed: %d before, %d after", len(victimBefore), len(victimRows))
		}
		st, err := pipelines.ReadState(context.Background(), h.lake)
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := st.Owed[victim]; !ok || o.From != "2024-05-01" || o.To != "2024-05-07" || o.Attempts != 1 {
			t.Fatalf("state owes %+v, want %s owed 2024-05-01..2024-05-07", st.Owed, victim)
		}

		// The fault is gone: the next run pays what is owed and the lake is exact.
		h.failing.Store(nil)
		if _, err := h.pipeline(h.client(nil), nil).Export(context.Background(), day(t, "2024-05-06"), to); err != nil {
			t.Fatal(err)
		}
		h.check(from, to)
		if st, _ := pipelines.ReadState(context.Background(), h.lake); len(st.Owed) != 0 {
			t.Fatalf("still owed after the fault went: %+v", st.Owed)
		}
	})
}

// repeatLastOnNextPage makes the simulator behave like a deployment whose pages overlap by one:
// every page after the first starts with the last message of the page before.
func repeatLastOnNextPage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/conversations") {
			next.ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		pageNo := 1
		fmt.Sscan(q.Get("page_number"), &pageNo)
		size := 500
		fmt.Sscan(q.Get("page_size"), &size)
		if pageNo == 1 {
			next.ServeHTTP(w, r)
			return
		}
		// The previous page's last message, then this page: pages that overlap by one.
		prev := fetchPage(next, r, pageNo-1, size)
		cur := fetchPage(next, r, pageNo, size)
		if len(prev) > 0 && len(cur) > 0 {
			cur = append([]rawMessage{prev[len(prev)-1]}, cur...)
		}
		writeCanonical(w, cur, pageNo, size)
	})
}
