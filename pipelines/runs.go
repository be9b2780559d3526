package pipelines

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/schema"
	"github.com/chatlake/chatlake/transform"
)

// Export exports the whole UTC days [from, to]: every listed user (and every user the lake
// owes) once over the range, published by merging. A rerun of the same export after a kill
// resumes its plan; once it finished, a rerun exports the days again.
func (p *Pipeline) Export(ctx context.Context, from, to time.Time) (*Summary, error) {
	return p.rangeRun(ctx, "export", from, to, false)
}

// Backfill is Export for long ranges run by hand: the same, but a backfill that finished is
// not done again by a rerun of the same command unless restart is set. With restart, an
// unfinished plan of the same command is dropped and the backfill starts over.
func (p *Pipeline) Backfill(ctx context.Context, from, to time.Time, restart bool) (*Summary, error) {
	return p.rangeRun(ctx, "backfill", from, to, restart)
}

func (p *Pipeline) rangeRun(ctx context.Context, kind string, from, to time.Time, restart bool) (*Summary, error) {
	sum := p.newSummary(kind, dayString(from), dayString(to))
	if err := p.needSource(); err != nil {
		return sum, err
	}
	if err := checkRange(from, to, p.o.Clock(), p.o.Settle); err != nil {
		return sum, err
	}
	if err := p.checkMode(ctx, true); err != nil {
		return sum, err
	}
	id := planID(kind, p.o.CustomerID, p.o.BotKey, p.selectorStrings(), sum.From, sum.To)
	sum.Plan = id
	if err := p.checkStoredShards(ctx, id); err != nil {
		return sum, err
	}
	listed, err := p.firstContact(ctx, sum, id)
	if err != nil {
		return sum, err
	}
	defer listed.close()
	err = p.locked(ctx, sum, id, listed, func(ctx context.Context, rc *runContext) error {
		if err := p.recordMode(ctx); err != nil {
			return err
		}
		if kind == "backfill" && !restart {
			st := rc.state.get()
			if b := st.Backfills[id]; b != nil && !b.Finished.IsZero() {
				if len(st.Owed) == 0 {
					p.o.Logger.Info(idleBackfillDone, "from", sum.From, "to", sum.To)
					sum.setIdle(idleBackfillDone)
					return nil
				}
				// A finished backfill that left users owed is not complete: its rerun exports
				// what the lake owes (and only that; --restart does the whole backfill again).
				p.o.Logger.Info("backfill finished, but users are owed: exporting them", "owed", len(st.Owed), "from", sum.From, "to", sum.To)
				return p.execute(ctx, rc, kind, id, sum.From, sum.To, true)
			}
		}
		if restart {
			if _, err := p.lake.ReadPlan(ctx, id); err == nil {
				if err := p.lake.RemoveRun(ctx, id); err != nil {
					return err
				}
				p.o.Logger.Info("restart: dropped the unfinished plan", "plan", id)
			}
		}
		return p.execute(ctx, rc, kind, id, sum.From, sum.To, false)
	})
	return sum, err
}

// Nightly is the scheduled run: from the lake's state it exports every closed day after the
// watermark, and reads the last Lookback exported days again for late messages, with one
// query per user over the whole window. A lake without a watermark starts at first (required
// then, ignored afterwards). A killed nightly run resumes when run again the same day.
func (p *Pipeline) Nightly(ctx context.Context, first time.Time) (*Summary, error) {
	sum := p.newSummary("run", "", "")
	if err := p.needSource(); err != nil {
		return sum, err
	}
	if err := p.checkMode(ctx, true); err != nil {
		return sum, err
	}
	// The window comes from the state; bad input is refused before the lock: nothing is written.
	st, err := ReadState(ctx, p.lake)
	if err != nil {
		return sum, err
	}
	from, to, owedOnly, err := p.nightlyPlan(st, first)
	if err != nil {
		return sum, err
	}
	if from == "" {
		sum.setIdle(idleNoDayDue + " (watermark " + st.Watermark + ")")
		return sum, nil
	}
	sum.From, sum.To = from, to
	id := planID("run", p.o.CustomerID, p.o.BotKey, p.selectorStrings(), from, to)
	sum.Plan = id
	if err := p.checkStoredShards(ctx, id); err != nil {
		return sum, err
	}
	listed, err := p.firstContact(ctx, sum, id)
	if err != nil {
		return sum, err
	}
	defer listed.close()
	err = p.locked(ctx, sum, id, listed, func(ctx context.Context, rc *runContext) error {
		if err := p.recordMode(ctx); err != nil {
			return err
		}
		f, t, o, err := p.nightlyPlan(rc.state.get(), first)
		if err != nil {
			return err
		}
		if f != from || t != to || o != owedOnly {
			return fmt.Errorf("the lake's state changed while this run started (another run finished); run it again")
		}
		return p.execute(ctx, rc, "run", id, from, to, owedOnly)
	})
	return sum, err
}

