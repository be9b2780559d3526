package pipelines

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/chatlake/chatlake/extract"
)

// terminalEvery is how often a terminal's progress line is redrawn (at most ProgressEvery).
const terminalEvery = time.Second

// progress reports a run's extraction: users and batches done of total, messages, requests/s
// (over the last interval), 429s, the limiter's current rate, elapsed time and an ETA. On a
// terminal it is one redrawn line with a bar; with a Progress writer that is no terminal, a
// line per report; without one, a "progress" log record (numeric fields, eta_s in seconds, -1
// while unknown). Reports follow a ticker of ProgressEvery (nothing else reports), plus one
// when the run ends if the figures changed since the last tick: a log never repeats its last
// record (a terminal's line is always ended).
//
// The ETA is from work done: the time per user so far times the users left. Every user costs
// about one query whatever its batch, so it converges as users finish; it does not follow
// short bursts.
type progress struct {
	o       Options
	sum     *Summary
	started time.Time

	newTicker newTicker // the reports' ticker (realTicker; tests give their own)

	mu           sync.Mutex
	lastAt       time.Time // the previous report, for the current request rate
	lastRequests int64
	reported     bool             // a report was made
	lastSnap     progressSnapshot // the previous report's work figures
}

func newProgress(o Options, sum *Summary) *progress {
	now := time.Now()
	return &progress{o: o, sum: sum, started: now, newTicker: realTicker, lastAt: now, lastRequests: sum.liveStats().Requests}
}

// newTicker starts a ticker of period every: its channel, and stop.
type newTicker func(every time.Duration) (ticks <-chan time.Time, stop func())

func realTicker(every time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(every)
	return t.C, t.Stop
}

// interval is how often progress is reported.
func (o Options) progressInterval() time.Duration {
	if o.Progress != nil && o.Terminal && o.ProgressEvery > terminalEvery {
		return terminalEvery
	}
	return o.ProgressEvery
}

