package load

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/chatlake/chatlake/load/icetable"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// newIcebergLake is a lake of Iceberg tables on a local directory, its catalog a SQLite file
// beside it.
func newIcebergLake(t *testing.T, o Options) (*Lake, *storage.Local) {
	t.Helper()
	store := newLocalStore(t)
	o.Catalog = &icetable.Config{URI: "sqlite:" + filepath.Join(t.TempDir(), "catalog.db")}
	l := newTestLake(t, store, o)
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l, store
}

// currentRows reads the rows of the messages table's current snapshot, by day, from the files
// it lists.
func currentRows(t *testing.T, l *Lake) map[string][]schema.Message {
	t.Helper()
	tbl, err := l.table(context.Background(), schema.MessagesTable)
	if err != nil {
		t.Fatal(err)
	}
	files, err := tbl.Files(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]schema.Message{}
	seen := map[string]bool{}
	for _, f := range files {
		if seen[f.Path] {
			t.Errorf("data file %s listed twice", f.Path)
		}
		seen[f.Path] = true
		name, err := l.objectName(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		rows := readFile(t, l.store, name)
		if int64(len(rows)) != f.Rows {
			t.Errorf("%s: %d rows, the metadata says %d", name, len(rows), f.Rows)
		}
		out[f.Day] = append(out[f.Day], rows...)
	}
	return out
}

func snapshotCount(t *testing.T, l *Lake, table string) int {
	t.Helper()
	tbl, err := l.table(context.Background(), table)
	if err != nil {
		t.Fatal(err)
	}
	all, err := tbl.AllFiles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}

func TestIcebergPublish(t *testing.T) {
	ctx := context.Background()
	days := []string{"2024-05-01", "2024-05-02", "2024-05-03"}
	l, store := newIcebergLake(t, Options{TargetFileSize: 4 << 10, RowGroupRows: 500})
	var first []schema.Message
	for _, d := range days {
		first = append(first, testDay(d, 0, 600)...)
	}
	st := publish(t, l, days, "run-1", first)
	if st.Days != 3 || st.Staged != 1800 || st.Added != 1800 || st.Files < 6 {
		t.Errorf("first publish stats = %+v", st)
	}
	if n := snapshotCount(t, l, schema.MessagesTable); n != 1 {
		t.Errorf("%d snapshots after one publish of 3 days, want 1", n)
	}
	got := currentRows(t, l)
	for _, d := range days {
		if g, w := sortByKey(got[d]), sortByKey(testDay(d, 0, 600)); !reflect.DeepEqual(g, w) {
			t.Errorf("day %s: %d rows: %s", d, len(g), firstDiff(g, w))
		}
	}

	// The data files are Iceberg's: every column has its field id, timestamps are microseconds,
	// and the names are the run's own.
	tbl, err := l.table(ctx, schema.MessagesTable)
	if err != nil {
		t.Fatal(err)
	}
	files, err := tbl.Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	name, _ := l.objectName(files[0].Path)
	checkIcebergParquet(t, store, name)
	for _, f := range files {
		if !strings.Contains(f.Path, "/messages/data/dt="+f.Day+"/") || !strings.HasSuffix(f.Path, "-run-1.parquet") {
			t.Errorf("data file %s of day %s: not of the layout", f.Path, f.Day)
		}
	}

	// Late messages of one day and one user gone from another: one more snapshot, only the
	// changed shards replaced, the old files kept for time travel.
	gone := testDay(days[1], 0, 600)[5].ChannelUserID
	var second []schema.Message
	second = append(second, testDay(days[0], 0, 900)...)
	for _, m := range testDay(days[1], 0, 600) {
		if m.ChannelUserID != gone {
			second = append(second, m)
		}
	}
	second = append(second, testDay(days[2], 0, 600)...)
	st = publish(t, l, days, "run-2", second)
	if st.Added != 300 || st.Replaced != 1800 {
		t.Errorf("second publish stats = %+v", st)
	}
	if n := snapshotCount(t, l, schema.MessagesTable); n != 2 {
		t.Errorf("%d snapshots after two publishes, want 2", n)
	}
	got = currentRows(t, l)
	want := map[string]int{days[0]: 900, days[1]: 600 - len(userRows(testDay(days[1], 0, 600), gone)), days[2]: 600}
	for d, n := range want {
		if len(got[d]) != n {
			t.Errorf("day %s: %d rows, want %d", d, len(got[d]), n)
		}
		if d == days[1] && len(userRows(got[d], gone)) != 0 {
			t.Errorf("day %s still holds user %s", d, gone)
		}
	}
	for _, f := range files { // the first snapshot's files are still there
		name, _ := l.objectName(f.Path)
		if _, err := store.Stat(ctx, name); err != nil {
			t.Errorf("a file of the retained snapshot: %v", err)
		}
	}
	// Day 3 was published with the same rows: its shards were kept, not rewritten.
	files2, err := tbl.Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files2 {
		if f.Day == days[2] && !strings.HasSuffix(f.Path, "-run-1.parquet") {
			t.Errorf("unchanged day rewritten: %s", f.Path)
		}
	}
	if rep, err := l.Verify(ctx, "", ""); err != nil || !rep.OK() || rep.Rows != int64(len(second)) {
		t.Errorf("verify = %+v, %v", rep, err)
	}
	if ds, err := l.Days(ctx); err != nil || !slices.Equal(ds, days) {
		t.Errorf("days = %v, %v", ds, err)
	}
}

func userRows(rows []schema.Message, user string) []schema.Message {
	var out []schema.Message
	for _, m := range rows {
		if m.ChannelUserID == user {
			out = append(out, m)
		}
	}
	return out
}

// checkIcebergParquet checks a data file's Parquet schema: field ids on every column and
// TIMESTAMP(MICROS, isAdjustedToUTC=true).
func checkIcebergParquet(t *testing.T, store *storage.Local, name string) {
	t.Helper()
	path, err := store.LocalPath(name)
	if err != nil {
		t.Fatal(err)
	}
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sc := r.MetaData().Schema
	for i := range sc.NumColumns() {
		c := sc.Column(i)
		if c.SchemaNode().FieldID() <= 0 {
			t.Errorf("%s: column %s has no field id", name, c.Path())
		}
	}
	sent := sc.Column(sc.ColumnIndexByName("sent_at"))
	if lt := sent.LogicalType().String(); !strings.Contains(lt, "microseconds") || !strings.Contains(lt, "isAdjustedToUTC=true") {
		t.Errorf("%s: sent_at is %s, want microseconds adjusted to UTC", name, lt)
	}
}

func TestIcebergCommitOnce(t *testing.T) {
	ctx := context.Background()
	const day = "2024-05-02"
	l, _ := newIcebergLake(t, Options{})
	s := stage(t, l, testDay(day, 0, 100))
	idx, _, err := l.stageBatch(ctx, "plan-a", "a1", 0, s)
	if err != nil {
		t.Fatal(err)
	}
	in := func(pub *Publication) MergeInput {
		return MergeInput{Plan: "plan-a", Attempt: "a1", Replace: func(string) bool { return true }, RunID: "run-1",
			Staged: []*StagedBatch{idx}, Publication: pub}
	}
	pub, err := l.BeginPublication(ctx, "plan-a", "a1", "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Merge(ctx, day, in(pub)); err != nil {
		t.Fatal(err)
	}
	// Until the commit, the table does not have the day.
	if got := currentRows(t, l); len(got) != 0 {
		t.Fatalf("rows visible before the commit: %d days", len(got))
	}
	if err := pub.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// A publisher that starts again finds its commit landed, and merges nothing.
	again, err := l.BeginPublication(ctx, "plan-a", "a1", "run-2")
	if err != nil {
		t.Fatal(err)
	}
	if !again.Landed() {
		t.Fatal("the plan's commit is not seen as landed")
	}
	if _, err := l.Merge(ctx, day, in(again)); err == nil {
		t.Error("merge into a landed publication: no error")
	}
	if err := again.Commit(ctx); err != nil {
		t.Error(err)
	}
	// A merge without a publication is refused on an Iceberg lake.
	if _, err := l.Merge(ctx, day, in(nil)); err == nil {
		t.Error("merge without a publication: no error")
	}
	// A second publisher of the same instance that did not see the commit fails at its own.
	stale := &Publication{l: l, instance: "plan-a@a1", runID: "run-3", table: again.table, byDay: map[string][]TableFile{}}
	stale.add = []TableFile{{Path: l.objectURI(icebergPartitionDir(day) + "x.parquet"), Day: day, Rows: 1, Bytes: 1}}
	if err := stale.Commit(ctx); !errors.Is(err, ErrConcurrentWrite) {
		t.Errorf("commit of a landed instance = %v, want ErrConcurrentWrite", err)
	}
	if got := currentRows(t, l); len(got[day]) != 100 {
		t.Errorf("%d rows, want 100", len(got[day]))
	}
}

func TestIcebergForget(t *testing.T) {
	ctx := context.Background()
	days := []string{"2024-05-01", "2024-05-02"}
	l, store := newIcebergLake(t, Options{TargetFileSize: 4 << 10})
	rows := append(testDay(days[0], 0, 400), testDay(days[1], 0, 400)...)
	publish(t, l, days, "run-1", rows)
	publish(t, l, days, "run-2", append(testDay(days[0], 0, 500), testDay(days[1], 0, 400)...))
	if err := l.WriteUsers(ctx, days[1], "plan-u", UsersOf([]schema.User{
		{CustomerID: "42", BotKey: "b", ChannelUserID: rows[3].ChannelUserID, AttributesJSON: "{}", RunID: "r", ExtractedAt: mustDay(t, days[1])},
		{CustomerID: "42", BotKey: "b", ChannelUserID: "keep", AttributesJSON: "{}", RunID: "r", ExtractedAt: mustDay(t, days[1])},
	}), "run-u"); err != nil {
		t.Fatal(err)
	}
	// A file a killed publisher left, recent: a commit keeps it (it may be a live writer's);
	// an erasure removes it.
	orphan := icebergPartitionDir(days[0]) + icebergShardName(0, 1, "run-killed")
	putFile(t, store, orphan, readRaw(t, store, firstFile(t, l, days[0])))

	gone := rows[3].ChannelUserID
	drop := func(id string) bool { return id == gone }
	fs, err := l.ForgetMessages(ctx, drop, "run-f")
	if err != nil {
		t.Fatal(err)
	}
	us, err := l.ForgetUsers(ctx, drop, "run-f")
	if err != nil {
		t.Fatal(err)
	}
	if fs.Messages == 0 || us.UsersRows != 1 {
		t.Errorf("forget stats = %+v, %+v", fs, us)
	}
	for _, table := range []string{schema.MessagesTable, schema.UsersTable} {
		if n := snapshotCount(t, l, table); n != 1 {
			t.Errorf("%s: %d snapshots after forget, want 1", table, n)
		}
	}
	// No file of the lake's tables holds the user: not the current snapshot's, not an old one's,
	// not a killed run's.
	objs, err := store.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var data int
	for _, o := range objs {
		if !strings.HasSuffix(o.Name, ".parquet") || strings.HasPrefix(o.Name, chatlakeDir) {
			continue
		}
		data++
		for _, id := range readColumn(t, store, o.Name, "channel_user_id") {
			if id == gone {
				t.Errorf("%s still holds user %s", o.Name, gone)
				break
			}
		}
	}
	if data == 0 {
		t.Fatal("no data file left")
	}
	if _, err := store.Stat(ctx, orphan); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("the killed run's file is still there: %v", err)
	}
	got := currentRows(t, l)
	if n := len(got[days[0]]) + len(got[days[1]]); int64(n) != 900-fs.Messages {
		t.Errorf("%d rows left, want %d", n, 900-fs.Messages)
	}
}