// nightlyPlan is what a nightly run exports: its window (nightlyWindow) with the users the lake
// owes, or, when no day is due, only the owed users over their own ranges (from and to are then
// the hull of those ranges). An empty from means there is nothing to do.
func (p *Pipeline) nightlyPlan(st load.State, first time.Time) (from, to string, owedOnly bool, err error) {
	from, to, err = p.nightlyWindow(st, first)
	if err != nil || from != "" || len(st.Owed) == 0 {
		return from, to, false, err
	}
	for _, o := range st.Owed {
		if from == "" || o.From < from {
			from = o.From
		}
		to = max(to, o.To)
	}
	p.o.Logger.Info("no day is due, but users are owed: exporting them", "owed", len(st.Owed), "from", from, "to", to)
	return from, to, true, nil
}

// nightlyWindow is the nightly run's days: from the oldest lookback day to the last closed
// day. An empty from means there is nothing to do.
func (p *Pipeline) nightlyWindow(st load.State, first time.Time) (from, to string, err error) {
	last := lastClosedDay(p.o.Clock(), p.o.Settle)
	if st.Watermark == "" {
		switch {
		case first.IsZero():
			return "", "", badInput("the lake has no state yet: the first run needs --from YYYY-MM-DD")
		case first.Year() < 1970:
			return "", "", badInput("--from %s is before 1970: the API counts time in epoch milliseconds", dayString(first))
		case first.After(last):
			return "", "", badInput("--from %s is not a closed day yet: the last closed day is %s", dayString(first), dayString(last))
		}
		return dayString(first), dayString(last), nil
	}
	wm, err := schema.ParseDay(st.Watermark)
	if err != nil {
		return "", "", fmt.Errorf("the state's watermark: %w", err)
	}
	start := wm.AddDate(0, 0, 1-p.o.Lookback)
	if p.o.Lookback == 0 {
		start = wm.AddDate(0, 0, 1)
	}
	if start.After(last) {
		p.o.Logger.Info(idleNoDayDue, "watermark", st.Watermark)
		return "", "", nil
	}
	return dayString(start), dayString(last), nil
}

// execute runs a plan: it loads the plan (or, first, lists the users and writes it), extracts
// this shard's unfinished batches and publishes the plan when every batch is done. A new plan
// that is owedOnly exports only the users the lake owes, each over its owed range.
func (p *Pipeline) execute(ctx context.Context, rc *runContext, kind, id, from, to string, owedOnly bool) error {
	plan, err := p.loadOrCreatePlan(ctx, rc, kind, id, from, to, owedOnly)
	if err != nil {
		return err
	}
	if err := p.loadBatches(ctx, plan); err != nil {
		return err
	}
	if err := p.runBatches(ctx, rc, plan); err != nil {
		return err
	}
	return p.publishPlan(ctx, rc, plan)
}

