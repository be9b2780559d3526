package pipelines

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// progress reports users and batches done, messages, message rate and an ETA: a redrawn line on a terminal,
// else a log line every ProgressEvery.
type progress struct {
	o       Options
	sum     *Summary
	started time.Time
	mu      sync.Mutex
}

func newProgress(o Options, sum *Summary) *progress {
	return &progress{o: o, sum: sum, started: time.Now()}
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

func (p *progress) report(final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sn := p.sum.snapshot()
	elapsed := time.Since(p.started)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(sn.messages) / elapsed.Seconds()
	}
	// The ETA is from users done: every user costs about one query, whatever its batch.
	eta := "unknown"
	etaS := -1.0
	if sn.usersDone > 0 && sn.usersDone < sn.usersToDo {
		left := elapsed / time.Duration(sn.usersDone) * time.Duration(sn.usersToDo-sn.usersDone)
		eta, etaS = left.Round(time.Second).String(), left.Seconds()
	} else if sn.usersDone >= sn.usersToDo {
		eta, etaS = "0s", 0
	}
	if p.o.Progress == nil {
		p.o.Logger.Info("progress", "users_done", sn.usersDone, "users", sn.usersToDo,
			"batches_done", sn.batchesDone, "batches", sn.batches, "messages", sn.messages,
			"messages_per_s", int(rate), "eta", eta, "eta_s", etaS)
		return
	}
	line := fmt.Sprintf("users %d/%d  batches %d/%d  messages %d  %.0f msg/s  eta %s",
		sn.usersDone, sn.usersToDo, sn.batchesDone, sn.batches, sn.messages, rate, eta)
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
