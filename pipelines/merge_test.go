package pipelines_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"path"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/pipelines"
	"github.com/chatlake/chatlake/sim"
)

// TestSubsetExportKeepsOtherUsers: an export of some users over days in the lake leaves every
// other user's rows exactly as they were, and a selector that matches nobody is refused with
// the lake byte for byte unchanged.
func TestSubsetExportKeepsOtherUsers(t *testing.T) {
	h := newHarness(t, simOptions(21, 40), nil)
	from, to := day(t, "2024-05-01"), day(t, "2024-05-07")
	ctx := context.Background()
	if _, err := h.pipeline(h.client(nil), nil).Export(ctx, from, to); err != nil {
		t.Fatal(err)
	}
	before := h.read()

	// Late messages arrive; then an export of the feedback=2 users only.
	h.clock.Set(h.clock.Now().Add(48 * time.Hour))
	sub := []extract.Selector{{Name: "feedback", Value: "2"}}
	subSum, err := h.pipeline(h.client(nil), func(o *pipelines.Options) { o.Selectors = sub }).Export(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	// Far fewer users than the last run: a warning, not a loss.
	if len(subSum.Warnings) != 1 || !strings.Contains(subSum.Warnings[0], "far fewer than the 40") {
		t.Errorf("warnings %q, want one about far fewer users than the last run's 40", subSum.Warnings)
	}
	inSub := map[string]bool{}
	for _, id := range h.sim.UserIDs([]sim.Selector{{Name: "feedback", Value: "2"}}) {
		inSub[id] = true
	}
	if len(inSub) == 0 || len(inSub) == len(h.sim.UserIDs(nil)) {
		t.Fatalf("the subset has %d users: the test needs a proper subset", len(inSub))
	}
	var wantOthers []lakecheck.Row
	for _, r := range before {
		if !inSub[r.ChannelUserID] {
			wantOthers = append(wantOthers, r)
		}
	}
	var gotOthers, gotSub []lakecheck.Row
	for _, r := range h.read() {
		if inSub[r.ChannelUserID] {
			gotSub = append(gotSub, r)
		} else {
			gotOthers = append(gotOthers, r)
		}
	}
	if !reflect.DeepEqual(sortRows(gotOthers), sortRows(wantOthers)) {
		t.Fatalf("the other users' rows changed: %d before, %d after", len(wantOthers), len(gotOthers))
	}
	if diff := lakecheck.Compare(gotSub, h.sim.Truth([]sim.Selector{{Name: "feedback", Value: "2"}}, from, to.AddDate(0, 0, 1), h.clock.Now())); diff != "" {
		t.Fatalf("the subset's rows are not its truth now: %s", diff)
	}

	// A typo: a selector that matches nobody.
	snap := lakeBytes(t, h.store)
	typo := []extract.Selector{{Name: "feedbak", Value: "1"}}
	_, err = h.pipeline(h.client(nil), func(o *pipelines.Options) { o.Selectors = typo }).Export(ctx, from, to)
	if !errors.Is(err, pipelines.ErrBadInput) || !strings.Contains(err.Error(), "feedbak=1") {
		t.Fatalf("error %v, want bad input naming the selector", err)
	}
	if after := lakeBytes(t, h.store); !reflect.DeepEqual(after, snap) {
		t.Fatalf("a refused export changed the lake: %d objects before, %d after", len(snap), len(after))
	}
}

func sortRows(rows []lakecheck.Row) []lakecheck.Row {
	slices.SortFunc(rows, func(a, b lakecheck.Row) int { return strings.Compare(a.MessageKey, b.MessageKey) })
	return rows
}

// lakeBytes is every object of the store with its content.
func lakeBytes(t *testing.T, s storage.Store) map[string]string {
	t.Helper()
	objs, err := s.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, o := range objs {
		data, _, err := s.Get(context.Background(), o.Name)
		if err != nil {
			t.Fatal(err)
		}
		out[o.Name] = string(data)
	}
	return out
}

// TestRequestsForAnyRange: a 120-day backfill at defaults costs at most 1.02 x the minimum
// conversations requests (one query per user and 500 messages), and the nightly run after it
// needs no --from and costs one query per user.
func TestRequestsForAnyRange(t *testing.T) {
	so := simOptions(23, 60)
	so.To = time.Date(2024, 8, 29, 0, 0, 0, 0, time.UTC)
	h := newHarness(t, so, nil)
	from, to := day(t, "2024-05-01"), day(t, "2024-08-28")
	before := h.sim.Stats().ByEndpoint[sim.EndpointConversations]
	sum, err := h.pipeline(h.client(nil), nil).Backfill(context.Background(), from, to, false)
	if err != nil {
		t.Fatal(err)
	}
	got := h.sim.Stats().ByEndpoint[sim.EndpointConversations] - before
	minimum := h.sim.MinRequests(nil, from, to.AddDate(0, 0, 1), h.clock.Now(), 500) - len(h.sim.Selectors())
	t.Logf("120-day backfill: %d conversations requests, minimum %d (%d requeries)", got, minimum, sum.Requeries)
	if float64(got) > 1.02*float64(minimum) {
		t.Fatalf("%d conversations requests for 120 days, more than 1.02 x the minimum %d", got, minimum)
	}
	h.check(from, to)

	// The nightly run continues after the backfill: no --from, one query per user.
	h.clock.Set(time.Date(2024, 8, 30, 3, 0, 0, 0, time.UTC))
	before = h.sim.Stats().ByEndpoint[sim.EndpointConversations]
	nsum, err := h.pipeline(h.client(nil), func(o *pipelines.Options) { o.Lookback = 2 }).Nightly(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	nightly := h.sim.Stats().ByEndpoint[sim.EndpointConversations] - before
	users := len(h.sim.UserIDs(nil))
	if nsum.From != "2024-08-27" || nsum.To != "2024-08-29" || nightly > users+nsum.Requeries {
		t.Fatalf("nightly %s..%s with %d conversations requests; want 2024-08-27..2024-08-29 and %d (one per user)",
			nsum.From, nsum.To, nightly, users)
	}
}

// TestForget: the users' rows leave every partition and the users table; every other row is
// identical; the state records the erasure without the ids.
func TestForget(t *testing.T) {
	h := newHarness(t, simOptions(25, 20), nil)
	from, to := day(t, "2024-05-01"), day(t, "2024-05-07")
	ctx := context.Background()
	if _, err := h.pipeline(h.client(nil), nil).Export(ctx, from, to); err != nil {
		t.Fatal(err)
	}
	before := h.read()
	ids := h.sim.UserIDs(nil)
	gone := map[string]bool{ids[1]: true, ids[4]: true}
	p, err := pipelines.New(nil, h.lake, pipelines.Options{Clock: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := p.Forget(ctx, []string{ids[1], ids[4]})
	if err != nil {
		t.Fatal(err)
	}
	var want []lakecheck.Row
	for _, r := range before {
		if !gone[r.ChannelUserID] {
			want = append(want, r)
		}
	}
	if got := h.read(); !reflect.DeepEqual(sortRows(got), sortRows(want)) {
		t.Fatalf("after forget: %d rows, want %d (all others identical)", len(got), len(want))
	}
	if sum.ForgottenMessages != int64(len(before)-len(want)) || sum.ForgottenUsers != 2 {
		t.Errorf("summary forgot %d messages and %d users rows, want %d and 2", sum.ForgottenMessages, sum.ForgottenUsers, len(before)-len(want))
	}
	for name, data := range lakeBytes(t, h.store) {
		if strings.HasPrefix(name, "_chatlake/") && (strings.Contains(data, ids[1]) || strings.Contains(data, ids[4])) {
			t.Errorf("%s still names a forgotten user", name)
		}
	}
	rs, err := lakecheck.Open(t).QueryContext(ctx, "SELECT channel_user_id FROM read_parquet('"+h.dir+"/users/*/*.parquet')")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	nUsers := 0
	for rs.Next() {
		var u string
		if err := rs.Scan(&u); err != nil {
			t.Fatal(err)
		}
		nUsers++
		if gone[u] {
			t.Errorf("the users table still has %s", u)
		}
	}
	if nUsers != len(ids)-2 {
		t.Errorf("the users table has %d users, want %d", nUsers, len(ids)-2)
	}
	st, _ := pipelines.ReadState(ctx, h.lake)
	if len(st.Erasures) != 1 || st.Erasures[0].Users != 2 {
		t.Errorf("state erasures %+v", st.Erasures)
	}
	if rep, err := h.lake.Verify(ctx, "2024-05-01", "2024-05-07"); err != nil || !rep.OK() {
		t.Fatalf("verify after forget: %+v, %v", rep, err)
	}
}

// TestLockRenewedEveryThird: while a run holds the lake, the lease is renewed every third of
// it, so it never runs out while the run lives. The renewal interval is read from the lease's
// expiry times (each renewal sets now + lease), and their median is used, so that a machine
// that starves the renewer for a moment does not make the test fail; a renewal every half of
// the lease does.
func TestLockRenewedEveryThird(t *testing.T) {
	so := simOptions(27, 40)
	so.Faults.Latency = 100 * time.Millisecond // about 5 s of requests, one at a time
	h := newHarness(t, so, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const lease = 3 * time.Second
	var mu sync.Mutex
	var expiries []time.Time
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
			rec, err := h.lake.ReadLock(context.Background())
			if err != nil || rec == nil || len(rec.Holders) == 0 {
				continue
			}
			mu.Lock()
			if exp := rec.Holders[0].Expires; len(expiries) == 0 || !exp.Equal(expiries[len(expiries)-1]) {
				expiries = append(expiries, exp)
			}
			mu.Unlock()
		}
	}()
	p := h.pipeline(h.client(nil), func(o *pipelines.Options) {
		o.LockLease, o.Clock, o.Concurrency = lease, time.Now, 1
	})
	h.clock.Set(time.Now())
	if _, err := p.Export(context.Background(), day(t, "2024-05-01"), day(t, "2024-05-07")); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-watched
	var gaps []time.Duration
	for i := 1; i < len(expiries); i++ {
		gaps = append(gaps, expiries[i].Sub(expiries[i-1]))
	}
	if len(gaps) < 3 {
		t.Fatalf("the lease was seen renewed %d times: the run was too short to tell", len(gaps))
	}
	slices.Sort(gaps)
	if median := gaps[len(gaps)/2]; median > lease*2/5 {
		t.Fatalf("the lease of %s was renewed every %s (median of %d renewals); want every third of it", lease, median, len(gaps))
	}
}

// faultyStore fails the writes of one object after the first n, or lets a hook run first;
// afterGet runs right after each read of the object until it returns true.
type faultyStore struct {
	storage.Store
	name     string
	after    int
	n        atomic.Int64
	onWrite  func(ctx context.Context, s storage.Store)
	afterGet func(ctx context.Context, s storage.Store) bool
	got      atomic.Bool
}

func (f *faultyStore) Get(ctx context.Context, name string) ([]byte, string, error) {
	data, v, err := f.Store.Get(ctx, name)
	if name == f.name && f.afterGet != nil && !f.got.Load() && f.afterGet(ctx, f.Store) {
		f.got.Store(true)
	}
	return data, v, err
}

var errFault = errors.New("injected fault")

func (f *faultyStore) PutIf(ctx context.Context, name string, data []byte, ifVersion string) (string, error) {
	if name == f.name {
		if f.n.Add(1) > int64(f.after) {
			if f.onWrite != nil {
				f.onWrite(ctx, f.Store)
			} else {
				return "", errFault
			}
		}
	}
	return f.Store.PutIf(ctx, name, data, ifVersion)
}

// TestLockAndStateFaultsStopTheRun: a renewal that fails stops the run; a state that another
// writer changed since the run read it stops the run; a release never deletes the lock of
// another holder.
func TestLockAndStateFaultsStopTheRun(t *testing.T) {
	t.Run("failed renewal", func(t *testing.T) {
		so := simOptions(28, 20)
		so.Faults.Latency = 40 * time.Millisecond
		h := newHarness(t, so, nil)
		fs := &faultyStore{Store: h.store, name: load.LockPath, after: 1}
		h.lake = mustLake(t, fs)
		p := h.pipeline(h.client(nil), func(o *pipelines.Options) { o.LockLease, o.Clock, o.Concurrency = 3*time.Second, time.Now, 1 })
		h.clock.Set(time.Now())
		_, err := p.Export(context.Background(), day(t, "2024-05-01"), day(t, "2024-05-07"))
		if err == nil || !strings.Contains(err.Error(), "lost the lake's lock") {
			t.Fatalf("error %v, want the run stopped by the lost lock", err)
		}
	})
	t.Run("state changed by another writer", func(t *testing.T) {
		h := newHarness(t, simOptions(29, 10), nil)
		// Another writer changes the state just after this run read it under the lock (the
		// reads before the lock only check that it can be read).
		fs := &faultyStore{Store: h.store, name: load.StatePath, after: 1 << 30,
			afterGet: func(ctx context.Context, s storage.Store) bool {
				if _, _, err := s.Get(ctx, load.LockPath); err != nil {
					return false
				}
				data, v, err := s.Get(ctx, load.StatePath)
				if err != nil {
					data, v = []byte(`{"format":2}`), ""
				}
				if _, err := s.PutIf(ctx, load.StatePath, data, v); err != nil {
					t.Error(err)
				}
				return true
			}}
		h.lake = mustLake(t, fs)
		_, err := h.pipeline(h.client(nil), nil).Export(context.Background(), day(t, "2024-05-01"), day(t, "2024-05-02"))
		if !errors.Is(err, storage.ErrPrecondition) {
			t.Fatalf("error %v, want the lost precondition on the state", err)
		}
	})
	t.Run("release keeps another holder's lock", func(t *testing.T) {
		h := newHarness(t, simOptions(30, 10), nil)
		// Another holder joins the lock while this run works (as another shard would).
		var joined atomic.Bool
		fs := &faultyStore{Store: h.store, name: load.StatePath, after: 0, onWrite: func(ctx context.Context, s storage.Store) {
			if joined.Swap(true) {
				return
			}
			data, v, err := s.Get(ctx, load.LockPath)
			if err != nil {
				t.Error(err)
				return
			}
			var rec load.LockRecord
			if err := json.Unmarshal(data, &rec); err != nil {
				t.Error(err)
				return
			}
			rec.Holders = append(rec.Holders, load.LockHolder{RunID: "other", Host: "elsewhere", PID: 1, Expires: time.Now().Add(time.Hour)})
			data, _ = json.Marshal(rec)
			if _, err := s.PutIf(ctx, load.LockPath, data, v); err != nil {
				t.Error(err)
			}
		}}
		h.lake = mustLake(t, fs)
		if _, err := h.pipeline(h.client(nil), nil).Export(context.Background(), day(t, "2024-05-01"), day(t, "2024-05-02")); err != nil {
			t.Fatal(err)
		}
		rec, err := h.lake.ReadLock(context.Background())
		if err != nil || rec == nil || len(rec.Holders) != 1 || rec.Holders[0].RunID != "other" {
			t.Fatalf("lock after release: %+v, %v; want only the other holder left", rec, err)
		}
	})
}

func mustLake(t *testing.T, s storage.Store) *load.Lake {
	t.Helper()
	l, err := load.NewLake(s, &load.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestOwedRangeAndRunRangeApart: a user owed for early days, and no longer listed, is exported
// over those days by a later run of other days, and the days between the ranges are not touched.
func TestOwedRangeAndRunRangeApart(t *testing.T) {
	h := newHarness(t, simOptions(33, 12), nil)
	ctx := context.Background()
	if _, err := h.pipeline(h.client(nil), nil).Export(ctx, day(t, "2024-05-01"), day(t, "2024-05-07")); err != nil {
		t.Fatal(err)
	}
	victim := h.sim.UserIDs(nil)[1]
	h.failing.Store(&victim)
	c := h.client(func(o *extract.Options) { o.MaxAttempts = 2 })
	if _, err := h.pipeline(c, nil).Export(ctx, day(t, "2024-05-01"), day(t, "2024-05-02")); !errors.Is(err, pipelines.ErrIncomplete) {
		t.Fatalf("error %v, want the victim owed", err)
	}
	gap, err := h.lake.Manifest(ctx, "2024-05-04")
	if err != nil {
		t.Fatal(err)
	}
	h.failing.Store(nil)
	// The later run lists users without the victim (it no longer matches its selectors): the
	// victim is exported over what it owes only, the others over the run's days.
	var others []extract.Selector
	for _, sel := range h.sels {
		if !slices.Contains(h.sim.UserIDs([]sim.Selector{{Name: sel.Name, Value: sel.Value}}), victim) {
			others = append(others, sel)
		}
	}
	sum, err := h.pipeline(h.client(nil), func(o *pipelines.Options) { o.Selectors = others }).Export(ctx, day(t, "2024-05-06"), day(t, "2024-05-07"))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Partitions != 4 {
		t.Errorf("%d partitions published, want 4: the owed 2024-05-01..02 and the run's 2024-05-06..07", sum.Partitions)
	}
	after, err := h.lake.Manifest(ctx, "2024-05-04")
	if err != nil || after.Plan != gap.Plan || !after.WrittenAt.Equal(gap.WrittenAt) {
		t.Errorf("the day between the ranges was published again: %+v -> %+v", gap, after)
	}
	h.check(day(t, "2024-05-01"), day(t, "2024-05-07"))
	if st, _ := pipelines.ReadState(ctx, h.lake); len(st.Owed) != 0 {
		t.Errorf("still owed: %+v", st.Owed)
	}
}

// countingStore counts the objects written under a run's directory, by kind: plan, users,
// staged (parts of their own), done (done objects, with the rows of a batch that fits).
type countingStore struct {
	storage.Store
	mu      sync.Mutex
	written map[string]int
}

func (c *countingStore) count(name string) {
	if !strings.HasPrefix(name, "_chatlake/runs/") {
		return
	}
	kind := "other"
	switch base := path.Base(name); {
	case base == "plan.json":
		kind = "plan"
	case strings.Contains(name, "/staged/"):
		kind = "staged"
	case strings.Contains(name, "/done/"):
		kind = "done"
	case strings.HasPrefix(base, "users-"):
		kind = "users"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.written == nil {
		c.written = map[string]int{}
	}
	c.written[kind]++
}

func (c *countingStore) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.written)
}

func (c *countingStore) Create(ctx context.Context, name string) (storage.Writer, error) {
	c.count(name)
	return c.Store.Create(ctx, name)
}

func (c *countingStore) PutIf(ctx context.Context, name string, data []byte, ifVersion string) (string, error) {
	c.count(name)
	return c.Store.PutIf(ctx, name, data, ifVersion)
}

// TestStagedObjectsPerBatch: a run writes one object per batch, its done object holding its
// rows, whatever its number of days (the bound: batches + staged bytes / 64 MiB + 10), plus its
// plan and one users object; a publish that fails part-way keeps the staged rows of every day
// until the plan is published, and the rerun completes the lake; the published plan leaves no
// object behind.
func TestStagedObjectsPerBatch(t *testing.T) {
	so := simOptions(31, 12)
	so.From = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC) // 68 days
	h := newHarness(t, so, nil)
	cs := &countingStore{Store: h.store}
	fs := &faultyStore{Store: cs, name: "_chatlake/manifests/messages/dt=2024-05-03.json", after: 0}
	h.lake = mustLake(t, fs)
	from, to := day(t, "2024-03-01"), day(t, "2024-05-07")
	opts := func(o *pipelines.Options) { o.ParallelPublish, o.BatchSize = 1, 5 } // 3 batches
	if _, err := h.pipeline(h.client(nil), opts).Export(context.Background(), from, to); !errors.Is(err, errFault) {
		t.Fatalf("error %v, want the injected fault on 2024-05-03's manifest", err)
	}
	want := map[string]int{"plan": 1, "users": 1, "done": 3}
	if got := cs.counts(); !maps.Equal(got, want) {
		t.Errorf("objects written under the run for 3 batches over 68 days: %v, want %v", got, want)
	}
	objs, err := h.store.List(context.Background(), "_chatlake/runs/")
	if err != nil {
		t.Fatal(err)
	}
	done := 0
	for _, o := range objs {
		if strings.Contains(o.Name, "/done/") && o.Size > 10000 {
			done++
		}
	}
	if done != 3 {
		t.Errorf("%d done objects holding rows after a failed publish, want the 3 batches' (%v)", done, objs)
	}
	h.lake = mustLake(t, cs)
	if _, err := h.pipeline(h.client(nil), opts).Export(context.Background(), from, to); err != nil {
		t.Fatal(err)
	}
	h.check(from, to)
	if got := cs.counts(); !maps.Equal(got, want) {
		t.Errorf("objects written under the run in all: %v, want %v: the rerun only publishes", got, want)
	}
	if objs, err := h.store.List(context.Background(), "_chatlake/runs/"); err != nil || len(objs) != 0 {
		t.Errorf("objects of the published run left: %v, %v", objs, err)
	}
}

// cutRemovalStore fails every delete under _chatlake/runs/ once a plan.json was deleted: a
// RemoveRun cut short right after it removed the plan (a kill, or a lost connection).
type cutRemovalStore struct {
	storage.Store
	cut atomic.Bool
}

func (c *cutRemovalStore) Delete(ctx context.Context, name string) error {
	if strings.HasPrefix(name, "_chatlake/runs/") {
		if c.cut.Load() {
			return errFault
		}
		if strings.HasSuffix(name, "/plan.json") {
			c.cut.Store(true)
		}
	}
	return c.Store.Delete(ctx, name)
}

// TestRerunAfterCutRemovalLosesNothing: the same command run again after the removal of its
// finished plan was cut short gets the same plan id; what the old instance left (done records
// whose staged rows were removed when their days were published) must not count for the new
// one, or the new instance would skip those batches and publish their users' rows as empty.
func TestRerunAfterCutRemovalLosesNothing(t *testing.T) {
	h := newHarness(t, simOptions(62, 16), nil)
	from, to := day(t, "2024-05-01"), day(t, "2024-05-05")
	opts := func(o *pipelines.Options) { o.BatchSize = 4 }
	cs := &cutRemovalStore{Store: h.store}
	h.lake = mustLake(t, cs)
	if _, err := h.pipeline(h.client(nil), opts).Export(context.Background(), from, to); err != nil {
		t.Fatal(err)
	}
	objs, err := h.store.List(context.Background(), "_chatlake/runs/")
	if err != nil {
		t.Fatal(err)
	}
	done := 0
	for _, o := range objs {
		if strings.Contains(o.Name, "/done/") {
			done++
		}
	}
	if !cs.cut.Load() || done == 0 {
		t.Fatalf("the removal was not cut with done records left (cut %v, %d done records)", cs.cut.Load(), done)
	}
	h.lake = mustLake(t, h.store)
	sum, err := h.pipeline(h.client(nil), opts).Export(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	if sum.BatchesDone != sum.Batches {
		t.Errorf("the rerun extracted %d of its %d batches: it took the old instance's records for its own", sum.BatchesDone, sum.Batches)
	}
	h.check(from, to)
}
