package pipelines

import (
	"errors"
	"fmt"
	"time"
)

// stallSource is the optional ability of a source to tell that the API has stopped answering
// (*extract.Client has it): its requests have waited Silence for an answer since the last one.
type stallSource interface {
	Stalled() bool
	Silence() time.Duration
}

// errNotStarted: a user was not started because the API had stopped answering. The user is
// owed, as one whose requests failed.
var errNotStarted = errors.New("not started: the API had stopped answering")

// checkStalled returns an error matching errNotStarted when the API has stopped answering
// (stallSource.Stalled): a run then starts no more users, and those left are owed, so that an
// API that accepts requests and never answers them fails the run in about the time one user
// takes to give up, not that time for every Concurrency users. The first user not started is
// logged once for the run.
func (p *Pipeline) checkStalled(sum *Summary) error {
	if p.stall == nil || !p.stall.Stalled() {
		return nil
	}
	silence := p.stall.Silence().Round(time.Second)
	if sum.userNotStarted() {
		p.o.Logger.Error("the API has not answered for a while: no more users are started, the ones left are owed to the next run",
			"unanswered_s", silence.Seconds())
	}
	return fmt.Errorf("%w (no answer for %s)", errNotStarted, silence)
}
