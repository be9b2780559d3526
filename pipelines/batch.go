package pipelines

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/schema"
	"github.com/chatlake/chatlake/transform"
)

// myBatches is the batches of the plan that this shard works on and that no process finished.
func (p *Pipeline) myBatches(ctx context.Context, plan *load.Plan) (todo []int, mine int, err error) {
	done, err := p.lake.BatchesDone(ctx, plan.ID, plan.Attempt)
	if err != nil {
		return nil, 0, err
	}
	isDone := make(map[int]bool, len(done))
	for _, b := range done {
		isDone[b] = true
	}
	for b := range plan.Batches {
		if b%p.o.ShardCount != p.o.ShardIndex {
			continue
		}
		mine++
		if !isDone[b] {
			todo = append(todo, b)
		}
	}
	return todo, mine, nil
}

// runBatches extracts this shard's unfinished batches with at most Concurrency users in flight
// across them. One dispatcher hands out users in batch order: the next batch starts as soon as
// the users of the one before are all in flight, so a batch's last users and its staging do not
// leave the API idle. At most ParallelBatches + ceil(Concurrency / batch size) batches are
// alive at once (dispatching, waiting for their last users, or staging). A batch is durable
// once done: its rows are staged in the lake and its record written. Errors that stop the run
// (configuration, the API refusing the key, a lost lock, storage) are returned; a user that
// fails is recorded in its batch and owed.
func (p *Pipeline) runBatches(ctx context.Context, rc *runContext, plan *load.Plan) error {
	todo, mine, err := p.myBatches(ctx, plan)
	if err != nil {
		return err
	}
	users, size := 0, 1
	for _, b := range todo {
		users += plan.Batches[b].Users
		size = max(size, plan.Batches[b].Users)
	}
	rc.sum.setBatches(len(plan.Batches), mine, mine-len(todo), users)
	if len(todo) == 0 {
		return nil
	}
	p.o.Logger.Info("extracting", "plan", plan.ID, "batches", len(todo), "batches_of_this_shard", mine,
		"users", users, "shard", p.shard())
	prog := newProgress(p.o, rc.sum)
	stop := prog.start(ctx)
	defer stop()

	alive := make(chan struct{}, p.o.ParallelBatches+(p.o.Concurrency+size-1)/size) // batches alive
	g, gctx := errgroup.WithContext(ctx)
	// Concurrency workers run the users, one at a time each: a worker's stack, grown by its
	// first user, serves the next (a goroutine per user grew a new stack for each: 1.8% of an
	// export's CPU). A worker whose user fails fatally ends with the error, its slot taken.
	workers := make(chan func() error)
	for range p.o.Concurrency {
		g.Go(func() error {
			for run := range workers {
				if err := run(); err != nil {
					return err
				}
			}
			return nil
		})
	}
	wait := func() error {
		close(workers) // every user is handed out: the workers end
		return g.Wait()
	}
	for _, b := range todo {
		select {
		case alive <- struct{}{}:
		case <-gctx.Done():
			return wait()
		}
		br, err := p.startBatch(gctx, rc.sum, plan, b, workers)
		if err != nil {
			<-alive
			g.Go(func() error { return fmt.Errorf("batch %d: %w", b, err) })
			break
		}
		g.Go(func() error {
			defer func() { <-alive }()
			if err := p.finishBatch(gctx, rc.sum, plan, br); err != nil {
				return fmt.Errorf("batch %d: %w", b, err)
			}
			return nil
		})
	}
	return wait()
}

func (p *Pipeline) readBatchUsers(ctx context.Context, plan *load.Plan, b int) ([]load.PlanUser, error) {
	bu, err := p.lake.ReadBatchUsers(ctx, plan, b)
	if err != nil {
		return nil, err
	}
	return bu.Users, nil
}

// batchRun is one batch being extracted: its users in flight, its local stage and its record.
type batchRun struct {
	b       int
	users   int
	stage   *load.Stage
	pending sync.WaitGroup // the batch's users in flight
	err     error          // why dispatching stopped early (the run's context ended)

	mu  sync.Mutex
	rec load.BatchDone
}

