package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatlake/chatlake/load/storage"
)

func testPlan(id string) *Plan {
	return &Plan{Format: PlanFormat, ID: id, Kind: "backfill", CustomerID: "acme", BotKey: "1001",
		Selectors: []string{"plan=pro"}, From: "2024-05-01", To: "2024-05-03", Attempt: "run-a",
		Created: time.Date(2024, 5, 4, 1, 0, 0, 0, time.UTC), SnapshotDate: "2024-05-04", Users: 3,
		Batches: []PlanBatch{{From: "2024-04-28", To: "2024-04-29", Users: 1, Owed: true},
			{From: "2024-05-01", To: "2024-05-03", Users: 2}}, ShardCount: 2}
}

// TestPlanRoundTrip: a plan and its batches' users read back as written; of processes that
// plan at once, exactly one creates and every one gets the stored plan.
func TestPlanRoundTrip(t *testing.T) {
	ctx := context.Background()
	l := newTestLake(t, newLocalStore(t), Options{})
	if _, err := l.ReadPlan(ctx, "backfill-x"); !errors.Is(err, ErrNoPlan) {
		t.Fatalf("ReadPlan of no plan: %v, want ErrNoPlan", err)
	}
	const racers = 8
	var wg sync.WaitGroup
	stored := make([]*Plan, racers)
	created := make([]bool, racers)
	errs := make([]error, racers)
	for i := range racers {
		wg.Go(func() {
			p := testPlan("backfill-x")
			p.Attempt = "run-" + string(rune('a'+i))
			stored[i], created[i], errs[i] = l.CreatePlan(ctx, p)
		})
	}
	wg.Wait()
	winners := 0
	for i := range racers {
		if errs[i] != nil {
			t.Fatalf("CreatePlan %d: %v", i, errs[i])
		}
		if created[i] {
			winners++
		}
		if stored[i].Attempt != stored[0].Attempt {
			t.Errorf("racer %d got attempt %s, racer 0 %s: they disagree on the run's plan", i, stored[i].Attempt, stored[0].Attempt)
		}
	}
	if winners != 1 {
		t.Errorf("%d racers created the plan, want 1", winners)
	}
	got, err := l.ReadPlan(ctx, "backfill-x")
	if err != nil {
		t.Fatal(err)
	}
	want := testPlan("backfill-x")
	want.Attempt = stored[0].Attempt
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadPlan = %+v, want %+v", got, want)
	}
	if from, to := got.Hull(); from != "2024-04-28" || to != "2024-05-03" {
		t.Errorf("Hull = %s..%s, want 2024-04-28..2024-05-03", from, to)
	}
	if days := got.ExportedDays(); strings.Join(days, ",") != "2024-04-28,2024-04-29,2024-05-01,2024-05-02,2024-05-03" {
		t.Errorf("ExportedDays = %v (2024-04-30 is in no batch)", days)
	}

	batches := []*BatchUsers{
		{Users: []PlanUser{{ID: "p1"}}, Sealed: "c2VhbGVk"},
		{Users: []PlanUser{{ID: "u1", Channel: "web"}, {ID: "u2"}}},
	}
	if got.UsersParts, err = l.WriteBatchUsers(ctx, "backfill-x", got.Attempt, batches); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.UsersParts, []int{0}) {
		t.Errorf("UsersParts = %v, want one object from batch 0", got.UsersParts)
	}
	for b, bu := range batches {
		back, err := newTestLake(t, l.store, Options{}).ReadBatchUsers(ctx, got, b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, bu) {
			t.Errorf("ReadBatchUsers(%d) = %+v, want %+v", b, back, bu)
		}
	}
}

