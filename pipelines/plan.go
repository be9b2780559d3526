package pipelines

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/schema"
)

// Default batch sizing: about targetBatches batches per run, within these bounds of users each.
// Its two bounds (issue 18, docs/benchmarks.md): a kill redoes the batches in flight, on average
// about 1.5 of them, and may cost 5% of the run's minimum requests, so a batch is at most about
// 3% of the run; and a batch costs the lake fixed CPU whatever its rows (its done object, a staged
// segment and a merge's read per day it holds: about 4 ms at 14 days), which at 100 batches was a
// third of the export's CPU beyond the floor at 200k messages. 40 batches (2.5% each) keep both.
// The upper bound keeps the staged segments (one per batch and day) from growing small with
// the number of users: at 1000 users a batch, a 1M-user 120-day backfill staged 120k files of
// about 16 rows, whose fixed Parquet overhead took 8 times the lake's bytes.
const (
	targetBatches = 40
	minBatchUsers = 10
	maxBatchUsers = 10000
)

// planID names a run by what decides its content: the kind, the bot, the selectors, the range
// and the schema version. A rerun of the same command gets the same id, and so resumes.
func planID(kind, customer, bot string, selectors []string, from, to string) string {
	h := sha256.Sum256([]byte(strings.Join([]string{kind, customer, bot, strings.Join(selectors, "\x00"),
		from, to, schema.MessagesVersion}, "\x01")))
	return kind + "-" + from + "-" + to + "-" + hex.EncodeToString(h[:6])
}

// batchSize is the number of users per batch for a run of n users: about targetBatches
// batches, so that a kill redoes about 2.5% of the run per batch in flight.
func batchSize(n, configured int) int {
	if configured > 0 {
		return configured
	}
	return min(max((n+targetBatches-1)/targetBatches, minBatchUsers), maxBatchUsers)
}

// cutBatches makes the plan's batches: the owed users (over the union of their owed range
// and, if they are listed, the run's range) grouped by range, then the other listed users over
// the run's range, each group sorted by id and cut into batches of size users. With owedOnly,
// only the owed users, each over its owed range (the listed ones keep their channel).
func cutBatches(listed *userSet, owed map[string]load.Owed, from, to string, size int, owedOnly bool) ([]load.PlanBatch, [][]load.PlanUser) {
	type rangeKey struct{ from, to string }
	groups := map[rangeKey][]load.PlanUser{}
	var main []load.PlanUser
	if !owedOnly {
		main = make([]load.PlanUser, 0, listed.len())
	}
	isListed := make(map[string]bool, len(owed))
	for i := range listed.len() {
		u := listed.user(i)
		o, isOwed := owed[u.ID]
		if !isOwed {
			if !owedOnly {
				main = append(main, u)
			}
			continue
		}
		isListed[u.ID] = true
		k := rangeKey{min(o.From, from), max(o.To, to)}
		if owedOnly {
			k = rangeKey{o.From, o.To}
		}
		groups[k] = append(groups[k], u)
	}
	for id, o := range owed {
		if !isListed[id] {
			k := rangeKey{o.From, o.To}
			groups[k] = append(groups[k], load.PlanUser{ID: id})
		}
	}
	var batches []load.PlanBatch
	var users [][]load.PlanUser
	cut := func(us []load.PlanUser, from, to string, isOwed bool) {
		slices.SortFunc(us, func(a, b load.PlanUser) int { return cmp.Compare(a.ID, b.ID) })
		for len(us) > 0 {
			n := min(size, len(us))
			batches = append(batches, load.PlanBatch{From: from, To: to, Users: n, Owed: isOwed})
			users = append(users, us[:n:n])
			us = us[n:]
		}
	}
	keys := make([]rangeKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b rangeKey) int { return cmp.Or(cmp.Compare(a.from, b.from), cmp.Compare(a.to, b.to)) })
	for _, k := range keys {
		cut(groups[k], k.from, k.to, true)
	}
	cut(main, from, to, false)
	return batches, users
}

func dayString(d time.Time) string { return d.UTC().Format(schema.DayLayout) }

// lastClosedDay is the last day whose end is at least settle before now: the newest day that
// can no longer change, bar late messages.
func lastClosedDay(now time.Time, settle time.Duration) time.Time {
	cut := now.UTC().Add(-settle)
	return time.Date(cut.Year(), cut.Month(), cut.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
}

// checkRange validates a requested range of days against the clock.
func checkRange(from, to, now time.Time, settle time.Duration) error {
	if to.Before(from) {
		return badInput("--to %s is before --from %s", dayString(to), dayString(from))
	}
	if from.Year() < 1970 {
		return badInput("--from %s is before 1970: the API counts time in epoch milliseconds", dayString(from))
	}
	if last := lastClosedDay(now, settle); to.After(last) {
		return badInput("--to %s is not a closed day yet: the last closed day is %s (a day closes %s after its end)",
			dayString(to), dayString(last), settle)
	}
	return nil
}

// PlanStatus is an unfinished run plan of a lake, for `chatlake status`.
type PlanStatus struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	From        string `json:"from"`
	To          string `json:"to"`
	Users       int    `json:"users"`
	Batches     int    `json:"batches"`
	BatchesDone int    `json:"batches_done"`
}

// PendingPlans lists the lake's unfinished run plans: rerunning their command resumes them
// (`chatlake publish` publishes those whose batches are all done).
func PendingPlans(ctx context.Context, lake *load.Lake) ([]PlanStatus, error) {
	ids, err := lake.Plans(ctx)
	if err != nil {
		return nil, err
	}
	out := []PlanStatus{}
	for _, id := range ids {
		plan, err := lake.ReadPlan(ctx, id)
		if errors.Is(err, load.ErrNoPlan) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		done, err := lake.BatchesDone(ctx, id, plan.Attempt)
		if err != nil {
			return nil, err
		}
		out = append(out, PlanStatus{ID: id, Kind: plan.Kind, From: plan.From, To: plan.To, Users: plan.Users,
			Batches: len(plan.Batches), BatchesDone: len(done)})
	}
	return out, nil
}
