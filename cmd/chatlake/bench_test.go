package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/pipelines"
	"github.com/chatlake/chatlake/sim"
)

// BenchmarkKilledBackfill (issues 9 and 18): a backfill at the default batch size, parallel
// batches and concurrency, run as a child process and killed with SIGKILL N times at random
// moments (each attempt lives 0.5 to 1.5 x a full run's duration / (N+1)), then rerun to the
// end: 1000 users over 7 days killed 0, 5, 10 and 20 times, and the 120-day backfill of 800
// users (BenchmarkShardedBackfill's) killed 5 times. Reports the conversations requests of all
// attempts together against the minimum (x_min) and against the bound 1.05 + 0.05 x kills
// (x_bound, target <= 1). The simulator answers each request in 20 ms.
//
//	go test -run '^$' -bench BenchmarkKilledBackfill -benchtime 1x ./cmd/chatlake/
func BenchmarkKilledBackfill(b *testing.B) {
	week := killShape{seed: 31, users: 1000, from: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), days: 7}
	days120 := killShape{seed: 18, users: 800, userMessages: 190, from: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), days: 120}
	for _, c := range []struct {
		shape killShape
		kills int
	}{{week, 0}, {week, 5}, {week, 10}, {week, 20}, {days120, 5}} {
		b.Run(fmt.Sprintf("days=%d/kills=%d", c.shape.days, c.kills), func(b *testing.B) {
			kills := c.kills
			var sumTotal, sumKilled, sumAttempts float64
			var minimum int
			for range b.N {
				total, m, killed, attempts := killedBackfill(b, c.shape, kills)
				sumTotal += float64(total)
				sumKilled += float64(killed)
				sumAttempts += float64(attempts)
				minimum = m
			}
			n := float64(b.N)
			killed := sumKilled / n
			b.ReportMetric(sumTotal/n, "conv_req/op")
			b.ReportMetric(float64(minimum), "conv_min")
			b.ReportMetric(killed, "kills/op")
			b.ReportMetric(sumAttempts/n, "attempts/op")
			b.ReportMetric(sumTotal/n/float64(minimum), "x_min")
			b.ReportMetric(sumTotal/n/(float64(minimum)*(1.05+0.05*killed)), "x_bound")
		})
	}
}

// killShape is the simulator's data of a kill series: users over days from from.
type killShape struct {
	seed, users, userMessages, days int
	from                            time.Time
}

// killedBackfill runs one kill series and returns the conversations requests of all attempts,
// the minimum, the kills made and the attempts started (kills + the final run).
func killedBackfill(b *testing.B, shape killShape, kills int) (total, minimum, killed, attempts int) {
	b.Helper()
	o := sim.DefaultOptions()
	o.Seed, o.Users = int64(shape.seed), shape.users
	if shape.userMessages > 0 {
		o.UserMessages = shape.userMessages
	}
	o.From = shape.from
	o.To = o.From.AddDate(0, 0, shape.days)
	// An API that answers in 20 ms, so that a run lasts seconds and its kills fall while
	// batches are extracted: answering at once, a 1000-user run took 0.6 s at 40 batches, and
	// 10 or 20 kills fell before the first batch was done.
	o.Faults.Latency = 20 * time.Millisecond
	s := startBenchSim(b, o)
	env := []string{apiKeyEnv + "=" + o.APIKey}
	truth := s.Truth(nil, o.From, o.To, o.To.AddDate(1, 0, 0))
	minimum = minConversationRequests(s.UserIDs(nil), truth)

	args := func(lake string) []string {
		a := []string{"backfill", "--api-url", s.url, "--customer", o.CustomerID, "--bot", o.BotKey, "--lake", lake,
			"--rate", "100000", "--from", o.From.Format(time.DateOnly), "--to", o.To.AddDate(0, 0, -1).Format(time.DateOnly),
			"--log-format", "json"}
		for _, sel := range s.Selectors() {
			a = append(a, "--users-where", sel.String())
		}
		return a
	}
	// A full run on a scratch lake times the command (its requests are not counted).
	start := time.Now()
	if code, _ := runChild(b, env, args(b.TempDir())...); code != 0 {
		b.Fatalf("full run exits %d", code)
	}
	full := time.Since(start)
	lake := b.TempDir()
	store, err := storage.NewLocal(lake)
	if err != nil {
		b.Fatal(err)
	}
	ll, err := load.NewLake(store, nil)
	if err != nil {
		b.Fatal(err)
	}
	before := s.Stats().ByEndpoint[sim.EndpointConversations]
	finished := false
	for attempt := 0; killed < kills && attempt < 3*kills; attempt++ {
		// Kill moments spread over the run so that N kills fit in it: uniform in
		// [0.5, 1.5] x full/(N+1). (TestKilledRepeatedly's uniform [0, 0.6 x full) often finishes
		// the work in fewer than N attempts, a resumed run being shorter.)
		slot := int64(full) / int64(kills+1)
		d := time.Duration(slot/2 + rand.Int64N(slot))
		attempts++
		if !killAfter(b, env, d, args(lake)...) {
			finished = true
			break
		}
		killed++
		st, err := pipelines.ReadState(context.Background(), ll)
		if err != nil {
			b.Fatal(err)
		}
		if st.Watermark != "" { // killed after the run recorded its end
			finished = true
			break
		}
	}
	if !finished {
		attempts++
		if code, _ := runChild(b, env, args(lake)...); code != 0 {
			b.Fatalf("the rerun after %d kills exits %d", killed, code)
		}
	}
	total = s.Stats().ByEndpoint[sim.EndpointConversations] - before
	b.Logf("%d kills (full run %s): %d conversations requests over %d attempts, minimum %d, bound %.0f",
		killed, full.Round(time.Millisecond), total, attempts, minimum, float64(minimum)*(1.05+0.05*float64(killed)))
	return total, minimum, killed, attempts
}

type benchSim struct {
	*sim.Server
	url string
}

func startBenchSim(b *testing.B, o sim.Options) *benchSim {
	b.Helper()
	s, err := sim.New(o)
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(s)
	b.Cleanup(ts.Close)
	return &benchSim{Server: s, url: ts.URL}
}
