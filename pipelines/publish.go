package pipelines

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/schema"
)

// readUsersConcurrency bounds the concurrent reads of batch users files while publishing.
const readUsersConcurrency = 16

// publishDaysInFlight is how many days are published at once at the least: a day's publish is
// mostly object reads and writes (a round trip each on a cloud store: listing, manifests, the
// staged rows' ranged reads, moves), and only its writing step holds rows in memory, which
// ParallelPublish bounds (load.MergeInput.Writing). So the I/O of this many days overlaps.
const publishDaysInFlight = 16

// doneRecords reads the done records of every batch of the plan.
func (p *Pipeline) doneRecords(ctx context.Context, plan *load.Plan) ([]*load.BatchDone, error) {
	recs := make([]*load.BatchDone, len(plan.Batches))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readUsersConcurrency)
	for b := range plan.Batches {
		g.Go(func() error {
			rec, err := p.lake.ReadBatchDone(gctx, plan.ID, plan.Attempt, b)
			recs[b] = rec
			return err
		})
	}
	return recs, g.Wait()
}

// coveredUsers is the set of users whose rows of a day the plan replaces: the users of the
// batches whose range holds the day, less those whose export failed or was skipped. It is a
// sorted slice of ids (16 bytes a user beside the ids' bytes, against some 60 for a map), as
// publishing holds it for the whole plan.
func (p *Pipeline) coveredUsers(ctx context.Context, plan *load.Plan, recs []*load.BatchDone, batches []int) (userIDs, error) {
	lists := make([][]load.PlanUser, len(batches))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readUsersConcurrency)
	for i, b := range batches {
		g.Go(func() error {
			us, err := p.readBatchUsers(gctx, plan, b)
			lists[i] = us
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	set := make(userIDs, 0, n)
	for i, b := range batches {
		out := map[string]bool{}
		for _, f := range recs[b].Failed {
			out[f.ID] = true
		}
		for _, id := range recs[b].Skipped {
			out[id] = true
		}
		for _, u := range lists[i] {
			if !out[u.ID] {
				set = append(set, u.ID)
			}
		}
		lists[i] = nil
	}
	slices.Sort(set)
	return slices.Compact(set), nil
}

// userIDs is a sorted set of user ids.
type userIDs []string

func (s userIDs) has(id string) bool {
	_, ok := slices.BinarySearch(s, id)
	return ok
}

// publishPlan publishes the plan's days once every batch is done, then records the run in
// the state and removes the plan. Of the processes sharing the plan, the one that claims the
// publisher role publishes; the others return (their part is done). A plan already partly
// published (a killed publisher) continues where it stopped: days it published are skipped.
func (p *Pipeline) publishPlan(ctx context.Context, rc *runContext, plan *load.Plan) error {
	done, err := p.lake.BatchesDone(ctx, plan.ID, plan.Attempt)
	if err != nil {
		return err
	}
	if len(done) < len(plan.Batches) {
		missing := len(plan.Batches) - len(done)
		rc.sum.setWaiting(missing)
		p.o.Logger.Info("this shard's batches are done; other shards still have batches to finish, and the last one to finish publishes",
			"plan", plan.ID, "batches_left", missing)
		return nil
	}
	claimed, err := rc.lock.ClaimPublisher(ctx, plan.ID+"@"+plan.Attempt)
	if err != nil {
		return err
	}
	if !claimed {
		p.o.Logger.Info("another process of this run published it, or is publishing it", "plan", plan.ID)
		return nil
	}
	recs, err := p.doneRecords(ctx, plan)
	if err != nil {
		return err
	}
	var failed []string
	for _, r := range recs {
		for _, f := range r.Failed {
			failed = append(failed, f.ID)
		}
	}
	rc.sum.setOwed(failed)
	from, to := plan.Hull()
	p.o.Logger.Info("publishing", "plan", plan.ID, "from", from, "to", to)
	var cacheKey string
	var covered userIDs
	// Rows new to a day the lake exported before arrived after that export (late), unless
	// they are of a user owed then (their rows were missing because the export failed).
	before := rc.state.get()
	countNew := func(id string) bool { _, owed := before.Owed[id]; return !owed }
	today, err := schema.ParseDay(dayString(p.o.Clock()))
	if err != nil {
		return err
	}
	// Days are published publishDaysInFlight at a time (each is its own partition), of which
	// ParallelPublish write their shards at once; the users they replace are read here, in day
	// order, once per distinct set of batches. From a cloud store the staged rows are read a
	// window of publishDaysInFlight days at a time (load.FetchStaged: one ranged read per
	// staged part and window), the next window's while this one's days are merged.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(p.o.ParallelPublish, publishDaysInFlight))
	writing := semaphore.NewWeighted(int64(p.o.ParallelPublish))
	var staged []*load.StagedBatch
	for _, r := range recs {
		if r.Staged != nil {
			staged = append(staged, r.Staged)
		}
	}
	// On an Iceberg lake the days' merges become one commit (Publication.Commit); a commit of
	// this plan instance that landed before its publisher stopped is not made again.
	pub, err := p.lake.BeginPublication(ctx, plan.ID, plan.Attempt, p.o.RunID)
	if err != nil {
		return err
	}
	days := load.DaysBetween(from, to)
	if pub.Landed() {
		p.o.Logger.Info("this run's commit is in the table already: recording the run", "plan", plan.ID)
		days = nil
	}
	windows := slices.Collect(slices.Chunk(days, publishDaysInFlight))
	fetches := make([]*load.StagedFetch, len(windows))
	defer func() {
		for _, f := range fetches {
			f.Close()
		}
	}()
	type fetched struct {
		f   *load.StagedFetch
		err error
	}
	prefetch := func(w int) <-chan fetched {
		ch := make(chan fetched, 1)
		go func() {
			f, err := p.lake.FetchStaged(gctx, staged, windows[w])
			ch <- fetched{f, err}
		}()
		return ch
	}
	var next <-chan fetched
	if len(windows) > 0 {
		next = prefetch(0)
	}
windows:
	for w, days := range windows {
		r := <-next
		next = nil
		fetches[w] = r.f
		if r.err != nil {
			g.Go(func() error { return r.err })
			break
		}
		if w+1 < len(windows) {
			next = prefetch(w + 1)
		}
		var window sync.WaitGroup
		for _, day := range days {
			if err := gctx.Err(); err != nil {
				// A merge failed (g.Wait returns its error: the first one stands) or the run
				// ended: either way no day after this one is published, and the plan is not
				// recorded as published.
				g.Go(func() error { return err })
				break windows
			}
			var batches []int
			var key strings.Builder
			for b, pb := range plan.Batches {
				if pb.From <= day && day <= pb.To {
					batches = append(batches, b)
					key.WriteString(strconv.Itoa(b) + ",")
				}
			}
			if len(batches) == 0 {
				continue // a day between owed ranges and the run's: no batch exported it
			}
			if key.String() != cacheKey || covered == nil {
				c, err := p.coveredUsers(gctx, plan, recs, batches)
				if err != nil {
					g.Go(func() error { return err })
					break windows
				}
				covered, cacheKey = c, key.String()
			}
			cov := covered
			in := load.MergeInput{Plan: plan.ID, Attempt: plan.Attempt, Replace: cov.has, RunID: p.o.RunID, CountNew: countNew,
				Writing: writing, Fetched: r.f, Publication: pub}
			for _, b := range batches {
				if recs[b].Staged != nil {
					in.Staged = append(in.Staged, recs[b].Staged)
				} else {
					in.LegacyBatches = append(in.LegacyBatches, b)
				}
			}
			window.Add(1)
			g.Go(func() error {
				defer window.Done()
				return p.publishDay(gctx, rc, plan, day, in, &before, today)
			})
		}
		// The window's files go once its days are merged.
		go func() { window.Wait(); r.f.Close() }()
	}
	if next != nil { // the loop stopped early: the prefetched window is not merged
		if r := <-next; r.f != nil {
			r.f.Close()
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Days publish at once, so the run can end (a signal, a lost lock) while the last of them
	// finish: every day is then published, but the run stopped, and says so rather than
	// record the plan; its rerun finds every day published and records it.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publishing stopped: %w", context.Cause(ctx))
	}
	if err := pub.Commit(ctx); err != nil {
		return err
	}
	if err := p.finishPlan(ctx, rc, plan, recs); err != nil {
		return err
	}
	if err := rc.lock.MarkPublished(ctx, plan.ID+"@"+plan.Attempt); err != nil {
		p.o.Logger.Warn("could not record in the lock that the run is published; a shard that finishes later may try to publish it again and fail", "error", err.Error())
	}
	return p.owedError(rc.sum)
}

// publishDay merges the plan's staged rows of day into its partition, replacing the rows of
// the covered users, and counts the rows that are late. It runs concurrently with the
// publishing of other days.
func (p *Pipeline) publishDay(ctx context.Context, rc *runContext, plan *load.Plan, day string, in load.MergeInput,
	before *load.State, today time.Time) error {
	st, err := p.lake.Merge(ctx, day, in)
	if err != nil {
		return err
	}
	rc.sum.addPublished(st)
	if len(in.LegacyBatches) > 0 {
		if err := p.lake.RemoveLegacyStaged(ctx, plan.ID, plan.Attempt, day); err != nil {
			p.o.Logger.Warn("removing a published day's staged rows failed; they go with the plan", "dt", day, "error", err.Error())
		}
	}
	if _, exported := before.Days[day]; exported && st.Added > 0 {
		d, _ := schema.ParseDay(day)
		age := int(today.Sub(d).Hours() / 24)
		rc.sum.addLate(age, st.Added)
		p.o.Logger.Info("late messages: new in a day exported before", "dt", day, "messages", st.Added, "age_days", age)
		if plan.Kind == "run" && day == plan.From {
			msg := fmt.Sprintf("%d late messages reached %s, the oldest day of the lookback: messages arriving later than the lookback are never exported by nightly runs. Lengthen --lookback, and recover older days with: chatlake backfill --from DAY --to %s (same --lake and --users-where)", st.Added, day, day)
			p.o.Logger.Warn("late messages at the oldest lookback day", "dt", day, "messages", st.Added)
			rc.sum.warn(msg)
		}
	}
	return nil
}

// finishPlan records a published plan in the state (days, watermark, what is owed, the
// backfill) and removes the plan and the unfinished plans it makes stale.
func (p *Pipeline) finishPlan(ctx context.Context, rc *runContext, plan *load.Plan, recs []*load.BatchDone) error {
	paid := map[string]load.PlanBatch{} // owed users exported, by the range they were exported over
	for b, pb := range plan.Batches {
		if !pb.Owed {
			continue
		}
		users, err := p.readBatchUsers(ctx, plan, b)
		if err != nil {
			return err
		}
		for _, u := range users {
			paid[u.ID] = pb
		}
	}
	now := p.o.Clock().UTC()
	err := rc.state.update(ctx, func(s *load.State) {
		if plan.CustomerID != "" {
			s.CustomerID, s.BotKey = plan.CustomerID, plan.BotKey
		}
		if s.Days == nil {
			s.Days = map[string]load.DayState{}
		}
		for _, d := range plan.ExportedDays() {
			s.Days[d] = load.DayState{RunID: p.o.RunID, ExportedAt: now}
		}
		if !plan.OwedOnly && (s.Watermark == "" || plan.From <= nextDay(s.Watermark)) {
			s.Watermark = max(s.Watermark, plan.To)
		}
		if s.Owed == nil {
			s.Owed = map[string]load.Owed{}
		}
		for b, r := range recs {
			pb := plan.Batches[b]
			for _, id := range r.Skipped {
				delete(paid, id)
				delete(s.Owed, id) // the API calls the id invalid: nothing more will come of it
			}
			for _, f := range r.Failed {
				delete(paid, f.ID)
				o, ok := s.Owed[f.ID]
				if !ok {
					o = load.Owed{From: pb.From, To: pb.To, Since: now}
				}
				o.From, o.To = min(o.From, pb.From), max(o.To, pb.To)
				o.Attempts++
				o.Error = f.Error
				s.Owed[f.ID] = o
			}
		}
		for id, pb := range paid {
			if o, ok := s.Owed[id]; ok && pb.From <= o.From && o.To <= pb.To {
				delete(s.Owed, id)
			}
		}
		if len(s.Owed) == 0 {
			s.Owed = nil
		}
		if plan.Kind == "backfill" {
			if s.Backfills == nil {
				s.Backfills = map[string]*load.BackfillState{}
			}
			started := plan.Created
			if b := s.Backfills[plan.ID]; b != nil && plan.OwedOnly {
				started = b.Started // the backfill's own start, not its owed users' rerun
			}
			s.Backfills[plan.ID] = &load.BackfillState{From: plan.From, To: plan.To, Selectors: plan.Selectors,
				Started: started, Finished: now}
		}
		s.LastUsers = plan.Users
	})
	if err != nil {
		return err
	}
	rc.sum.markPublished(len(rc.state.get().Owed))
	p.removeStalePlans(ctx, plan)
	if err := p.lake.RemoveRun(ctx, plan.ID); err != nil {
		p.o.Logger.Warn("removing the finished run's plan failed; the next run sweeps it", "plan", plan.ID, "error", err.Error())
	}
	return nil
}

// removeStalePlans removes the unfinished plans whose days overlap plan's: their staged rows
// are older than what plan just published, and publishing them later would replace newer rows
// with older ones. A rerun of such a command starts over.
func (p *Pipeline) removeStalePlans(ctx context.Context, plan *load.Plan) {
	ids, err := p.lake.Plans(ctx)
	if err != nil {
		p.o.Logger.Warn("listing unfinished plans failed", "error", err.Error())
		return
	}
	from, to := plan.Hull()
	for _, id := range ids {
		if id == plan.ID {
			continue
		}
		other, err := p.lake.ReadPlan(ctx, id)
		if err != nil {
			continue
		}
		of, ot := other.Hull()
		if of > to || ot < from {
			continue
		}
		if err := p.lake.RemoveRun(ctx, id); err != nil {
			p.o.Logger.Warn("removing a stale unfinished plan failed", "plan", id, "error", err.Error())
			continue
		}
		p.o.Logger.Warn("removed an unfinished run whose days this run published again; rerun it to export them anew",
			"plan", id, "kind", other.Kind, "from", other.From, "to", other.To)
	}
}

// owedError is the run's error when users failed (it names them) or when the lake still owes
// users after the run: a run that leaves users owed is never complete.
func (p *Pipeline) owedError(sum *Summary) error {
	sum.mu.Lock()
	failed, owed, notStarted := slices.Clone(sum.OwedUsers), sum.OwedTotal, sum.NotStarted
	sum.mu.Unlock()
	switch {
	case len(failed) > 0:
		stalled := ""
		if notStarted > 0 {
			stalled = fmt.Sprintf(" (%d not started: the API had stopped answering)", notStarted)
		}
		return fmt.Errorf("%w: %d user(s) failed and are owed%s (their previous rows stay; the next run exports them again): %s",
			ErrIncomplete, len(failed), stalled, listText(failed))
	case owed > 0:
		return fmt.Errorf("%w: the lake still owes %d user(s) that this run could not export (chatlake status lists them)",
			ErrIncomplete, owed)
	}
	return nil
}

func nextDay(day string) string {
	d, err := schema.ParseDay(day)
	if err != nil {
		return day
	}
	return dayString(d.AddDate(0, 0, 1))
}
