package extract

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// BenchmarkAdaptiveRate runs 8 workers for 10 s against a server that enforces a token bucket
// (rate.Limiter) and answers 429 with "Retry-After: 1" when it is empty, and reports
//
//	ok/s        successful requests per second
//	%limit      successes as a share of what the bucket allowed (limit*seconds + burst)
//	%ceiling    successes as a share of the client's ceiling*seconds
//	%429        answers that were 429, as a share of all answers
//	final-r/s   the limiter's rate at the end
//
// Run: go test -run='^$' -bench=BenchmarkAdaptiveRate -benchtime=1x ./extract/
func BenchmarkAdaptiveRate(b *testing.B) {
	for _, tc := range []struct {
		name    string
		ceiling float64
		limit   float64
		burst   int
	}{
		{"ceiling100_limit50", 100, 50, 5},
		{"ceiling30_limit50", 30, 50, 5},
		{"ceiling20_limit10", 20, 10, 2},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				runAdaptive(b, tc.ceiling, tc.limit, tc.burst, 10*time.Second)
			}
		})
	}
}

func runAdaptive(b *testing.B, ceiling, limit float64, burst int, d time.Duration) {
	bucket := rate.NewLimiter(rate.Limit(limit), burst)
	var ok, throttled atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !bucket.Allow() {
			throttled.Add(1)
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		ok.Add(1)
		writeJSON(w, 200, `{"status":{"code":1000},"responseObject":{"conversations":[{"a":1}]}}`)
	}))
	defer srv.Close()
	c, err := New(Options{BaseURL: srv.URL, CustomerID: "1", BotKey: "0123456789abcdef", APIKey: "k",
		Rate: ceiling, MaxAttempts: 100})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for ctx.Err() == nil {
				_ = c.Conversations(ctx, "u", Window{}, func(Page) error { return nil })
			}
		})
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	n, t := float64(ok.Load()), float64(throttled.Load())
	b.ReportMetric(n/secs, "ok/s")
	b.ReportMetric(100*n/(limit*secs+float64(burst)), "%limit")
	b.ReportMetric(100*n/(ceiling*secs), "%ceiling")
	b.ReportMetric(100*t/(n+t), "%429")
	b.ReportMetric(c.Stats().Rate, "final-r/s")
}
