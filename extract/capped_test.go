package extract

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatlake/chatlake/sim"
)

// cappedRun is one export of every simulator user over the simulator's range, as a pipeline
// does it: the users of every selector, then each user's conversations in one query.
type cappedRun struct {
	got       []string // every message delivered, as sent, users in id order
	convReqs  int      // conversations requests the simulator answered
	userReqs  int      // users requests the simulator answered
	minConv   int      // fewest conversations requests at the deployment's page size
	minTotal  int      // sim.MinRequests at the deployment's page size
	truth     []string // what the simulator says a correct export holds
	stats     Stats
	pageSizes int // the page size the Client learned
}

// runCapped exports the simulator's users with workers concurrent Conversations calls.
func runCapped(t *testing.T, o sim.Options, workers int, mod func(*Options)) cappedRun {
	t.Helper()
	farFuture := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	o.Clock = func() time.Time { return farFuture }
	if o.From.IsZero() {
		o.From, o.To = sim.DefaultOptions().From, sim.DefaultOptions().To
	}
	s, err := sim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	co := Options{BaseURL: srv.URL, CustomerID: sim.DefaultCustomerID, BotKey: sim.DefaultBotKey,
		APIKey: sim.DefaultAPIKey, Rate: 1e6, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}
	if mod != nil {
		mod(&co)
	}
	c, err := New(co)
	if err != nil {
		t.Fatal(err)
	}
	var sels []Selector
	for _, sl := range s.Selectors() {
		sels = append(sels, Selector{Name: sl.Name, Value: sl.Value})
	}
	ctx := context.Background()
	users, err := c.ListUsers(ctx, sels)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range users {
		ids = append(ids, u.ID)
	}
	if want := s.UserIDs(nil); !slices.Equal(ids, want) {
		t.Fatalf("ListUsers gave %d users, the simulator has %d", len(ids), len(want))
	}
	from, to := o.From, o.To
	perUser := make([][]string, len(users))
	jobs := make(chan int)
	errs := make(chan error, len(users))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				err := c.Conversations(ctx, users[i].ID, Window{Start: from, End: to}, func(p Page) error {
					perUser[i] = append(perUser[i], rawStrings(p.Messages)...)
					return nil
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range users {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	r := cappedRun{stats: c.Stats()}
	r.pageSizes = r.stats.PageSize
	for _, ms := range perUser {
		r.got = append(r.got, ms...)
	}
	truth := s.Truth(nil, from, to, farFuture)
	n := map[string]int{}
	for _, m := range truth {
		r.truth = append(r.truth, string(m.Raw))
		n[m.ChannelUserID]++
	}
	ps := min(500, o.MaxPageSize)
	for _, id := range ids {
		r.minConv += max(1, (n[id]+ps-1)/ps)
	}
	r.minTotal = s.MinRequests(nil, from, to, farFuture, ps)
	st := s.Stats()
	r.convReqs, r.userReqs = st.ByEndpoint[sim.EndpointConversations], st.ByEndpoint[sim.EndpointUsers]
	return r
}

// A deployment that caps page_size below what was asked, without saying so (no paging
// metadata, or metadata on some answers only), loses no row, and the confirmations of short
// pages cost at most 10% above the fewest conversations requests at the real page size.
func TestCappedPagesLoseNothing(t *testing.T) {
	for _, v := range []sim.Variant{sim.VariantNoPaging, sim.VariantMixed} {
		for _, cap := range []int{100, 250, 499} {
			for _, workers := range []int{1, 8} {
				t.Run(fmt.Sprintf("%s/cap%d/workers%d", v, cap, workers), func(t *testing.T) {
					r := runCapped(t, sim.Options{Seed: 1, Users: 150, From: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
						To: time.Date(2024, 5, 11, 0, 0, 0, 0, time.UTC), MaxPageSize: cap, Variant: v}, workers, nil)
					if !slices.Equal(r.got, r.truth) {
						t.Errorf("exported %d messages, the truth has %d", len(r.got), len(r.truth))
					}
					if limit := r.minConv * 11 / 10; r.convReqs > limit {
						t.Errorf("%d conversations requests, more than 1.1 x the minimum %d", r.convReqs, r.minConv)
					}
					if r.pageSizes != cap {
						t.Errorf("learned page size %d, want %d", r.pageSizes, cap)
					}
					t.Logf("%d messages; conversations requests %d (minimum %d, %.3fx); users requests %d; all %d (minimum %d); confirmations %d",
						len(r.got), r.convReqs, r.minConv, float64(r.convReqs)/float64(r.minConv), r.userReqs,
						r.convReqs+r.userReqs, r.minTotal, r.stats.Confirmations)
				})
			}
		}
	}
}

// On a deployment with paging metadata the request count is the minimum: no confirmation.
func TestCanonicalPagingNoExtraRequests(t *testing.T) {
	for _, cap := range []int{500, 100} {
		t.Run(fmt.Sprint("cap", cap), func(t *testing.T) {
			r := runCapped(t, sim.Options{Seed: 1, Users: 150, From: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
				To: time.Date(2024, 5, 11, 0, 0, 0, 0, time.UTC), MaxPageSize: cap}, 8, nil)
			if !slices.Equal(r.got, r.truth) {
				t.Errorf("exported %d messages, the truth has %d", len(r.got), len(r.truth))
			}
			if all := r.convReqs + r.userReqs; all != r.minTotal || r.stats.Confirmations != 0 {
				t.Errorf("%d requests (%d confirmations), want the minimum %d", all, r.stats.Confirmations, r.minTotal)
			}
		})
	}
}

// Options.PageSize asks for smaller pages, for a deployment known to cap lower: the minimum at
// that page size, with or without metadata.
func TestPageSizeOption(t *testing.T) {
	for _, v := range []sim.Variant{sim.VariantCanonical, sim.VariantNoPaging} {
		t.Run(string(v), func(t *testing.T) {
			r := runCapped(t, sim.Options{Seed: 1, Users: 40, MaxPageSize: 100, Variant: v}, 1,
				func(o *Options) { o.PageSize = 100 })
			if !slices.Equal(r.got, r.truth) {
				t.Errorf("exported %d messages, the truth has %d", len(r.got), len(r.truth))
			}
			if limit := r.minConv * 11 / 10; r.convReqs > limit {
				t.Errorf("%d conversations requests, more than 1.1 x the minimum %d", r.convReqs, r.minConv)
			}
		})
	}
}
