package load

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

	for _, bu := range []*BatchUsers{
		{Users: []PlanUser{{ID: "u1", Channel: "web"}, {ID: "u2"}}},
		{Users: []PlanUser{{ID: "p1"}}, Sealed: "c2VhbGVk"},
	} {
		if err := l.WriteBatchUsers(ctx, "backfill-x", "run-a", 1, bu); err != nil {
			t.Fatal(err)
		}
		back, err := l.ReadBatchUsers(ctx, "backfill-x", "run-a", 1)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, bu) {
			t.Errorf("ReadBatchUsers = %+v, want %+v", back, bu)
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
		{"later format", `{"format": 2, "id": "backfill-y"}`, "format 2 is not known"},
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

// getCounter counts the whole-object reads of a store.
type getCounter struct {
	*memStore
	gets atomic.Int64
}

func (c *getCounter) Get(ctx context.Context, name string) ([]byte, string, error) {
	c.gets.Add(1)
	return c.memStore.Get(ctx, name)
}

// TestDoneRecordsKept: the done records a process wrote are read back without a request; one
// another process wrote is read from the store; a removed run's records are not kept.
func TestDoneRecordsKept(t *testing.T) {
	ctx := context.Background()
	store := &getCounter{memStore: newMemStore()}
	l := newTestLake(t, store, Options{})
	other := newTestLake(t, store, Options{})
	mine := &BatchDone{Failed: []FailedUser{{ID: "u1", Error: "boom"}}}
	if err := l.MarkBatchDone(ctx, "plan-1", "a1", 0, mine); err != nil {
		t.Fatal(err)
	}
	if err := other.MarkBatchDone(ctx, "plan-1", "a1", 1, &BatchDone{}); err != nil {
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
	if n := store.gets.Load(); n != 1 {
		t.Errorf("reading the record another lake wrote made %d requests, want 1", n)
	}
	if err := l.RemoveRun(ctx, "plan-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReadBatchDone(ctx, "plan-1", "a1", 0); err == nil {
		t.Error("the record of a removed run is still read")
	}
}

// TestBatchUsersKept: the batch users files a process wrote are read back without a request,
// up to keptBatchUsersBytes of them; one another process wrote, one past the bound, and one of
// a removed run are read from the store.
func TestBatchUsersKept(t *testing.T) {
	ctx := context.Background()
	store := &getCounter{memStore: newMemStore()}
	l := newTestLake(t, store, Options{})
	other := newTestLake(t, store, Options{})
	mine := &BatchUsers{Users: []PlanUser{{ID: "u1", Channel: "web"}, {ID: "u2"}}}
	huge := &BatchUsers{Users: []PlanUser{{ID: "u3"}}, Sealed: strings.Repeat("x", keptBatchUsersBytes)}
	for _, w := range []struct {
		lake  *Lake
		batch int
		users *BatchUsers
	}{{l, 0, mine}, {other, 1, &BatchUsers{}}, {l, 2, huge}} {
		if err := w.lake.WriteBatchUsers(ctx, "plan-1", "a1", w.batch, w.users); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		batch int
		gets  int64
	}{
		{"written here", 0, 0},
		{"written by another lake", 1, 1},
		{"past the bound", 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store.gets.Store(0)
			got, err := l.ReadBatchUsers(ctx, "plan-1", "a1", tc.batch)
			if err != nil {
				t.Fatal(err)
			}
			if tc.batch == 0 && !reflect.DeepEqual(got, mine) {
				t.Errorf("ReadBatchUsers = %+v; want %+v", got, mine)
			}
			if n := store.gets.Load(); n != tc.gets {
				t.Errorf("reading the file made %d requests, want %d", n, tc.gets)
			}
		})
	}
	if err := l.RemoveRun(ctx, "plan-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReadBatchUsers(ctx, "plan-1", "a1", 0); err == nil {
		t.Error("the users file of a removed run is still read")
	}
	if n := l.batchUsersBytes.Load(); n != 0 {
		t.Errorf("a removed run leaves %d bytes of users files counted", n)
	}
}