// tick calls fn on every tick of a ticker of period every until the returned stop is called;
// stop waits for it.
func tick(ctx context.Context, nt newTicker, every time.Duration, fn func()) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	ticks, stopTicker := nt(every)
	go func() {
		defer wg.Done()
		defer stopTicker()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticks:
				fn()
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

// start reports on every tick until the returned stop is called, then once more if the
// figures changed (on a terminal, always: the line ends).
func (p *progress) start(ctx context.Context) (stop func()) {
	stopTick := tick(ctx, p.newTicker, p.o.progressInterval(), func() { p.report(false) })
	return func() {
		stopTick()
		p.report(true)
	}
}

// eta is the time left at the pace so far: elapsed per unit done times the units left; -1
// while nothing is done.
func eta(done, total int, elapsed time.Duration) time.Duration {
	switch {
	case done >= total:
		return 0
	case done <= 0 || elapsed <= 0:
		return -1
	}
	return time.Duration(float64(elapsed) / float64(done) * float64(total-done))
}

// progressFigures is one report's numbers.
type progressFigures struct {
	snap        progressSnapshot
	stats       extract.Stats
	elapsed     time.Duration
	msgRate     float64 // messages per second over the run
	requestRate float64 // requests per second since the previous report
	eta         time.Duration
}

func (p *progress) figures(now time.Time) progressFigures {
	f := progressFigures{snap: p.sum.snapshot(), stats: p.sum.liveStats(), elapsed: now.Sub(p.started)}
	if f.elapsed > 0 {
		f.msgRate = float64(f.snap.messages) / f.elapsed.Seconds()
	}
	if d := now.Sub(p.lastAt); d > 0 {
		f.requestRate = float64(f.stats.Requests-p.lastRequests) / d.Seconds()
	}
	p.lastAt, p.lastRequests = now, f.stats.Requests
	f.eta = eta(f.snap.usersDone, f.snap.usersToDo, f.elapsed)
	return f
}

func (p *progress) report(final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	terminal := p.o.Progress != nil && p.o.Terminal
	if final && !terminal && p.reported && p.sum.snapshot() == p.lastSnap {
		return // the last report said it all
	}
	f := p.figures(time.Now())
	p.reported, p.lastSnap = true, f.snap
	etaS := -1.0
	etaText := "unknown"
	if f.eta >= 0 {
		etaS, etaText = f.eta.Round(time.Millisecond).Seconds(), f.eta.Round(time.Second).String()
	}
	if p.o.Progress == nil {
		p.o.Logger.Info("progress", "phase", "extracting",
			"users_done", f.snap.usersDone, "users", f.snap.usersToDo,
			"batches_done", f.snap.batchesDone, "batches", f.snap.batches, "messages", f.snap.messages,
			"messages_per_s", round1(f.msgRate), "requests", f.stats.Requests, "requests_per_s", round1(f.requestRate),
			"throttled_429", f.stats.Throttled, "rate_limit", round1(f.stats.Rate),
			"elapsed_s", f.elapsed.Round(time.Second).Seconds(), "eta", etaText, "eta_s", etaS)
		return
	}
	line := fmt.Sprintf("users %d/%d  batches %d/%d  messages %d  %.0f msg/s  %.1f req/s  429s %d  rate %.1f/s  elapsed %s  eta %s",
		f.snap.usersDone, f.snap.usersToDo, f.snap.batchesDone, f.snap.batches, f.snap.messages, f.msgRate,
		f.requestRate, f.stats.Throttled, f.stats.Rate, f.elapsed.Round(time.Second), etaText)
	if !p.o.Terminal {
		fmt.Fprintln(p.o.Progress, line)
		return
	}
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(p.o.Progress, "\r\033[K%s %s%s", bar(f.snap.usersDone, f.snap.usersToDo, 20), line, end)
}

// bar draws done of total as [=====>    ] 42%.
func bar(done, total, width int) string {
	frac := 1.0
	if total > 0 {
		frac = min(1, float64(done)/float64(total))
	}
	n := int(frac * float64(width))
	head := ""
	if n < width {
		head = ">"
	}
	return fmt.Sprintf("[%s%s%s] %3.0f%%", strings.Repeat("=", n), head, strings.Repeat(" ", max(0, width-n-len(head))), frac*100)
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

// listingProgress reports while the users are listed (their number is known only at the
// end): selectors, requests so far and elapsed time. stop ends the line with the users listed
// (-1 when the listing failed).
func (p *Pipeline) listingProgress(ctx context.Context) (stop func(users int)) {
	started := time.Now()
	users := -1
	report := func(final bool) {
		elapsed := time.Since(started).Round(time.Second)
		requests := p.liveStats().Requests
		if p.o.Progress == nil {
			if !final {
				p.o.Logger.Info("progress", "phase", "listing", "selectors", len(p.o.Selectors),
					"requests", requests, "elapsed_s", elapsed.Seconds(), "eta_s", -1.0)
			}
			return
		}
		line := fmt.Sprintf("listing users of %d selector(s): %d requests, elapsed %s", len(p.o.Selectors), requests, elapsed)
		switch {
		case !p.o.Terminal:
			fmt.Fprintln(p.o.Progress, line)
		case final && users >= 0:
			fmt.Fprintf(p.o.Progress, "\r\033[K%s: %d users\n", line, users)
		case final:
			fmt.Fprintf(p.o.Progress, "\r\033[K%s: failed\n", line)
		default:
			fmt.Fprintf(p.o.Progress, "\r\033[K%s", line)
		}
	}
	if p.o.Progress != nil && p.o.Terminal {
		report(false) // at once: the listing may take a while
	}
	stopTick := tick(ctx, realTicker, p.o.progressInterval(), func() { report(false) })
	return func(n int) {
		stopTick()
		users = n
		report(true)
	}
}

// liveStats are the API client's counters now (zero without a client that counts).
func (p *Pipeline) liveStats() extract.Stats {
	if s, ok := p.src.(statsSource); ok && p.src != nil {
		return s.Stats()
	}
	return extract.Stats{}
}
