package main

import (
	"context"
	"errors"
	"time"

	"github.com/chatlake/chatlake/metrics"
	"github.com/chatlake/chatlake/pipelines"
)

// runMetrics describes a finished run for Prometheus. lastSuccess is when the lake's last ok
// run finished (zero if none is known).
func runMetrics(s *setup, sum *pipelines.Summary, lastSuccess time.Time) metrics.Run {
	r := metrics.Run{
		Bot: s.bot, Customer: s.customer, Kind: sum.Kind, Shard: sum.Shard,
		Outcome: sum.Outcome, ExitCode: sum.ExitCode,
		Started: sum.Started, Finished: sum.Started.Add(sum.Duration),
		MessagesPublished: sum.RowsIn,
		RateLimited:       sum.API.Throttled,
		UsersListed:       int64(sum.Users),
		UsersSkipped:      int64(len(sum.SkippedUsers) + len(sum.FailedUsers)),
		UsersOwed:         int64(sum.OwedTotal),
		BytesWritten:      sum.Bytes,
		LateMessages:      sum.LateMessages,
		Build:             buildInfo(),
	}
	// Requests by outcome: the attempts retried, by cause, and the final attempts (answered,
	// or given up after the last attempt); they add up to every request sent.
	r.Requests = map[string]int64{}
	var retries int64
	for cause, n := range sum.API.Retries {
		retries += n
		r.Requests["retried_"+cause] = n
	}
	r.Retries = retries
	r.Requests["final"] = sum.API.Requests - retries
	if r.Outcome == "ok" {
		r.LastSuccess = r.Finished
	} else {
		r.LastSuccess = lastSuccess
	}
	if r.Outcome == "" {
		r.Outcome = "unknown"
	}
	return r
}

// storageReadTimeout bounds the read of the state for the metrics.
const storageReadTimeout = 15 * time.Second

// writeMetrics writes the run's metrics to --metrics-file and pushes them to --pushgateway.
func (s *setup) writeMetrics(ctx context.Context, sum *pipelines.Summary) error {
	if s.metricsFile == "" && s.pushgateway == "" {
		return nil
	}
	var last time.Time
	if s.lake != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storageReadTimeout)
		st, err := pipelines.ReadState(rctx, s.lake)
		cancel()
		if err == nil && st.LastRun != nil && st.LastRun.Outcome == "ok" {
			last = st.LastRun.Finished
		} else if err == nil {
			// The last run failed: the newest publish of a day is the last that succeeded.
			for _, d := range st.Days {
				if d.ExportedAt.After(last) {
					last = d.ExportedAt
				}
			}
		}
	}
	r := runMetrics(s, sum, last)
	var errs []error
	if s.metricsFile != "" {
		errs = append(errs, metrics.WriteTextfile(s.metricsFile, r))
	}
	if s.pushgateway != "" {
		errs = append(errs, metrics.Push(context.WithoutCancel(ctx), s.pushgateway, r, nil))
	}
	return errors.Join(errs...)
}
