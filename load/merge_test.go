package load

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// invariantStore checks, after every Move and Delete in a partition of the messages table,
// what a reader globbing that partition would see at that instant: every Parquet file reads
// whole, and no message_key is in two files (or twice in one).
type invariantStore struct {
	storage.Store
	t      testing.TB
	mu     sync.Mutex
	checks int
}

func (s *invariantStore) Move(ctx context.Context, src, dst string) (storage.Object, error) {
	o, err := s.Store.Move(ctx, src, dst)
	s.check(dst)
	return o, err
}

func (s *invariantStore) Delete(ctx context.Context, name string) error {
	err := s.Store.Delete(ctx, name)
	s.check(name)
	return err
}

func (s *invariantStore) check(name string) {
	if !strings.HasPrefix(name, messagesPrefix) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks++
	dir := name[:strings.LastIndexByte(name, '/')+1]
	objs, err := s.Store.List(context.Background(), dir)
	if err != nil {
		s.t.Errorf("list %s: %v", dir, err)
		return
	}
	seen := map[string]string{}
	for _, o := range objs {
		if !strings.HasSuffix(o.Name, ".parquet") {
			continue
		}
		rows, err := readMessages(s.Store, o.Name)
		if err != nil {
			s.t.Errorf("after a change of %s, %s does not read whole: %v", name, o.Name, err)
			continue
		}
		for _, r := range rows {
			if other, dup := seen[r.MessageKey]; dup {
				s.t.Errorf("after a change of %s, key %s is in %s and %s", name, r.MessageKey, other, o.Name)
			}
			seen[r.MessageKey] = o.Name
		}
	}
}

// rowsOfUsers keeps the rows whose user keep accepts.
func rowsOfUsers(rows []schema.Message, keep func(string) bool) []schema.Message {
	var out []schema.Message
	for _, r := range rows {
		if keep(r.ChannelUserID) {
			out = append(out, r)
		}
	}
	return out
}

// partitionRows is every row of a day's partition, sorted by key.
func partitionRows(t testing.TB, s storage.Store, day string) []schema.Message {
	t.Helper()
	var all []schema.Message
	for _, rows := range readPartition(t, s, day) {
		all = append(all, rows...)
	}
	return sortByKey(all)
}

// merge stages rows as batch 0 of plan and merges day, replacing the users replace accepts.
func merge(t testing.TB, l *Lake, day, plan string, replace func(string) bool, rows []schema.Message) PublishStats {
	t.Helper()
	ctx := context.Background()
	s := stage(t, l, rows)
	idx, _, err := l.stageBatch(ctx, plan, "a1", 0, s)
	if err != nil {
		t.Fatal(err)
	}
	st, err := l.Merge(ctx, day, MergeInput{Plan: plan, Attempt: "a1", Replace: replace, RunID: "run-" + plan, Staged: []*StagedBatch{idx}})
	if err != nil {
		t.Fatalf("merge %s: %v", day, err)
	}
	if err := l.RemoveRun(ctx, plan); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestMergeReplacesOnlyTheRunsUsers(t *testing.T) {
	const day = "2024-05-02"
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			inv := &invariantStore{Store: b.new(t), t: t}
			l := newTestLake(t, inv, Options{TargetFileSize: 4 << 10, RowGroupRows: 100})
			old := testDay(day, 0, 600)
			publish(t, l, []string{day}, "run-1", old)
			m, err := l.Manifest(context.Background(), day)
			if err != nil || m.Shards < 3 {
				t.Fatalf("manifest %+v, %v: the test needs several shards", m, err)
			}

			// A run over a subset of users: the even users, with new content for them.
			even := func(u string) bool { return u[len(u)-1]%2 == 0 }
			fresh := rowsOfUsers(testDay(day, 1000, 1400), even)
			st := merge(t, l, day, "plan-2", even, fresh)

			want := sortByKey(append(rowsOfUsers(old, func(u string) bool { return !even(u) }), fresh...))
			got := partitionRows(t, inv, day)
			if !reflect.DeepEqual(keysOfRows(got), keysOfRows(want)) {
				t.Fatalf("partition has %d rows, want %d (the odd users' old rows and the even users' new ones)", len(got), len(want))
			}
			for i := range got {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("row %s differs:\ngot  %+v\nwant %+v", got[i].MessageKey, got[i], want[i])
				}
			}
			if wantOut := int64(len(rowsOfUsers(old, even))); st.Replaced != wantOut || st.Staged != int64(len(fresh)) {
				t.Errorf("stats %+v, want %d replaced and %d staged", st, wantOut, len(fresh))
			}
			m2, _ := l.Manifest(context.Background(), day)
			if m2.Shards != m.Shards || !m2.Complete || m2.Plan != "plan-2@a1" {
				t.Errorf("manifest after merge %+v", m2)
			}
			if rep, err := l.Verify(context.Background(), day, day); err != nil || !rep.OK() {
				t.Errorf("verify: %+v, %v", rep, err)
			}

			// A user set that matches nobody in the partition leaves every file as it was.
			before := snapshot(t, inv, partitionDir(day))
			st = merge(t, l, day, "plan-3", func(u string) bool { return u == "nobody" }, nil)
			if after := snapshot(t, inv, partitionDir(day)); !reflect.DeepEqual(after, before) {
				t.Errorf("a merge that replaces nobody changed files: %+v", st)
			}
			if inv.checks == 0 {
				t.Error("the invariant store checked nothing")
			}
		})
	}
}