// startBatch reads the users of batch b and hands each to a free worker of runBatches (run in
// the run's group: a user's fatal error stops the whole run at once). It returns once every
// user is handed out (or ctx, the group's context, ended); finishBatch waits for them.
func (p *Pipeline) startBatch(ctx context.Context, sum *Summary, plan *load.Plan, b int, workers chan<- func() error) (*batchRun, error) {
	users, err := p.readBatchUsers(ctx, plan, b)
	if err != nil {
		return nil, err
	}
	pb := plan.Batches[b]
	from, err1 := schema.ParseDay(pb.From)
	to, err2 := schema.ParseDay(pb.To)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("the plan's batch range: %w", err)
	}
	w := extract.Window{Start: from, End: to.AddDate(0, 0, 1)}
	stage, err := p.lake.NewStage()
	if err != nil {
		return nil, err
	}
	tsrc := transform.Source{CustomerID: p.o.CustomerID, BotKey: p.o.BotKey, RunID: p.o.RunID, ExtractedAt: p.o.Clock().UTC()}
	br := &batchRun{b: b, users: len(users), stage: stage, rec: load.BatchDone{RunID: p.o.RunID}}
	for i := range users {
		u := &extract.User{ID: users[i].ID, Channel: users[i].Channel}
		br.pending.Add(1)
		run := func() error {
			defer br.pending.Done()
			if err := ctx.Err(); err != nil { // handed out as the run ended: select picks either
				return err
			}
			n, err := p.exportUser(ctx, tsrc, u, w, stage, sum)
			if err != nil && ctx.Err() == nil && fatal(err) {
				// The worker ends, its slot taken: going on, it could start another user's
				// requests before the group, seeing this error, ends the run's context.
				return fmt.Errorf("conversations of user %s in %s: %w", u.ID, w, err)
			}
			switch {
			case err == nil:
				br.mu.Lock()
				br.rec.Messages += int64(n)
				br.mu.Unlock()
				sum.userDone(n)
				return nil
			case ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(err, extract.ErrInvalidUser):
				p.o.Logger.Warn("user skipped: the API says the user id is invalid (1002); its rows stay as they were", "user", u.ID)
				br.mu.Lock()
				br.rec.Skipped = append(br.rec.Skipped, u.ID)
				br.mu.Unlock()
				sum.userSkipped(u.ID)
				return nil
			default:
				if !errors.Is(err, errNotStarted) { // logged once for the run (checkStalled)
					p.o.Logger.Error("user failed: its rows stay as they were, and the next run exports it again",
						"user", u.ID, "from", pb.From, "to", pb.To, "error", err.Error())
				}
				br.mu.Lock()
				br.rec.Failed = append(br.rec.Failed, load.FailedUser{ID: u.ID, Error: err.Error()})
				br.mu.Unlock()
				sum.userFailed(u.ID)
				return nil
			}
		}
		select {
		case workers <- run:
		case <-ctx.Done():
			br.pending.Done()
			br.err = ctx.Err()
			return br, nil
		}
	}
	return br, nil
}

// finishBatch waits for the batch's users, stages its rows in the lake and marks it done. It
// always closes the batch's stage.
func (p *Pipeline) finishBatch(ctx context.Context, sum *Summary, plan *load.Plan, br *batchRun) error {
	defer func() { br.stage.Close() }()
	br.pending.Wait()
	if br.err != nil {
		return br.err
	}
	if err := ctx.Err(); err != nil {
		return err // the run stopped (its group returns why)
	}
	rec := &br.rec
	// Rows of a failed or skipped user that were staged before it failed are not published:
	// the merge keeps those users' previous rows, and refuses staged rows of users it keeps.
	if len(rec.Failed) > 0 || len(rec.Skipped) > 0 {
		if err := restage(&br.stage, rec); err != nil {
			return err
		}
	}
	rec.Finished = p.o.Clock().UTC()
	st, err := p.lake.FinishBatch(ctx, plan.ID, plan.Attempt, br.b, br.stage, rec)
	if err != nil {
		return err
	}
	sum.batchDone(st)
	p.o.Logger.Info("batch done", "batch", br.b, "users", br.users, "messages", rec.Messages,
		"failed", len(rec.Failed), "skipped", len(rec.Skipped))
	return nil
}

// restage drops the rows of the batch's failed and skipped users from the stage.
func restage(stage **load.Stage, rec *load.BatchDone) error {
	drop := map[string]bool{}
	for _, f := range rec.Failed {
		drop[f.ID] = true
	}
	for _, id := range rec.Skipped {
		drop[id] = true
	}
	next, err := (*stage).Filter(func(m *schema.Message) bool { return !drop[m.ChannelUserID] })
	if err != nil {
		return err
	}
	(*stage).Close()
	*stage = next
	return nil
}
