package pipelines_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/pipelines"
	"github.com/chatlake/chatlake/sim"
)

// benchExport exports the simulator's range b.N times into fresh lakes and reports messages/s,
// requests per run and requests / the minimum a correct client needs.
func benchExport(b *testing.B, so sim.Options, co extract.Options, po pipelines.Options) {
	b.Helper()
	benchExportWindow(b, so, co, po, new(apiWindow))
}

// benchExportWindow is benchExport recording the API's requests in window.
func benchExportWindow(b *testing.B, so sim.Options, co extract.Options, po pipelines.Options, window *apiWindow) {
	b.Helper()
	now := so.To.AddDate(0, 0, 30)
	so.Clock = func() time.Time { return now }
	s, err := sim.New(so)
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(window.wrap(s))
	defer ts.Close()
	co.BaseURL, co.CustomerID, co.BotKey, co.APIKey = ts.URL, so.CustomerID, so.BotKey, so.APIKey
	var sels []extract.Selector
	for _, sel := range s.Selectors() {
		sels = append(sels, extract.Selector{Name: sel.Name, Value: sel.Value})
	}
	po.CustomerID, po.BotKey, po.Selectors, po.Clock = so.CustomerID, so.BotKey, sels, func() time.Time { return now }
	from, to := so.From, so.To.AddDate(0, 0, -1)
	minimum := s.MinRequests(s.Selectors(), so.From, so.To, now, 500)

	var messages, requests, throttled, retries int64
	var elapsed time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		store, err := storage.NewLocal(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		lake, err := load.NewLake(store, &load.Options{TempDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		c, err := extract.New(co)
		if err != nil {
			b.Fatal(err)
		}
		p, err := pipelines.New(c, lake, po)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		sum, err := p.Export(context.Background(), from, to)
		elapsed += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		messages += sum.Messages
		requests += sum.API.Requests
		throttled += sum.API.Throttled
		for _, n := range sum.API.Retries {
			retries += n
		}
	}
	b.ReportMetric(float64(messages)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
	b.ReportMetric(float64(requests)/float64(b.N)/float64(minimum), "requests/min")
	b.ReportMetric(float64(retries)/float64(b.N)/float64(minimum), "retries/min")
	b.ReportMetric(float64(requests)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(window.n.Load())/window.span().Seconds(), "api-req/s")
	b.ReportMetric(100*float64(throttled)/float64(max(requests, 1)), "%429")
	b.ReportMetric(float64(messages)/float64(b.N), "msgs/op")
}

// apiWindow records the time from the first to the last request the API served: the span in
// which the request rate is what the client sustains (publishing comes after the last request).
type apiWindow struct {
	mu          sync.Mutex
	first, last time.Time
	n           atomic.Int64
	spans       time.Duration
}

func (a *apiWindow) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		a.mu.Lock()
		if a.first.IsZero() || now.Sub(a.last) > 2*time.Second {
			// a new run: close the previous span
			if !a.first.IsZero() {
				a.spans += a.last.Sub(a.first)
			}
			a.first = now
		}
		a.mu.Unlock()
		next.ServeHTTP(w, r)
		a.mu.Lock()
		a.last = time.Now()
		a.mu.Unlock()
		a.n.Add(1)
	})
}

func (a *apiWindow) span() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.spans + a.last.Sub(a.first)
}

// BenchmarkExport: 100 users over 14 days from the in-process simulator, no faults, no limit.
func BenchmarkExport(b *testing.B) {
	so := sim.DefaultOptions()
	so.Seed, so.Users = 1, 100
	benchExport(b, so, extract.Options{Rate: 100000}, pipelines.Options{Concurrency: 8})
}

// BenchmarkExportRateLimited: the simulator allows 50 requests/s (burst 5) and answers 429
// past it; the client's ceiling is 100/s (twice the limit) or 55/s. Reports req/s (target >= 0.95 x 50) and %429
// (target <= 2%).
func BenchmarkExportRateLimited(b *testing.B) {
	for _, ceiling := range []float64{100, 55} {
		b.Run(fmt.Sprintf("ceiling%.0f", ceiling), func(b *testing.B) { benchRateLimited(b, ceiling) })
	}
}

func benchRateLimited(b *testing.B, rateCeiling float64) {
	so := sim.DefaultOptions()
	so.Seed, so.Users = 2, 1000
	so.MaxPageSize = 100 // more requests per user: a longer, steadier run
	so.Faults.RateLimit, so.Faults.RateBurst = 50, 5
	benchExport(b, so, extract.Options{Rate: rateCeiling, PageSize: 100}, pipelines.Options{Concurrency: 16})
}

// BenchmarkExportFaults: every fault on at once (10% 5xx, 5% 429, 2% cut-off bodies,
// inclusive ends, mixed shapes). Reports requests/min (target <= 1.05 + the retried share).
func BenchmarkExportFaults(b *testing.B) {
	so := sim.DefaultOptions()
	so.Seed, so.Users = 3, 100
	so.Variant = sim.VariantMixed
	so.Faults = sim.Faults{P5xx: 0.10, P429: 0.05, PCutOff: 0.02, InclusiveEnd: true, RetryAfter: time.Second}
	benchExport(b, so, extract.Options{Rate: 100000, MinBackoff: time.Millisecond, MaxBackoff: 50 * time.Millisecond, MaxAttempts: 20},
		pipelines.Options{Concurrency: 8})
}

// BenchmarkExportLatency (issue 10): every API answer takes 100 ms, as a distant real API does;
// 2000 users over 14 days, no rate limit. The client cannot do better than concurrency / 0.1 s
// requests per second; "of-ideal" is the share of that it sustains (api-req/s over the span from
// the first to the last request).
func BenchmarkExportLatency(b *testing.B) {
	for _, c := range []int{16, 32} {
		b.Run(fmt.Sprintf("concurrency%d", c), func(b *testing.B) {
			so := sim.DefaultOptions()
			so.Seed, so.Users = 4, 2000
			so.Faults.Latency = 100 * time.Millisecond
			var window apiWindow
			benchExportWindow(b, so, extract.Options{Rate: 1e6}, pipelines.Options{Concurrency: c}, &window)
			b.ReportMetric(float64(window.n.Load())/window.span().Seconds()/(float64(c)/0.1), "of-ideal")
		})
	}
}
