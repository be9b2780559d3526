package pipelines_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chatlake/chatlake/sim"
)

// TestCappedDeploymentLakeEqualsTruth: a deployment that caps page_size below 500 without
// saying so (no paging metadata, or metadata on some answers only) loses no row, the lake read
// back by DuckDB equals the truth, and the conversations requests stay within 1.1 x the fewest
// at that page size (the 1-ms requeries of identical messages split by a page boundary are
// counted apart, as the summary does). On the canonical variant the requests are the minimum.
func TestCappedDeploymentLakeEqualsTruth(t *testing.T) {
	type variant struct {
		v   sim.Variant
		cap int
	}
	var cases []variant
	for _, v := range []sim.Variant{sim.VariantNoPaging, sim.VariantMixed} {
		for _, c := range []int{100, 250, 499} {
			cases = append(cases, variant{v, c})
		}
	}
	cases = append(cases, variant{sim.VariantCanonical, 500})
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/cap%d", tc.v, tc.cap), func(t *testing.T) {
			so := simOptions(5, 150)
			so.To = time.Date(2024, 5, 11, 0, 0, 0, 0, time.UTC) // 10 days, as the run
			so.Variant, so.MaxPageSize = tc.v, tc.cap
			h := newHarness(t, so, nil)
			from, to := day(t, "2024-05-01"), day(t, "2024-05-10")
			sum, err := h.pipeline(h.client(nil), nil).Export(context.Background(), from, to)
			if err != nil {
				t.Fatal(err)
			}
			h.check(from, to)
			perUser := map[string]int{}
			for _, m := range h.truth(from, to) {
				perUser[m.ChannelUserID]++
			}
			minConv := 0
			for _, id := range h.sim.UserIDs(nil) {
				minConv += max(1, (perUser[id]+tc.cap-1)/tc.cap)
			}
			conv := h.sim.Stats().ByEndpoint[sim.EndpointConversations] - sum.Requeries
			if tc.v == sim.VariantCanonical {
				// The minimum, as before page sizes were learned: one more request only where a
				// user's count is an exact multiple of the page size.
				if conv < minConv || conv > minConv+len(perUser)/50 || sum.API.Confirmations != 0 {
					t.Errorf("canonical: %d conversations requests (%d confirmations), minimum %d", conv, sum.API.Confirmations, minConv)
				}
			} else if limit := minConv * 11 / 10; conv > limit {
				t.Errorf("%d conversations requests, more than 1.1 x the minimum %d", conv, minConv)
			}
			t.Logf("%d messages; conversations requests %d (+%d requeries), minimum %d (%.3fx)",
				len(h.truth(from, to)), conv, sum.Requeries, minConv, float64(conv)/float64(minConv))
		})
	}
}