// loadOrCreatePlan reads the stored plan of id, or lists the users and stores a new plan
// (of the owed users only, when owedOnly).
func (p *Pipeline) loadOrCreatePlan(ctx context.Context, rc *runContext, kind, id, from, to string, owedOnly bool) (*load.Plan, error) {
	plan, err := p.lake.ReadPlan(ctx, id)
	switch {
	case err == nil:
		if err := p.checkShards(plan); err != nil {
			return nil, err
		}
		rc.sum.setUsers(plan.Users, true)
		p.o.Logger.Info("resuming the run's plan", "plan", id, "users", plan.Users, "batches", len(plan.Batches))
		return plan, nil
	case !errors.Is(err, load.ErrNoPlan):
		return nil, err
	}
	users := rc.listed
	if users == nil {
		if users, err = p.listUsers(ctx); err != nil {
			return nil, err
		}
		defer users.close()
	}
	if err := p.checkUserSet(rc, users); err != nil {
		return nil, err
	}
	st := rc.state.get()
	owed := st.Owed
	if p.pseudo.pseudonymized() {
		owed = p.pseudonymizeUsers(users, owed)
	}
	n := len(owed)
	if !owedOnly {
		n += users.len()
	}
	batches, members := cutBatches(users, owed, from, to, batchSize(n, p.o.BatchSize), owedOnly)
	// One reading of the clock: the users' extracted_at is of the plan's snapshot date (an
	// Iceberg lake partitions the users table by the day of extracted_at).
	now := p.o.Clock().UTC()
	plan = &load.Plan{Format: load.PlanFormat, ID: id, Kind: kind, CustomerID: p.o.CustomerID, BotKey: p.o.BotKey,
		Selectors: p.selectorStrings(), From: from, To: to, Attempt: p.o.RunID, Created: now,
		SnapshotDate: dayString(now), Users: users.len(), Batches: batches, ShardCount: p.o.ShardCount, OwedOnly: owedOnly}

	batchUsers := make([]*load.BatchUsers, len(members))
	for b := range members {
		if batchUsers[b], err = p.encodeBatch(id, plan.Attempt, b, members[b]); err != nil {
			return nil, err
		}
	}
	if plan.UsersParts, err = p.lake.WriteBatchUsers(ctx, id, plan.Attempt, batchUsers); err != nil {
		return nil, err
	}
	tsrc := transform.Source{CustomerID: p.o.CustomerID, BotKey: p.o.BotKey, RunID: p.o.RunID, ExtractedAt: now}
	if err := p.lake.WriteUsers(ctx, plan.SnapshotDate, id, users.usersTable(tsrc, p.pseudonymizedUser()), p.o.RunID); err != nil {
		return nil, err
	}
	// The batches hold what the run needs of each user from here on: the set and its spill go
	// now rather than when the run ends.
	users.close()
	rc.listed = nil
	stored, created, err := p.lake.CreatePlan(ctx, plan)
	if err != nil {
		return nil, err
	}
	if !created { // another process of the run planned first: its plan is the run's
		plan = stored
		if err := p.checkShards(plan); err != nil {
			return nil, err
		}
	}
	rc.sum.setUsers(plan.Users, false)
	p.o.Logger.Info("planned", "plan", id, "users", plan.Users, "owed", len(st.Owed), "batches", len(plan.Batches),
		"from", from, "to", to)
	return plan, nil
}

// checkStoredShards refuses, before the lock, to join the stored plan of id with another shard
// count than the one it was begun with (checkShards). No plan, nothing to check.
func (p *Pipeline) checkStoredShards(ctx context.Context, id string) error {
	plan, err := p.lake.ReadPlan(ctx, id)
	switch {
	case errors.Is(err, load.ErrNoPlan):
		return nil
	case err != nil:
		return err
	}
	return p.checkShards(plan)
}

// checkShards refuses a process whose shard count is not its run's: a run's shard count is
// fixed by its plan, as its batches are shared out by it. A plan written before plans recorded
// the count (0) accepts any.
func (p *Pipeline) checkShards(plan *load.Plan) error {
	if plan.ShardCount == 0 || plan.ShardCount == p.o.ShardCount {
		return nil
	}
	return badInput("--shard-count %d: the run %s was begun with --shard-count %d, and a run's shard count is fixed by its plan; run this shard with --shard-count %d",
		p.o.ShardCount, plan.ID, plan.ShardCount, plan.ShardCount)
}

