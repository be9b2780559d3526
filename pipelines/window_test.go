package pipelines_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestWindowBoundsDropWhatWasNotAsked: a deployment that answers a wider window than asked (a
// day before the start and a day after the end) adds no row: the messages before the start and
// at or after the end are dropped and counted, and the lake equals the truth of the asked days.
func TestWindowBoundsDropWhatWasNotAsked(t *testing.T) {
	const dayMs = 24 * 60 * 60 * 1000
	widen := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/conversations") {
				q := r.URL.Query()
				for name, by := range map[string]int64{"start_date": -dayMs, "end_date": dayMs} {
					if v, err := strconv.ParseInt(q.Get(name), 10, 64); err == nil {
						q.Set(name, strconv.FormatInt(v+by, 10))
					}
				}
				r.URL.RawQuery = q.Encode()
			}
			next.ServeHTTP(w, r)
		})
	}
	h := newHarness(t, simOptions(41, 12), widen)
	from, to := day(t, "2024-05-03"), day(t, "2024-05-04")
	sum, err := h.pipeline(h.client(nil), nil).Export(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	h.check(from, to)
	before := len(h.truth(day(t, "2024-05-02"), day(t, "2024-05-02")))
	after := len(h.truth(day(t, "2024-05-05"), day(t, "2024-05-05")))
	if before == 0 || after == 0 || sum.OutsideWindow != before+after {
		t.Fatalf("outside the window %d, want the %d messages of the day before and the %d of the day after",
			sum.OutsideWindow, before, after)
	}
}