func TestIcebergOrphans(t *testing.T) {
	ctx := context.Background()
	const day = "2024-05-02"
	l, store := newIcebergLake(t, Options{})
	publish(t, l, []string{day}, "run-1", testDay(day, 0, 50))
	data := readRaw(t, store, firstFile(t, l, day))
	old := icebergPartitionDir(day) + icebergShardName(0, 1, "run-old")
	recent := icebergPartitionDir(day) + icebergShardName(0, 1, "run-recent")
	putFile(t, store, old, data)
	putFile(t, store, recent, data)
	path, _ := store.LocalPath(old)
	past := time.Now().Add(-orphanMinAge - time.Hour)
	if err := os.Chtimes(path, past, past); err != nil {
		t.Fatal(err)
	}
	publish(t, l, []string{day}, "run-2", testDay(day, 0, 60))
	if _, err := store.Stat(ctx, old); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("an unreferenced file older than %s is still there: %v", orphanMinAge, err)
	}
	if _, err := store.Stat(ctx, recent); err != nil {
		t.Errorf("a recent unreferenced file was deleted: %v", err)
	}
}

func TestIcebergUsersRerun(t *testing.T) {
	ctx := context.Background()
	const day = "2024-05-02"
	l, _ := newIcebergLake(t, Options{})
	users := func(ids ...string) UserRows {
		var us []schema.User
		for _, id := range ids {
			us = append(us, schema.User{CustomerID: "42", BotKey: "b", ChannelUserID: id, AttributesJSON: "{}", RunID: "r", ExtractedAt: mustDay(t, day)})
		}
		return UsersOf(us)
	}
	for i, ids := range [][]string{{"a", "b"}, {"a", "b", "c"}} {
		if err := l.WriteUsers(ctx, day, "plan-1", users(ids...), fmt.Sprintf("run-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.WriteUsers(ctx, day, "plan-2", users("d"), "run-3"); err != nil {
		t.Fatal(err)
	}
	tbl, err := l.table(ctx, schema.UsersTable)
	if err != nil {
		t.Fatal(err)
	}
	files, err := tbl.Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for _, f := range files {
		rows += f.Rows
		if f.Day != day {
			t.Errorf("users file %s of day %s", f.Path, f.Day)
		}
	}
	if len(files) != 2 || rows != 4 {
		t.Errorf("users files %v: want plan-1's second file (3 users) and plan-2's (1)", files)
	}
}

func mustDay(t *testing.T, day string) time.Time {
	t.Helper()
	d, err := schema.ParseDay(day)
	if err != nil {
		t.Fatal(err)
	}
	return d.Add(time.Hour)
}

func firstFile(t *testing.T, l *Lake, day string) string {
	t.Helper()
	pub, err := l.BeginPublication(context.Background(), "", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := pub.partition(day)
	if err != nil || len(ps.files) == 0 {
		t.Fatalf("no file of day %s: %v", day, err)
	}
	return ps.files[0].Name
}

func readRaw(t *testing.T, s storage.Store, name string) []byte {
	t.Helper()
	data, _, err := s.Get(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func putFile(t *testing.T, s storage.Store, name string, data []byte) {
	t.Helper()
	w, err := s.Create(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
