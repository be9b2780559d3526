package pipelines_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
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
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/pipelines"
	"github.com/chatlake/chatlake/schema"
	"github.com/chatlake/chatlake/sim"
)

// clock is a test-controlled clock shared by the simulator and the pipeline.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func day(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := schema.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// harness is the simulator on a loopback HTTP server, the real client, and a local lake.
type harness struct {
	t     *testing.T
	sim   *sim.Server
	url   string
	dir   string
	store storage.Store
	lake  *load.Lake
	clock *clock
	sels  []extract.Selector
	wrap  func(http.Handler) http.Handler

	// failing, when set, is a user whose conversations requests all answer 503.
	failing atomic.Pointer[string]
}

// simRange is the simulated data range of most tests: 2024-05-01 .. 2024-05-07.
func simOptions(seed int64, users int) sim.Options {
	o := sim.DefaultOptions()
	o.Seed, o.Users = seed, users
	o.From = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	o.To = time.Date(2024, 5, 8, 0, 0, 0, 0, time.UTC)
	return o
}

func newHarness(t *testing.T, so sim.Options, wrap func(http.Handler) http.Handler) *harness {
	t.Helper()
	h := &harness{t: t, clock: &clock{now: so.To.AddDate(0, 0, 10)}}
	so.Clock = h.clock.Now
	s, err := sim.New(so)
	if err != nil {
		t.Fatal(err)
	}
	h.sim = s
	var handler http.Handler = s
	if wrap != nil {
		handler = wrap(s)
	}
	handler = h.failUser(handler)
	ts := httptest.NewServer(handler)
	t.Cleanup(ts.Close)
	h.url = ts.URL
	h.dir = t.TempDir()
	store, err := storage.NewLocal(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	h.store = store
	h.lake, err = load.NewLake(store, &load.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, sel := range s.Selectors() {
		h.sels = append(h.sels, extract.Selector{Name: sel.Name, Value: sel.Value})
	}
	return h
}

// client is the real API client with test-sized backoffs.
func (h *harness) client(mod func(*extract.Options)) *extract.Client {
	h.t.Helper()
	o := extract.Options{BaseURL: h.url, CustomerID: sim.DefaultCustomerID, BotKey: sim.DefaultBotKey,
		APIKey: sim.DefaultAPIKey, Rate: 2000, MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	if mod != nil {
		mod(&o)
	}
	c, err := extract.New(o)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func (h *harness) pipeline(c *extract.Client, mod func(*pipelines.Options)) *pipelines.Pipeline {
	h.t.Helper()
	o := pipelines.Options{CustomerID: sim.DefaultCustomerID, BotKey: sim.DefaultBotKey, Selectors: h.sels,
		Concurrency: 4, Clock: h.clock.Now}
	if mod != nil {
		mod(&o)
	}
	p, err := pipelines.New(c, h.lake, o)
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// read reads the lake with DuckDB.
func (h *harness) read() []lakecheck.Row {
	h.t.Helper()
	rows, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(h.t), h.dir)
	if err != nil {
		h.t.Fatalf("DuckDB read of %s: %v", lakecheck.Glob(h.dir), err)
	}
	return rows
}

// truth is every message of the simulator's users sent in days [from, to] that has arrived.
func (h *harness) truth(from, to time.Time) []sim.Message {
	return h.sim.Truth(nil, from, to.AddDate(0, 0, 1), h.clock.Now())
}

// check compares the lake with the truth of days [from, to] and runs verify.
func (h *harness) check(from, to time.Time) []lakecheck.Row {
	h.t.Helper()
	rows := h.read()
	if diff := lakecheck.Compare(rows, h.truth(from, to)); diff != "" {
		h.t.Fatal(diff)
	}
	rep, err := h.lake.Verify(context.Background(), from.Format(schema.DayLayout), to.Format(schema.DayLayout))
	if err != nil {
		h.t.Fatal(err)
	}
	if !rep.OK() {
		h.t.Fatalf("verify found problems: %+v", rep.Problems)
	}
	return rows
}

func sameKeys(t *testing.T, a, b []lakecheck.Row) {
	t.Helper()
	ka, kb := lakecheck.Keys(a), lakecheck.Keys(b)
	if !slices.Equal(ka, kb) {
		t.Fatalf("message keys differ: %d vs %d keys", len(ka), len(kb))
	}
}

// failUser answers 503 to every conversations request of the user in h.failing.
func (h *harness) failUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := h.failing.Load(); id != nil && strings.HasSuffix(r.URL.Path, "/conversations") &&
			strings.Contains(r.URL.EscapedPath(), "/channel-user/"+url.PathEscape(*id)+"/") {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, "<html><body>503 Service Unavailable</body></html>")
			return
		}
		next.ServeHTTP(w, r)
	})
}
