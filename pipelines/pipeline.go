package pipelines

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/load"
)

// conversationSource is what a pipeline needs of the API; *extract.Client has it.
type conversationSource interface {
	ScanUsers(ctx context.Context, sels []extract.Selector, fn func(extract.Selector, *extract.User) error) error
	Conversations(ctx context.Context, userID string, w extract.Window, fn func(extract.Page) error) error
}

// statsSource is the optional ability of a source to report its request counters.
type statsSource interface {
	Stats() extract.Stats
}

// Pipeline exports from one API source into one lake.
type Pipeline struct {
	src    conversationSource
	lake   *load.Lake
	o      Options
	pseudo *pseudo     // nil: neither pseudonymisation nor redaction
	stall  stallSource // the source's report that the API stopped answering; nil: none
}

// New checks the options and returns a Pipeline. src may be nil for a pipeline that only
// publishes or erases (Publish, Forget).
func New(src conversationSource, lake *load.Lake, o Options) (*Pipeline, error) {
	if lake == nil {
		return nil, errors.New("pipelines: a lake is required")
	}
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	q, err := newPseudo(o.Pseudonymizer, o.RedactText)
	if err != nil {
		return nil, err
	}
	stall, _ := src.(stallSource)
	if q != nil && src != nil {
		src = &pseudoSource{inner: src, q: q}
	}
	return &Pipeline{src: src, lake: lake, o: o, pseudo: q, stall: stall}, nil
}

// RunID is the id this pipeline's runs write into their rows.
func (p *Pipeline) RunID() string { return p.o.RunID }

func (p *Pipeline) needSource() error {
	if p.src == nil {
		return errors.New("pipelines: this pipeline has no API source")
	}
	switch {
	case p.o.CustomerID == "":
		return badInput("the customer id is required")
	case p.o.BotKey == "":
		return badInput("the bot key is required")
	case len(p.o.Selectors) == 0:
		return badInput("at least one user selector (NAME=VALUE) is required")
	}
	return nil
}

// fatal tells the errors that stop the whole run: the configuration or the client is wrong,
// not one user.
func fatal(err error) bool {
	for _, target := range []error{extract.ErrUnauthorized, extract.ErrForbidden, extract.ErrInvalidBot,
		extract.ErrInvalidDate, extract.ErrInvalidPage, extract.ErrNotFound, extract.ErrInvalidInput} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

func (p *Pipeline) selectorStrings() []string {
	out := make([]string, 0, len(p.o.Selectors))
	for _, s := range p.o.Selectors {
		out = append(out, s.String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (p *Pipeline) shard() string {
	if p.o.ShardCount <= 1 {
		return ""
	}
	return fmt.Sprintf("%d/%d", p.o.ShardIndex, p.o.ShardCount)
}

// runContext is what one execution of a plan shares between its steps.
type runContext struct {
	sum   *Summary
	lock  *lakeLock
	state *stateStore
	// listed are the users listed before the lock by a first run into a new lake (firstContact);
	// nil when the users are to be listed under the lock.
	listed *userSet
}

// locked runs fn holding (or sharing, with the other processes of the same plan) the lake's
// lock, after sweeping what killed runs left; then it records the run's outcome in the state
// when this process published or failed.
func (p *Pipeline) locked(ctx context.Context, sum *Summary, plan string, listed *userSet, fn func(context.Context, *runContext) error) error {
	// A state that cannot be read stops the command before it writes anything, the lock included.
	if _, err := loadState(ctx, p.lake); err != nil {
		return err
	}
	parent := ctx
	ctx, lock, release, err := p.holdLock(ctx, plan, sum.Kind, p.shard())
	if err != nil {
		return err
	}
	defer release()
	p.sweep(ctx, plan)
	st, err := loadState(ctx, p.lake)
	if err != nil {
		return err
	}
	if p.pseudo.pseudonymized() {
		st.beforeWrite = p.sealOwed
	}
	if err := p.checkLakeOwner(st.get()); err != nil {
		return err
	}
	rc := &runContext{sum: sum, lock: lock, state: st, listed: listed}
	runErr := fn(ctx, rc)
	if cause := context.Cause(ctx); runErr != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		runErr = fmt.Errorf("%w (%w)", runErr, cause)
	}
	p.finish(sum)
	// The caller cancelled the run (a signal): record it as interrupted, with a deadline of
	// its own, while the lock is still held. A run that lost its lock records nothing.
	interrupted := parent.Err() != nil && (runErr != nil || !sum.isPublished())
	if errors.Is(runErr, ErrBadInput) || (ctx.Err() != nil && !interrupted) || (runErr == nil && !sum.isPublished() && !interrupted) {
		return runErr
	}
	rec := &load.RunRecord{RunID: p.o.RunID, Kind: sum.Kind, Plan: plan, From: sum.From, To: sum.To, Outcome: "ok",
		Started: sum.Started.UTC(), Finished: time.Now().UTC(), Messages: sum.runMessages(), Requests: sum.API.Requests,
		Owed: len(sum.OwedUsers), LateMessages: sum.LateMessages}
	if sum.LateMessages > 0 {
		rec.LateByAge = sum.lateByAgeJSON()
	}
	switch {
	case interrupted:
		rec.Outcome = "interrupted"
		if cause := context.Cause(parent); cause != nil {
			rec.Error = cause.Error()
		}
		if runErr == nil {
			runErr = context.Cause(parent)
		}
	case runErr != nil:
		rec.Outcome, rec.Error = "failed", runErr.Error()
	}
	uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer ucancel()
	if err := st.update(uctx, func(s *load.State) { s.LastRun = rec }); err != nil && runErr == nil {
		return err
	}
	return runErr
}

// sweep removes what killed runs left: temporaries of unfinished local writes, local spill,
// and plan directories without a plan. Only a lock holder sweeps; failures are logged.
func (p *Pipeline) sweep(ctx context.Context, plan string) {
	if n, err := p.lake.SweepTemporary(ctx, p.o.LockLease); err != nil {
		p.o.Logger.Warn("sweeping temporary files of killed runs failed", "error", err.Error())
	} else if n > 0 {
		p.o.Logger.Info("swept temporary files of killed runs", "files", n)
	}
	if n, err := p.lake.SweepSpill(); err != nil {
		p.o.Logger.Warn("sweeping the local spill of killed runs failed", "error", err.Error())
	} else if n > 0 {
		p.o.Logger.Info("swept the local spill of killed runs", "directories", n)
	}
	if n, err := p.lake.SweepRuns(ctx, plan); err != nil {
		p.o.Logger.Warn("sweeping the leftovers of finished runs failed", "error", err.Error())
	} else if n > 0 {
		p.o.Logger.Info("swept the leftovers of finished runs", "objects", n)
	}
}

// finish fills the summary's totals.
func (p *Pipeline) finish(sum *Summary) {
	sum.mu.Lock()
	defer sum.mu.Unlock()
	sum.Duration = time.Since(sum.Started)
	if s, ok := p.src.(statsSource); ok && p.src != nil {
		sum.API = s.Stats()
	}
}

// checkLakeOwner refuses to mix two bots in one lake.
func (p *Pipeline) checkLakeOwner(s load.State) error {
	if (s.CustomerID == "" && s.BotKey == "") || p.o.CustomerID == "" {
		return nil // a new lake, or a command that does not export (publish, forget)
	}
	if s.CustomerID != p.o.CustomerID || s.BotKey != p.o.BotKey {
		return badInput("the lake holds customer %s bot %s, not customer %s bot %s", s.CustomerID, s.BotKey, p.o.CustomerID, p.o.BotKey)
	}
	return nil
}
