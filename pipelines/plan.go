package pipelines

import (
	"context"

	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/chatlake/chatlake/load"
	"slices"
	"strings"
	"time"

	"github.com/chatlake/chatlake/schema"
)

// planFormat is the version of Plan's encoding.
const planFormat = 1

// Default batch sizing: about this many batches per run, within these bounds of users each.
// targetBatches makes a batch in flight about 1% of a run (what a kill redoes); the upper bound
// keeps the staged files (one per batch and day) from growing small with the number of users: at
// 1000 users a batch, a 1M-user 120-day backfill staged 120k files of about 16 rows, whose
// fixed Parquet overhead took 8 times the lake's bytes.
const (
	targetBatches = 100
	minBatchUsers = 10
	maxBatchUsers = 10000
)

// Plan is the durable description of one run: its range and its users, cut into batches. It
// is written once, create-only, by the first process of the run (see load.Lake.CreatePlan);
// every rerun of the same command and every shard of the run works from it, so the batches
// are the same for all of them whatever the User API answers later.
type Plan struct {
	Format       int         `json:"format"`
	ID           string      `json:"id"`
	Kind         string      `json:"kind"` // export, backfill, run
	CustomerID   string      `json:"customer_id"`
	BotKey       string      `json:"bot_key"`
	Selectors    []string    `json:"selectors"`
	From         string      `json:"from"` // the run's days, both included
	To           string      `json:"to"`
	Attempt      string      `json:"attempt"` // the run id of the planner: names its batch files
	Created      time.Time   `json:"created"`
	SnapshotDate string      `json:"snapshot_date"` // of the users-table snapshot the planner wrote
	Users        int         `json:"users"`
	Batches      []PlanBatch `json:"batches"`
	// ShardCount is the number of processes the run's batches are shared out to (batch b goes
	// to shard b % ShardCount); 0 in plans written before it was recorded, which accept any.
	ShardCount int `json:"shard_count,omitempty"`
	// OwedOnly: the plan exports only the users the lake owed when it was made, each over its
	// owed range (a rerun of a finished backfill, a nightly run with no day due). It does not
	// move the watermark.
	OwedOnly bool `json:"owed_only,omitempty"`
}

// PlanBatch is one batch: users exported over the days [From, To] with one query each.
type PlanBatch struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Users int    `json:"users"`
	Owed  bool   `json:"owed,omitempty"` // users owed by earlier runs, over their own range
}

// batchUsers is what a batch's users file holds: what a message row needs of each user.
type batchUsers struct {
	Users []planUser `json:"users"`
}

type planUser struct {
	ID      string `json:"id"`
	Channel string `json:"channel,omitempty"`
}

// days of the plan's range.
func (p *Plan) days() []string { return daysBetween(p.From, p.To) }

func daysBetween(from, to string) []string {
	f, err1 := schema.ParseDay(from)
	t, err2 := schema.ParseDay(to)
	if err1 != nil || err2 != nil {
		return nil
	}
	var out []string
	for d := f; !d.After(t); d = d.AddDate(0, 0, 1) {
		out = append(out, dayString(d))
	}
	return out
}

// decodePlan reads a stored plan and checks it belongs to this pipeline.
func decodePlan(data []byte) (*Plan, error) {
	var p Plan
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("reading the run plan: %w", err)
	}
	if p.Format != planFormat {
		return nil, fmt.Errorf("reading the run plan %s: format %d is not known to this chatlake", p.ID, p.Format)
	}
	return &p, nil
}

// planID names a run by what decides its content: the kind, the bot, the selectors, the range
// and the schema version. A rerun of the same command gets the same id, and so resumes.
func planID(kind, customer, bot string, selectors []string, from, to string) string {
	h := sha256.Sum256([]byte(strings.Join([]string{kind, customer, bot, strings.Join(selectors, "\x00"),
		from, to, schema.MessagesVersion}, "\x01")))
	return kind + "-" + from + "-" + to + "-" + hex.EncodeToString(h[:6])
}

// batchSize is the number of users per batch for a run of n users: about targetBatches
// batches, so that a kill redoes about 1% of the run per batch in flight.
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
func cutBatches(listed *userSet, owed map[string]load.Owed, from, to string, size int, owedOnly bool) ([]PlanBatch, [][]planUser) {
	type rangeKey struct{ from, to string }
	groups := map[rangeKey][]planUser{}
	var main []planUser
	if !owedOnly {
		main = make([]planUser, 0, listed.len())
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
			groups[k] = append(groups[k], planUser{ID: id})
		}
	}
	var batches []PlanBatch
	var users [][]planUser
	cut := func(us []planUser, from, to string, isOwed bool) {
		slices.SortFunc(us, func(a, b planUser) int { return cmp.Compare(a.ID, b.ID) })
		for len(us) > 0 {
			n := min(size, len(us))
			batches = append(batches, PlanBatch{From: from, To: to, Users: n, Owed: isOwed})
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

// exportedDays are the days some batch of the plan exports, in order.
func (p *Plan) exportedDays() []string {
	from, to := p.hull()
	var out []string
	for _, d := range daysBetween(from, to) {
		for _, b := range p.Batches {
			if b.From <= d && d <= b.To {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

// hull is the union of the plan's batch ranges: every day the plan publishes.
func (p *Plan) hull() (from, to string) {
	from, to = p.From, p.To
	for _, b := range p.Batches {
		from, to = min(from, b.From), max(to, b.To)
	}
	return from, to
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
		data, err := lake.ReadPlan(ctx, id)
		if err != nil {
			continue // removed meanwhile
		}
		plan, err := decodePlan(data)
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