// firstContact lists the users before the lock is taken when the lake has no state and no plan
// of id: a first run into a new lake that cannot reach the API (401, 403, a wrong bot or URL, 5xx
// on every attempt, a closed port) or whose selectors match nobody stops before it writes
// anything, so it leaves no lake behind (no state, no lock, no plan; a local lake's directory,
// made when the lake was opened, stays empty). Otherwise it returns nil and the users are listed
// under the lock, as a plan needs them.
func (p *Pipeline) firstContact(ctx context.Context, sum *Summary, id string) (*userSet, error) {
	st, err := loadState(ctx, p.lake)
	if err != nil || st.exists() {
		return nil, err
	}
	if _, err := p.lake.ReadPlan(ctx, id); !errors.Is(err, load.ErrNoPlan) {
		return nil, err // a plan to resume (err nil), or the store failed
	}
	users, err := p.listUsers(ctx)
	if err == nil {
		if err = p.unmatchedSelectors(users); err != nil {
			users.close()
		}
	}
	if err != nil {
		p.finish(sum)
		return nil, err
	}
	return users, nil
}

func (p *Pipeline) listUsers(ctx context.Context) (*userSet, error) {
	p.o.Logger.Info("listing users", "selectors", len(p.o.Selectors))
	stopProgress := p.listingProgress(ctx)
	users, err := p.listUserSet(ctx)
	if err != nil {
		stopProgress(-1)
		if errors.Is(err, extract.ErrInvalidBot) {
			// The API's word on the bot key or customer id the user gave: bad input.
			return nil, fmt.Errorf("%w: --bot %s or --customer %s: listing users: %w", ErrBadInput, p.o.BotKey, p.o.CustomerID, err)
		}
		return nil, fmt.Errorf("listing users: %w", err)
	}
	stopProgress(users.len())
	return users, nil
}

// checkUserSet refuses a user set that cannot be right (a selector that matches nobody) and
// warns about one far smaller than the last run's.
func (p *Pipeline) checkUserSet(rc *runContext, users *userSet) error {
	if err := p.unmatchedSelectors(users); err != nil {
		return err
	}
	if prev := rc.state.get().LastUsers; prev > 0 && users.len()*2 < prev {
		msg := fmt.Sprintf("the User API listed %d users, far fewer than the %d of the last run: a selector changed, users stopped matching, or the User API answered partly. Their rows stay in the lake.", users.len(), prev)
		p.o.Logger.Warn("fewer users than the last run", "users", users.len(), "last_users", prev)
		rc.sum.warn(msg)
	}
	return nil
}

// unmatchedSelectors refuses a user set in which a selector matched nobody.
func (p *Pipeline) unmatchedSelectors(users *userSet) error {
	if none := users.unmatched(); len(none) > 0 {
		return badInput("--users-where %s matched no user: nothing was exported and the lake is unchanged (a typo in the attribute's name or value?)",
			strings.Join(none, ", --users-where "))
	}
	return nil
}

