package pipelines

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// progress reports units done, messages, message rate and an ETA: a redrawn line on a terminal,
// else a log line every ProgressEvery.
type progress struct {
	o       Options
	total   int
	sum     *Summary
	started time.Time
	mu      sync.Mutex
}

func newProgress(o Options, total int, sum *Summary) *progress {
	return &progress{o: o, total: total, sum: sum, started: time.Now()}
}

// start reports until the returned stop is called.
func (p *progress) start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(p.o.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.report(false)
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
		p.report(true)
	}
}

func (p *progress) unitDone() { p.report(false) }

func (p *progress) report(final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	msgs, done := p.sum.snapshot()
	elapsed := time.Since(p.started)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(msgs) / elapsed.Seconds()
	}
	eta := "unknown"
	if done > 0 && done < p.total {
		eta = (elapsed / time.Duration(done) * time.Duration(p.total-done)).Round(time.Second).String()
	} else if done >= p.total {
		eta = "0s"
	}
	if p.o.Progress == nil {
		p.o.Logger.Info("progress", "units_done", done, "units", p.total, "messages", msgs,
			"messages_per_s", int(rate), "eta", eta)
		return
	}
	line := fmt.Sprintf("units %d/%d  messages %d  %.0f msg/s  eta %s", done, p.total, msgs, rate, eta)
	if p.o.Terminal {
		end := ""
		if final {
			end = "\n"
		}
		fmt.Fprintf(p.o.Progress, "\r\033[K%s%s", line, end)
		return
	}
	fmt.Fprintln(p.o.Progress, line)
}