func keysOfRows(rows []schema.Message) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.MessageKey
	}
	return out
}

func TestMergeRefusesStagedRowsOfKeptUsers(t *testing.T) {
	const day = "2024-05-02"
	ctx := context.Background()
	l := newTestLake(t, newMemStore(), Options{})
	publish(t, l, []string{day}, "run-1", testDay(day, 0, 20))
	before := snapshot(t, l.store, partitionDir(day))
	s := stage(t, l, testDay(day, 100, 110))
	idx, _, err := l.stageBatch(ctx, "plan-x", "a1", 0, s)
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Merge(ctx, day, MergeInput{Plan: "plan-x", Attempt: "a1", Replace: func(string) bool { return false }, RunID: "run-x", Staged: []*StagedBatch{idx}})
	if err == nil || !strings.Contains(err.Error(), "does not replace") {
		t.Fatalf("err = %v, want a refusal of staged rows of a kept user", err)
	}
	if after := snapshot(t, l.store, partitionDir(day)); !reflect.DeepEqual(after, before) {
		t.Error("a refused merge changed the partition")
	}
}

func TestMergeSkipsADayItsPlanPublished(t *testing.T) {
	const day = "2024-05-02"
	ctx := context.Background()
	l := newTestLake(t, newMemStore(), Options{})
	s := stage(t, l, testDay(day, 0, 20))
	idx, _, err := l.stageBatch(ctx, "plan-1", "a1", 0, s)
	if err != nil {
		t.Fatal(err)
	}
	all := func(string) bool { return true }
	if st, err := l.Merge(ctx, day, MergeInput{Plan: "plan-1", Attempt: "a1", Replace: all, RunID: "run-1", Staged: []*StagedBatch{idx}}); err != nil || st.Days != 1 {
		t.Fatalf("first merge %+v, %v", st, err)
	}
	before := snapshot(t, l.store, "")
	st, err := l.Merge(ctx, day, MergeInput{Plan: "plan-1", Attempt: "a1", Replace: all, RunID: "run-2", Staged: []*StagedBatch{idx}})
	if err != nil || st.Skipped != 1 || st.Days != 0 {
		t.Fatalf("second merge of the same plan %+v, %v: want it skipped", st, err)
	}
	if after := snapshot(t, l.store, ""); !reflect.DeepEqual(after, before) {
		t.Error("the skipped merge changed the lake")
	}
}

func TestForget(t *testing.T) {
	ctx := context.Background()
	days := []string{"2024-05-01", "2024-05-02", "2024-05-03"}
	inv := &invariantStore{Store: newMemStore(), t: t}
	l := newTestLake(t, inv, Options{TargetFileSize: 4 << 10, RowGroupRows: 100})
	var rows [][]schema.Message
	for _, d := range days {
		rows = append(rows, testDay(d, 0, 300))
	}
	publish(t, l, days, "run-1", rows...)
	users := []schema.User{{ChannelUserID: "919000000005", AttributesJSON: "{}", RunID: "r"},
		{ChannelUserID: "919000000006", AttributesJSON: "{}", RunID: "r"}}
	must(t, l.WriteUsers(ctx, "2024-05-04", "plan-1", UsersOf(users), "run-1"))
	must(t, l.WriteUsers(ctx, "2024-05-05", "plan-2", UsersOf(users[1:]), "run-1"))
	before2 := snapshot(t, inv, usersDir("2024-05-05"))

	gone := map[string]bool{"919000000005": true, "919000000011": true}
	drop := func(u string) bool { return gone[u] }
	ms, err := l.ForgetMessages(ctx, drop, "run-forget")
	if err != nil {
		t.Fatal(err)
	}
	us, err := l.ForgetUsers(ctx, drop, "run-forget")
	if err != nil {
		t.Fatal(err)
	}
	var removed int64
	for i, d := range days {
		want := sortByKey(rowsOfUsers(rows[i], func(u string) bool { return !drop(u) }))
		removed += int64(len(rows[i]) - len(want))
		got := partitionRows(t, inv, d)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %d rows after forget, want %d, the others identical", d, len(got), len(want))
		}
	}
	if ms.Messages != removed || ms.Partitions != len(days) || us.UsersRows != 1 || us.UsersFiles != 1 {
		t.Errorf("stats %+v %+v, want %d messages in %d partitions and 1 users row", ms, us, removed, len(days))
	}
	if ids, _ := readUserIDs(t, inv, usersPath("2024-05-04", "plan-1")); !slices.Equal(ids, []string{"919000000006"}) {
		t.Errorf("users left: %v", ids)
	}
	if after := snapshot(t, inv, usersDir("2024-05-05")); !reflect.DeepEqual(after, before2) {
		t.Error("a users file without the users was rewritten")
	}
	if rep, err := l.Verify(ctx, days[0], days[len(days)-1]); err != nil || !rep.OK() {
		t.Errorf("verify: %+v, %v", rep, err)
	}
	if inv.checks == 0 {
		t.Error("the invariant store checked nothing")
	}
}