// Publish publishes every plan in the lake whose batches are all done (a sharded run whose
// last shard died before publishing, for instance). It needs no API source.
func (p *Pipeline) Publish(ctx context.Context) (*Summary, error) {
	sum := p.newSummary("publish", "", "")
	if _, err := loadState(ctx, p.lake); err != nil {
		return sum, err // a corrupt state stops it even with nothing to publish
	}
	if err := p.checkMode(ctx, false); err != nil {
		return sum, err
	}
	ids, err := p.lake.Plans(ctx)
	if err != nil {
		return sum, err
	}
	var errs []error
	for _, id := range ids {
		plan, err := p.lake.ReadPlan(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		done, err := p.lake.BatchesDone(ctx, id, plan.Attempt)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(done) < len(plan.Batches) {
			p.o.Logger.Info("plan not ready to publish: batches are still to do", "plan", id,
				"batches_left", len(plan.Batches)-len(done))
			sum.setWaiting(len(plan.Batches) - len(done))
			continue
		}
		sum.Plan, sum.From, sum.To = id, plan.From, plan.To
		err = p.locked(ctx, sum, id, nil, func(ctx context.Context, rc *runContext) error {
			if err := p.loadBatches(ctx, plan); err != nil {
				return err
			}
			return p.publishPlan(ctx, rc, plan)
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("plan %s: %w", id, err))
		}
	}
	if len(errs) == 0 && !sum.isPublished() && sum.BatchesWaiting == 0 {
		sum.setIdle(idleNothingToPublish)
	}
	return sum, errors.Join(errs...)
}

// checkHeld refuses, before anything is written, ids the lake does not hold: owed by no run
// and in no file of the users table (every exported user is in the users snapshot of the run
// that listed it). Erasing such an id would change nothing but the state's record of erasures.
// The error names the ids as given (by position in a pseudonymised lake, which never shows an
// id), and nothing is erased unless the lake holds every id.
func (p *Pipeline) checkHeld(ctx context.Context, given, ids []string) error {
	st, err := ReadState(ctx, p.lake)
	if err != nil {
		return err
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		if _, owed := st.Owed[id]; !owed {
			want[id] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(want))
	// ForgetUsers with a drop that accepts no row reads every users file and writes none.
	_, err = p.lake.ForgetUsers(ctx, func(id string) bool {
		if want[id] {
			seen[id] = true
		}
		return false
	}, p.o.RunID)
	if err != nil {
		return err
	}
	var missing []string
	for i, id := range ids {
		if want[id] && !seen[id] {
			if p.pseudo.pseudonymized() {
				missing = append(missing, fmt.Sprintf("#%d", i+1))
			} else {
				missing = append(missing, given[i])
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return badInput("--user %s: not in the lake (in no users-table file and not owed); nothing was erased: give only ids the lake holds",
		strings.Join(missing, ", --user "))
}

// Forget erases users: their rows leave every partition of the messages table and every file
// of the users table (each file replaced atomically), they are no longer owed, and unfinished
// plans (whose staged rows may hold them) are dropped. The state records the erasure, but not
// the ids.
func (p *Pipeline) Forget(ctx context.Context, ids []string) (*Summary, error) {
	sum := p.newSummary("forget", "", "")
	if len(ids) == 0 {
		return sum, badInput("--user: at least one user id to forget is required")
	}
	if slices.Contains(ids, "") {
		return sum, badInput("--user: an empty user id")
	}
	if err := p.checkMode(ctx, false); err != nil {
		return sum, err
	}
	given := ids
	ids = p.forgetIDs(ids) // a pseudonymised lake knows users by pseudonym
	if err := p.checkHeld(ctx, given, ids); err != nil {
		return sum, err
	}
	drop := make(map[string]bool, len(ids))
	for _, id := range ids {
		drop[id] = true
	}
	sorted := slices.Sorted(func(yield func(string) bool) {
		for id := range drop {
			if !yield(id) {
				return
			}
		}
	})
	h := sha256.Sum256([]byte(strings.Join(sorted, "\x00")))
	id := "forget-" + hex.EncodeToString(h[:6])
	sum.Plan = id
	sum.setUsers(len(drop), false)
	err := p.locked(ctx, sum, id, nil, func(ctx context.Context, rc *runContext) error {
		plans, err := p.lake.Plans(ctx)
		if err != nil {
			return err
		}
		for _, other := range plans {
			if err := p.lake.RemoveRun(ctx, other); err != nil {
				return err
			}
			p.o.Logger.Warn("forget: dropped an unfinished run, whose staged rows may hold the users; rerun it to export anew", "plan", other)
			sum.warn("dropped the unfinished run " + other + ", whose staged rows may hold the users: rerun it to export anew")
		}
		isDropped := func(u string) bool { return drop[u] }
		ms, err := p.lake.ForgetMessages(ctx, isDropped, p.o.RunID)
		if err != nil {
			return err
		}
		us, err := p.lake.ForgetUsers(ctx, isDropped, p.o.RunID)
		if err != nil {
			return err
		}
		sum.setForgotten(ms, us)
		err = rc.state.update(ctx, func(s *load.State) {
			for u := range drop {
				delete(s.Owed, u)
			}
			if len(s.Owed) == 0 {
				s.Owed = nil
			}
			s.Erasures = append(s.Erasures, load.Erasure{RunID: p.o.RunID, At: p.o.Clock().UTC(), Users: len(drop), Messages: ms.Messages})
		})
		if err != nil {
			return err
		}
		sum.markPublished(len(rc.state.get().Owed))
		p.o.Logger.Info("forgot users", "users", len(drop), "messages", ms.Messages, "partitions", ms.Partitions,
			"users_rows", us.UsersRows)
		return nil
	})
	return sum, err
}
