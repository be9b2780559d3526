package metrics

import (
	"fmt"
	"time"
)

// Run describes one finished run of chatlake: the labels that tell runs apart, how it ended,
// and its counts. The zero value of a count means none.
type Run struct {
	Bot      string // the botKey; label "bot"
	Customer string // the customerId; label "customer"
	Kind     string // the command: "nightly", "export", "backfill", ...; label "kind"; required
	Shard    string // "index/count" of a sharded run ("3/8"), or "" for the whole run; label "shard"

	Outcome  string // how it ended: "ok", "failed", "incomplete", "locked", "bad_input", ...; required
	ExitCode int    // the process's exit code

	Started  time.Time // required
	Finished time.Time // required, not before Started
	// LastSuccess is when the last successful run of this kind finished (this run's Finished
	// if it succeeded, else what the lake's state remembers); zero if there never was one, and
	// then chatlake_last_success_timestamp_seconds is not written.
	LastSuccess time.Time

	MessagesPublished int64            // messages in the partitions the run published
	Requests          map[string]int64 // API requests by outcome ("ok", "retried", "failed", ...)
	RateLimited       int64            // HTTP 429 answers
	Retries           int64            // requests retried, for any cause
	UsersListed       int64            // users the User API listed
	UsersSkipped      int64            // users left out (their requests failed)
	UsersOwed         int64            // users whose export is still owed to a later run
	BytesWritten      int64            // bytes of Parquet and metadata written to the lake
	LateMessages      int64            // messages found in a day after it was first exported

	// Build is the binary's build information (module version, VCS revision, Go version),
	// written as the labels of chatlake_build_info; nil writes no such metric.
	Build map[string]string
}

// validate checks the fields that have rules, naming the first one that breaks them.
func (r *Run) validate() error {
	switch {
	case r.Kind == "":
		return fmt.Errorf("metrics: Run.Kind is empty")
	case r.Outcome == "":
		return fmt.Errorf("metrics: Run.Outcome is empty")
	case r.Started.IsZero():
		return fmt.Errorf("metrics: Run.Started is zero")
	case r.Finished.Before(r.Started):
		return fmt.Errorf("metrics: Run.Finished %s is before Run.Started %s", r.Finished.Format(time.RFC3339), r.Started.Format(time.RFC3339))
	}
	for name, v := range map[string]int64{
		"MessagesPublished": r.MessagesPublished, "RateLimited": r.RateLimited, "Retries": r.Retries,
		"UsersListed": r.UsersListed, "UsersSkipped": r.UsersSkipped, "UsersOwed": r.UsersOwed,
		"BytesWritten": r.BytesWritten, "LateMessages": r.LateMessages,
	} {
		if v < 0 {
			return fmt.Errorf("metrics: Run.%s is %d, want 0 or more", name, v)
		}
	}
	for outcome, v := range r.Requests {
		if v < 0 || outcome == "" {
			return fmt.Errorf("metrics: Run.Requests[%q] is %d, want a named outcome and 0 or more", outcome, v)
		}
	}
	return nil
}

// labels are the labels every metric of r carries.
func (r *Run) labels() map[string]string {
	l := map[string]string{"bot": r.Bot, "customer": r.Customer, "kind": r.Kind}
	if r.Shard != "" {
		l["shard"] = r.Shard
	}
	return l
}
