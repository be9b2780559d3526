package pipelines_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/pipelines"
	"github.com/chatlake/chatlake/sim"
)

// BenchmarkBackfillRequests (issue 9): conversations requests of a backfill at the pipeline's
// defaults (batch size, parallel batches, concurrency, page size) against the minimum
// (sum over users of max(1, ceil(messages/500)) for the whole range), by range length. The
// simulator holds one year (2024-01-01 .. 2024-12-31) of 1000 users; each sub-benchmark
// backfills its first 7, 30, 120 or 365 days into a fresh lake. Target: x_min <= 1.02 at 120 days.
//
//	go test -run '^$' -bench BenchmarkBackfillRequests -benchtime 1x ./pipelines/
func BenchmarkBackfillRequests(b *testing.B) {
	so := sim.DefaultOptions()
	so.Seed, so.Users = 9, 1000
	so.From = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	so.To = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := so.To.AddDate(0, 0, 30)
	so.Clock = func() time.Time { return now }
	s, err := sim.New(so)
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	var sels []extract.Selector
	for _, sel := range s.Selectors() {
		sels = append(sels, extract.Selector{Name: sel.Name, Value: sel.Value})
	}
	for _, days := range []int{7, 30, 120, 365} {
		b.Run(fmt.Sprintf("days=%d", days), func(b *testing.B) {
			from := so.From
			to := from.AddDate(0, 0, days-1) // last day, included
			// The minimum counts users pages too; take them out: x_min is about conversations.
			minimum := s.MinRequests(nil, from, to.AddDate(0, 0, 1), now, 500) - len(s.Selectors())
			var conv, requests, requeries, messages int64
			var elapsed time.Duration
			for range b.N {
				store, err := storage.NewLocal(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				lake, err := load.NewLake(store, &load.Options{TempDir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				c, err := extract.New(extract.Options{BaseURL: ts.URL, CustomerID: so.CustomerID, BotKey: so.BotKey,
					APIKey: so.APIKey, Rate: 100000})
				if err != nil {
					b.Fatal(err)
				}
				p, err := pipelines.New(c, lake, pipelines.Options{CustomerID: so.CustomerID, BotKey: so.BotKey,
					Selectors: sels, Clock: func() time.Time { return now }})
				if err != nil {
					b.Fatal(err)
				}
				before := s.Stats().ByEndpoint[sim.EndpointConversations]
				start := time.Now()
				sum, err := p.Backfill(context.Background(), from, to, false)
				elapsed += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				conv += int64(s.Stats().ByEndpoint[sim.EndpointConversations] - before)
				requests += sum.API.Requests
				requeries += int64(sum.Requeries)
				messages += sum.Messages
			}
			n := float64(b.N)
			b.ReportMetric(float64(conv)/n/float64(minimum), "x_min")
			b.ReportMetric(float64(conv)/n, "conv_req/op")
			b.ReportMetric(float64(minimum), "conv_min")
			b.ReportMetric(float64(requests)/n, "requests/op")
			b.ReportMetric(float64(requeries)/n, "requeries/op")
			b.ReportMetric(float64(messages)/n, "msgs/op")
			b.ReportMetric(float64(messages)/elapsed.Seconds(), "msgs/s")
		})
	}
}

// TestHeapAtPeakUsers (issue 9) writes the heap profile taken at the run's highest live heap
// of a one-day backfill of many users (CHATLAKE_HEAP_USERS, default 30000; batch size
// CHATLAKE_HEAP_BATCH_SIZE, default the pipeline's) to the file named by CHATLAKE_HEAP_PROFILE;
// it is skipped without it. The simulator runs in the same process:
// read the profile by allocation site (its sim.* entries are the simulator's).
//
//	CHATLAKE_HEAP_PROFILE=/tmp/heap.pb.gz go test -run TestHeapAtPeakUsers -v ./pipelines/
//	go tool pprof -sample_index=inuse_space -top -nodecount 30 /tmp/heap.pb.gz
func TestHeapAtPeakUsers(t *testing.T) {
	path := os.Getenv("CHATLAKE_HEAP_PROFILE")
	if path == "" {
		t.Skip("CHATLAKE_HEAP_PROFILE is not set")
	}
	users := 30000
	if v := os.Getenv("CHATLAKE_HEAP_USERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		users = n
	}
	batchSize := 0 // the default
	if v := os.Getenv("CHATLAKE_HEAP_BATCH_SIZE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		batchSize = n
	}
	so := sim.DefaultOptions()
	so.Seed, so.Users = 9, users
	so.From = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	so.To = time.Date(2024, 4, 30, 0, 0, 0, 0, time.UTC)
	h := newHarness(t, so, nil)
	runtime.GC()
	base := liveHeap()
	var peak uint64
	var peakProfile bytes.Buffer
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if live := liveHeap(); live > peak+peak/50 {
				peak = live
				// A heap profile shows the heap as of the last GC cycles: two forced cycles
				// make it the heap of now.
				runtime.GC()
				runtime.GC()
				peakProfile.Reset()
				if err := pprof.Lookup("heap").WriteTo(&peakProfile, 0); err != nil {
					t.Error(err)
				}
			}
		}
	}()
	from := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	sum, err := h.pipeline(h.client(func(o *extract.Options) { o.Rate = 100000 }), func(o *pipelines.Options) {
		o.Concurrency, o.BatchSize = 0, batchSize // the defaults, or CHATLAKE_HEAP_BATCH_SIZE
	}).Backfill(context.Background(), from, from, false)
	close(stop)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, peakProfile.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d users, %d messages: live heap before the run %.1f MiB (the simulator), peak %.1f MiB, so %.0f bytes per user above the simulator",
		sum.Users, sum.Messages, float64(base)/(1<<20), float64(peak)/(1<<20), float64(peak-base)/float64(max(sum.Users, 1)))
}

func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