// TestReadPlanFormat: a plan of another format, or one that does not decode, is refused with
// its id named, never used.
func TestReadPlanFormat(t *testing.T) {
	ctx := context.Background()
	store := newLocalStore(t)
	l := newTestLake(t, store, Options{})
	for _, tc := range []struct{ name, data, want string }{
		{"later format", `{"format": 3, "id": "backfill-y"}`, "format 3 is not known"},
		{"not JSON", `{"format": `, "read plan backfill-y"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := store.PutIf(ctx, planPath("backfill-y"), []byte(tc.data), ""); err != nil {
				t.Fatal(err)
			}
			defer store.Delete(ctx, planPath("backfill-y"))
			_, err := l.ReadPlan(ctx, "backfill-y")
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrNoPlan) {
				t.Errorf("ReadPlan = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	bad := testPlan("backfill-z")
	bad.Format = 9
	if _, _, err := l.CreatePlan(ctx, bad); err == nil {
		t.Error("CreatePlan wrote a plan of format 9")
	}
}

// getCounter counts the reads of a store: whole, ranged, or of an object's size.
type getCounter struct {
	*memStore
	gets atomic.Int64
}

func (c *getCounter) Get(ctx context.Context, name string) ([]byte, string, error) {
	c.gets.Add(1)
	return c.memStore.Get(ctx, name)
}

func (c *getCounter) OpenRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	c.gets.Add(1)
	return c.memStore.OpenRange(ctx, name, off, n)
}

func (c *getCounter) Stat(ctx context.Context, name string) (storage.Object, error) {
	c.gets.Add(1)
	return c.memStore.Stat(ctx, name)
}

// TestDoneRecordsKept: the done records a process wrote are read back without a request; one
// another process wrote is read from the store; a removed run's records are not kept.
func TestDoneRecordsKept(t *testing.T) {
	ctx := context.Background()
	store := &getCounter{memStore: newMemStore()}
	l := newTestLake(t, store, Options{})
	other := newTestLake(t, store, Options{})
	mine := &BatchDone{Failed: []FailedUser{{ID: "u1", Error: "boom"}}}
	if err := l.markBatchDone(ctx, "plan-1", "a1", 0, mine); err != nil {
		t.Fatal(err)
	}
	if err := other.markBatchDone(ctx, "plan-1", "a1", 1, &BatchDone{}); err != nil {
		t.Fatal(err)
	}
	store.gets.Store(0)
	got, err := l.ReadBatchDone(ctx, "plan-1", "a1", 0)
	if err != nil || !reflect.DeepEqual(got, mine) {
		t.Fatalf("ReadBatchDone = %+v, %v; want %+v", got, err, mine)
	}
	if n := store.gets.Load(); n != 0 {
		t.Errorf("reading the record this lake wrote made %d requests, want none", n)
	}
	if _, err := l.ReadBatchDone(ctx, "plan-1", "a1", 1); err != nil {
		t.Fatal(err)
	}
	if n := store.gets.Load(); n != 2 {
		t.Errorf("reading the record another lake wrote made %d requests, want 2 (its size, its end)", n)
	}
	fresh := newTestLake(t, store, Options{})
	if done, err := fresh.BatchesDone(ctx, "plan-1", "a1"); err != nil || len(done) != 2 {
		t.Fatalf("BatchesDone = %v, %v", done, err)
	}
	store.gets.Store(0)
	if _, err := fresh.ReadBatchDone(ctx, "plan-1", "a1", 1); err != nil {
		t.Fatal(err)
	}
	if n := store.gets.Load(); n != 1 {
		t.Errorf("reading a record whose size the listing gave made %d requests, want 1", n)
	}
	if err := l.RemoveRun(ctx, "plan-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReadBatchDone(ctx, "plan-1", "a1", 0); err == nil {
		t.Error("the record of a removed run is still read")
	}
}

// TestBatchUsersKept: the users objects a process wrote are read back without a request,
// up to keptBatchUsersBytes of them; one another process wrote is read from the store once for
// all its batches; one past the bound at each read; none of a removed run.
func TestBatchUsersKept(t *testing.T) {
	ctx := context.Background()
	store := &getCounter{memStore: newMemStore()}
	l := newTestLake(t, store, Options{})
	other := newTestLake(t, store, Options{})
	mine := &BatchUsers{Users: []PlanUser{{ID: "u1", Channel: "web"}, {ID: "u2"}}}
	huge := &BatchUsers{Users: []PlanUser{{ID: "u3"}}, Sealed: strings.Repeat("x", keptBatchUsersBytes)}
	users := map[*Plan][]*BatchUsers{}
	planOf := func(id string, batches ...*BatchUsers) *Plan {
		p := testPlan(id)
		p.Batches = nil
		for _, bu := range batches {
			p.Batches = append(p.Batches, PlanBatch{From: "2024-05-01", To: "2024-05-03", Users: len(bu.Users)})
		}
		users[p] = batches
		return p
	}
	mp, op, hp := planOf("plan-1", mine), planOf("plan-2", mine, mine), planOf("plan-3", huge)
	for _, w := range []struct {
		lake *Lake
		plan *Plan
	}{{l, mp}, {other, op}, {l, hp}} {
		var err error
		if w.plan.UsersParts, err = w.lake.WriteBatchUsers(ctx, w.plan.ID, w.plan.Attempt, users[w.plan]); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		plan    *Plan
		batches int
		gets    int64
	}{
		{"written here", mp, 1, 0},
		{"written by another lake, two batches", op, 2, 1},
		{"past the bound, twice", hp, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store.gets.Store(0)
			for i := range tc.batches {
				got, err := l.ReadBatchUsers(ctx, tc.plan, i%len(tc.plan.Batches))
				if err != nil {
					t.Fatal(err)
				}
				if tc.plan == mp && !reflect.DeepEqual(got, mine) {
					t.Errorf("ReadBatchUsers = %+v; want %+v", got, mine)
				}
			}
			if n := store.gets.Load(); n != tc.gets {
				t.Errorf("reading the users made %d requests, want %d", n, tc.gets)
			}
		})
	}
	for _, p := range []*Plan{mp, op, hp} {
		if err := l.RemoveRun(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.ReadBatchUsers(ctx, mp, 0); err == nil {
		t.Error("the users of a removed run are still read")
	}
	if n := l.batchUsersBytes.Load(); n != 0 {
		t.Errorf("a removed run leaves %d bytes of users objects counted", n)
	}
}

// TestBatchUsersParts: a plan's users go in one object per usersPartBytes or so, whatever its
// number of batches, and each batch reads back as written from a lake that did not write them;
// a plan of format 1 (a chatlake from before) reads its batches' own files.
func TestBatchUsersParts(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	l := newTestLake(t, store, Options{})
	p := testPlan("backfill-parts")
	p.Batches = nil
	var batches []*BatchUsers
	var total int
	for b := range 300 {
		bu := &BatchUsers{}
		for u := range 50 {
			bu.Users = append(bu.Users, PlanUser{ID: fmt.Sprintf("user-%06d-%03d-%s", b, u, strings.Repeat("i", 40)), Channel: "web"})
		}
		batches = append(batches, bu)
		p.Batches = append(p.Batches, PlanBatch{From: "2024-05-01", To: "2024-05-03", Users: len(bu.Users)})
		total += 50 * 80
	}
	var err error
	if p.UsersParts, err = l.WriteBatchUsers(ctx, p.ID, p.Attempt, batches); err != nil {
		t.Fatal(err)
	}
	var objs []storage.Object
	if err := storage.Walk(ctx, store, attemptDir(p.ID, p.Attempt), func(page []storage.Object) error {
		objs = append(objs, page...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := total/usersPartBytes + 1; len(objs) != len(p.UsersParts) || len(objs) < 2 || len(objs) > want+1 {
		t.Errorf("%d users objects (parts %v) for %d bytes of users, want %d or so", len(objs), p.UsersParts, total, want)
	}
	for _, o := range objs {
		if o.Size > usersPartBytes+4096 {
			t.Errorf("%s is %d bytes, past %d", o.Name, o.Size, usersPartBytes)
		}
	}
	fresh := newTestLake(t, store, Options{})
	for b := len(batches) - 1; b >= 0; b-- {
		got, err := fresh.ReadBatchUsers(ctx, p, b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, batches[b]) {
			t.Fatalf("batch %d reads back as %+v", b, got.Users[:1])
		}
	}
	if _, err := fresh.ReadBatchUsers(ctx, p, len(batches)); err == nil {
		t.Error("a batch past the plan's reads back")
	}

	old := testPlan("backfill-old")
	old.Format = planFormatBatchFiles
	for b := range old.Batches {
		bu := &BatchUsers{Users: batches[b].Users[:old.Batches[b].Users]}
		data, err := json.Marshal(bu)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.put(ctx, batchUsersPath(old.ID, old.Attempt, b), data); err != nil {
			t.Fatal(err)
		}
		got, err := fresh.ReadBatchUsers(ctx, old, b)
		if err != nil || !reflect.DeepEqual(got, bu) {
			t.Errorf("batch %d of a format-1 plan reads back as %+v, %v", b, got, err)
		}
	}
}
