package load

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/chatlake/chatlake/schema"
)

// PlanFormat is the version of Plan's encoding in plan.json that CreatePlan writes. ReadPlan
// reads it and planFormatBatchFiles, and refuses any other.
const PlanFormat = 2

// planFormatBatchFiles is the format of the plans of a chatlake before the users objects
// (batchusers.go): each batch's users in a file of its own.
const planFormatBatchFiles = 1

// Plan is the durable description of one run: its range and its users, cut into batches. It
// is written once, create-only, by the first process of the run (CreatePlan); every rerun of
// the same command and every shard of the run works from it, so the batches are the same for
// all of them whatever the User API answers later. How a run is cut into batches is the
// pipeline's policy; the plan's encoding, its format check and its write are this package's.
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
	// UsersParts is the first batch of each of the attempt's users objects (WriteBatchUsers).
	UsersParts []int `json:"users_parts,omitempty"`
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

// BatchUsers is a batch's users file: what a message row needs of each user, in the order
// the planner cut them. In a pseudonymised lake the ids are pseudonyms and Sealed holds their
// raw ids, encrypted by the pipeline (opaque here); otherwise Sealed is empty.
type BatchUsers struct {
	Users  []PlanUser `json:"users"`
	Sealed string     `json:"sealed,omitempty"`
}

// PlanUser is one user of a batch.
type PlanUser struct {
	ID      string `json:"id"`
	Channel string `json:"channel,omitempty"`
}

// Hull is the union of the plan's batch ranges: every day the plan publishes. Owed users'
// batches can reach before From or after To.
func (p *Plan) Hull() (from, to string) {
	from, to = p.From, p.To
	for _, b := range p.Batches {
		from, to = min(from, b.From), max(to, b.To)
	}
	return from, to
}

// ExportedDays are the days some batch of the plan exports, in order.
func (p *Plan) ExportedDays() []string {
	from, to := p.Hull()
	var out []string
	for _, d := range DaysBetween(from, to) {
		for _, b := range p.Batches {
			if b.From <= d && d <= b.To {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

// DaysBetween lists the days from from to to, both included ("2006-01-02"); nil if either
// does not parse or to is before from.
func DaysBetween(from, to string) []string {
	f, err1 := schema.ParseDay(from)
	t, err2 := schema.ParseDay(to)
	if err1 != nil || err2 != nil {
		return nil
	}
	var out []string
	for d := f; !d.After(t); d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format(schema.DayLayout))
	}
	return out
}

// encodePlan is plan.json's content.
func encodePlan(p *Plan) ([]byte, error) {
	if p.Format != PlanFormat {
		return nil, fmt.Errorf("write plan %s: format %d, want %d", p.ID, p.Format, PlanFormat)
	}
	return json.MarshalIndent(p, "", " ")
}

// decodePlan reads plan.json and checks its format is this package's.
func decodePlan(id string, data []byte) (*Plan, error) {
	var p Plan
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("read plan %s: %w", id, err)
	}
	if p.Format != PlanFormat && p.Format != planFormatBatchFiles {
		return nil, fmt.Errorf("read plan %s: format %d is not known to this chatlake", id, p.Format)
	}
	return &p, nil
}
