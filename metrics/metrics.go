package metrics

import (
	"errors"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Names of the metrics, each a gauge with the labels bot, customer, kind (and shard).
const (
	nameStart       = "chatlake_last_run_start_timestamp_seconds"
	nameFinish      = "chatlake_last_run_finish_timestamp_seconds"
	nameDuration    = "chatlake_last_run_duration_seconds"
	nameExitCode    = "chatlake_last_run_exit_code"
	nameSuccess     = "chatlake_last_run_success"
	nameOutcome     = "chatlake_last_run_outcome"
	nameLastSuccess = "chatlake_last_success_timestamp_seconds"
	nameMessages    = "chatlake_last_run_messages_published"
	nameRequests    = "chatlake_last_run_requests"
	nameRateLimited = "chatlake_last_run_rate_limited_responses"
	nameRetries     = "chatlake_last_run_retries"
	nameUsers       = "chatlake_last_run_users"
	nameBytes       = "chatlake_last_run_written_bytes"
	nameLate        = "chatlake_last_run_late_messages"
	nameBuild       = "chatlake_build_info"
)

// Gather returns r's metrics, with their labels, in a registry of their own, ready to be
// encoded or served.
func Gather(r Run) (prometheus.Gatherer, error) {
	return gather(r, r.labels())
}

// gather registers r's metrics with the given constant labels: all of them for a file, none
// for a push (the Pushgateway adds its grouping key's, and refuses metrics that carry them).
func gather(r Run, labels prometheus.Labels) (*prometheus.Registry, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	var errs []error
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels})
		g.Set(v)
		errs = append(errs, reg.Register(g))
	}
	vec := func(name, help, label string, values map[string]float64) {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, []string{label})
		for k, v := range values {
			g.WithLabelValues(k).Set(v)
		}
		errs = append(errs, reg.Register(g))
	}
	success := 0.0
	if r.ExitCode == 0 {
		success = 1
	}
	gauge(nameStart, "When the last run started, in seconds since the epoch.", float64(r.Started.UnixNano())/1e9)
	gauge(nameFinish, "When the last run finished, in seconds since the epoch.", float64(r.Finished.UnixNano())/1e9)
	gauge(nameDuration, "How long the last run took, in seconds.", r.Finished.Sub(r.Started).Seconds())
	gauge(nameExitCode, "The exit code of the last run: 0 ok, 1 failed or incomplete, 2 bad input, 3 the lake was locked, 130 or 143 stopped by SIGINT or SIGTERM.", float64(r.ExitCode))
	gauge(nameSuccess, "1 if the last run exported everything it was asked for (exit code 0), else 0.", success)
	vec(nameOutcome, "1 for the outcome of the last run (ok, failed, incomplete, locked, bad_input, ...).", "outcome", map[string]float64{r.Outcome: 1})
	if !r.LastSuccess.IsZero() {
		gauge(nameLastSuccess, "When the last successful run finished, in seconds since the epoch.", float64(r.LastSuccess.UnixNano())/1e9)
	}
	gauge(nameMessages, "Messages in the partitions the last run published.", float64(r.MessagesPublished))
	requests := map[string]float64{}
	for k, v := range r.Requests {
		requests[k] = float64(v)
	}
	vec(nameRequests, "API requests of the last run, by outcome.", "outcome", requests)
	gauge(nameRateLimited, "HTTP 429 answers the last run got from the API.", float64(r.RateLimited))
	gauge(nameRetries, "API requests the last run retried, for any cause.", float64(r.Retries))
	vec(nameUsers, "Users of the last run: listed by the User API, skipped, or still owed to a later run.", "state",
		map[string]float64{"listed": float64(r.UsersListed), "skipped": float64(r.UsersSkipped), "owed": float64(r.UsersOwed)})
	gauge(nameBytes, "Bytes the last run wrote to the lake.", float64(r.BytesWritten))
	gauge(nameLate, "Messages the last run found in days after they were first exported.", float64(r.LateMessages))
	if len(r.Build) > 0 {
		errs = append(errs, buildInfo(reg, labels, r.Build))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return reg, nil
}

// labelName makes a label name of a build field: "vcs.revision" becomes "vcs_revision".
func labelName(k string) string {
	return strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' {
			return c
		}
		return '_'
	}, k)
}

// buildInfo registers chatlake_build_info, 1 with the build's fields as labels.
func buildInfo(reg *prometheus.Registry, labels prometheus.Labels, build map[string]string) error {
	all := prometheus.Labels{}
	for k, v := range labels {
		all[k] = v
	}
	keys := make([]string, 0, len(build))
	for k := range build {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := labelName(k)
		if _, taken := all[name]; taken || name == "" || name[0] >= '0' && name[0] <= '9' || strings.HasPrefix(name, "__") {
			name = "build_" + name
		}
		all[name] = build[k]
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: nameBuild, Help: "1, with the build of the binary that made the last run as labels.", ConstLabels: all})
	g.Set(1)
	return reg.Register(g)
}
