package load

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// backends are the stores the key tests run against.
func backends() []struct {
	name string
	new  func(t *testing.T) storage.Store
} {
	return []struct {
		name string
		new  func(t *testing.T) storage.Store
	}{
		{"mem", func(t *testing.T) storage.Store { return newMemStore() }},
		{"local", func(t *testing.T) storage.Store {
			s, err := storage.NewLocal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
	}
}

func TestPublishRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			store := b.new(t)
			l := newTestLake(t, store, Options{RowGroupRows: 300})
			big := testDay("2024-05-02", 0, 1000)
			small := testDay("2024-05-03", 0, 1)
			days := []string{"2024-05-01", "2024-05-02", "2024-05-03"}
			st := publish(t, l, days, "run-1", big[:500], small, big[500:])

			if want := (PublishStats{Days: 3, Files: 2, Rows: 1001}); st.Days != want.Days || st.Files != want.Files || st.Rows != want.Rows || st.Bytes <= 0 {
				t.Errorf("stats = %+v, want %+v and bytes > 0", st, want)
			}
			for _, tc := range []struct {
				day  string
				want []schema.Message
			}{
				{"2024-05-01", nil},
				{"2024-05-02", big},
				{"2024-05-03", small},
			} {
				files := readPartition(t, store, tc.day)
				var got []schema.Message
				for name, rows := range files {
					got = append(got, rows...)
					checkRowGroupOrder(t, name, rows, 300)
					meta := fileMeta(t, store, partitionDir(tc.day)+name)
					if meta[schema.MetaSchemaVersion] != schema.MessagesVersion || meta[metaRunID] != "run-1" {
						t.Errorf("%s metadata = %v", name, meta)
					}
				}
				if !reflect.DeepEqual(sortByKey(got), sortByKey(tc.want)) {
					t.Errorf("%s: read back %d rows, staged %d; first difference: %s", tc.day, len(got), len(tc.want), firstDiff(sortByKey(got), sortByKey(tc.want)))
				}

				m, err := l.Manifest(ctx, tc.day)
				if err != nil {
					t.Fatal(err)
				}
				if !m.Complete || m.Dt != tc.day || m.Table != "messages" || m.RunID != "run-1" || m.SchemaVersion != schema.MessagesVersion || m.Rows != int64(len(tc.want)) || m.Shards != 1 {
					t.Errorf("%s manifest = %+v", tc.day, m)
				}
				if len(m.Files) != len(files) {
					t.Errorf("%s manifest lists %d files, partition has %d", tc.day, len(m.Files), len(files))
				}
				for _, f := range m.Files {
					obj, err := store.Stat(ctx, partitionDir(tc.day)+f.Name)
					if err != nil {
						t.Fatal(err)
					}
					if f.Version != obj.Version || f.Bytes != obj.Size || f.Rows != int64(len(files[f.Name])) {
						t.Errorf("%s manifest file %+v, object %+v with %d rows", tc.day, f, obj, len(files[f.Name]))
					}
				}
				if len(tc.want) > 0 {
					lo, hi := minMaxSent(tc.want)
					if m.MinSentAt == nil || !m.MinSentAt.Equal(lo) || m.MaxSentAt == nil || !m.MaxSentAt.Equal(hi) {
						t.Errorf("%s manifest min/max = %v/%v, want %v/%v", tc.day, m.MinSentAt, m.MaxSentAt, lo, hi)
					}
				} else if m.MinSentAt != nil || m.MaxSentAt != nil || len(m.Files) != 0 {
					t.Errorf("%s empty day manifest = %+v", tc.day, m)
				}
			}
			if got := snapshot(t, store, stagingPrefix); len(got) != 0 {
				t.Errorf("staging left: %v", keys(got))
			}
			gotDays, err := l.Days(ctx)
			if err != nil || !slices.Equal(gotDays, days) {
				t.Errorf("Days() = %v, %v; want %v", gotDays, err, days)
			}
			rep, err := l.Verify(ctx, "", "")
			if err != nil || !rep.OK() || rep.Rows != 1001 || rep.Files != 2 || rep.Days != 3 {
				t.Errorf("verify = %+v, %v", rep, err)
			}
		})
	}
}

// checkRowGroupOrder checks that rows are sorted by (channel_user_id, sent_at, message_key)
// within each run of rowGroupRows rows, and not globally (so the check can fail).
func checkRowGroupOrder(t *testing.T, name string, rows []schema.Message, rowGroupRows int) {
	t.Helper()
	for start := 0; start < len(rows); start += rowGroupRows {
		rg := rows[start:min(start+rowGroupRows, len(rows))]
		if !slices.IsSortedFunc(rg, compareMessages) {
			t.Errorf("%s: row group at %d is not sorted", name, start)
		}
	}
}

func firstDiff(a, b []schema.Message) string {
	for i := range min(len(a), len(b)) {
		if !reflect.DeepEqual(a[i], b[i]) {
			ja, _ := json.Marshal(a[i])
			jb, _ := json.Marshal(b[i])
			return "got " + string(ja) + " want " + string(jb)
		}
	}
	return "lengths differ"
}

func minMaxSent(rows []schema.Message) (lo, hi time.Time) {
	lo, hi = rows[0].SentAt, rows[0].SentAt
	for _, m := range rows {
		if m.SentAt.Before(lo) {
			lo = m.SentAt
		}
		if m.SentAt.After(hi) {
			hi = m.SentAt
		}
	}
	return lo, hi
}

func keys[V any](m map[string]V) []string { return sortedKeys(m) }

func TestPublishIdempotentAndLateMessages(t *testing.T) {
	ctx := context.Background()
	const day = "2024-05-02"
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			store := b.new(t)
			l := newTestLake(t, store, Options{TargetFileSize: 4 << 10, RowGroupRows: 500})
			first := testDay(day, 0, 1200)
			publish(t, l, []string{day}, "run-1", first)
			m1, err := l.Manifest(ctx, day)
			if err != nil {
				t.Fatal(err)
			}
			if m1.Shards < 3 {
				t.Fatalf("want several shards for the test, got %d", m1.Shards)
			}
			files1 := partitionFiles(t, store, day)
			keys1 := keysOf(t, readPartition(t, store, day))

			// The same rows again: the same names, the same keys in each.
			publish(t, l, []string{day}, "run-2", first)
			if got := partitionFiles(t, store, day); !slices.Equal(got, files1) {
				t.Errorf("republish files = %v, want %v", got, files1)
			}
			if got := keysOf(t, readPartition(t, store, day)); !reflect.DeepEqual(got, keys1) {
				t.Errorf("republish moved keys between files")
			}

			// Late messages, four times as many rows: the shard count stays, every old message
			// stays in its file.
			late := testDay(day, 0, 4800)
			publish(t, l, []string{day}, "run-3", late)
			m3, err := l.Manifest(ctx, day)
			if err != nil {
				t.Fatal(err)
			}
			if m3.Shards != m1.Shards || m3.Rows != 4800 {
				t.Errorf("after late messages shards = %d rows = %d, want %d and 4800", m3.Shards, m3.Rows, m1.Shards)
			}
			keys3 := keysOf(t, readPartition(t, store, day))
			if len(keys3) != 4800 {
				t.Errorf("after late messages %d keys, want 4800", len(keys3))
			}
			for k, f := range keys1 {
				if keys3[k] != f {
					t.Errorf("key %s moved from %s to %s", k, f, keys3[k])
				}
			}
			if rep, err := l.Verify(ctx, day, day); err != nil || !rep.OK() {
				t.Errorf("verify = %+v, %v", rep, err)
			}
		})
	}
}

func TestPublishEmptiesDay(t *testing.T) {
	ctx := context.Background()
	const day = "2024-05-02"
	store := newMemStore()
	l := newTestLake(t, store, Options{TargetFileSize: 8 << 10})
	publish(t, l, []string{day}, "run-1", testDay(day, 0, 1000))
	if len(partitionFiles(t, store, day)) < 2 {
		t.Fatal("want several files before emptying")
	}
	st := publish(t, l, []string{day}, "run-2")
	if st.Days != 1 || st.Files != 0 || st.Rows != 0 {
		t.Errorf("stats = %+v", st)
	}
	if got := partitionFiles(t, store, day); len(got) != 0 {
		t.Errorf("files left: %v", got)
	}
	m, err := l.Manifest(ctx, day)
	if err != nil || m.Rows != 0 || len(m.Files) != 0 || !m.Complete {
		t.Errorf("manifest = %+v, %v", m, err)
	}
	// A day published empty first is sized afresh when it gets rows.
	publish(t, l, []string{day}, "run-3", testDay(day, 0, 1000))
	if m, err := l.Manifest(ctx, day); err != nil || m.Shards < 2 {
		t.Errorf("after refill manifest = %+v, %v", m, err)
	}
}

func TestPublishErrors(t *testing.T) {
	const day = "2024-05-02"
	dup := testDay(day, 0, 100)
	dup = append(dup, dup[37])
	tests := []struct {
		name  string
		days  []string
		runID string
		rows  []schema.Message
		want  error // matched with errors.Is; nil means any error
	}{
		{"duplicate key", []string{day}, "run-2", dup, ErrDuplicateKey},
		{"bad day", []string{"2024-5-2"}, "run-2", nil, nil},
		{"bad run id", []string{day}, "../x", testDay(day, 0, 10), nil},
		{"empty run id", []string{day}, "", testDay(day, 0, 10), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := newMemStore()
			l := newTestLake(t, store, Options{TargetFileSize: 16 << 10})
			publish(t, l, []string{day}, "run-1", testDay(day, 0, 500))
			before := snapshot(t, store, "")
			s := stage(t, l, tc.rows)
			_, err := publishStage(l, context.Background(), s, tc.days, tc.runID)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			// The partition and its manifest are as they were (a staged batch file, the run's
			// progress, may stay: a duplicate key is found when the merge reads it).
			after := snapshot(t, store, "")
			maps.DeleteFunc(after, func(name string, _ string) bool { return strings.HasPrefix(name, "_chatlake/runs/") })
			if !reflect.DeepEqual(after, before) {
				t.Errorf("store changed: before %v, after %v", keys(before), keys(after))
			}
		})
	}
}

func TestFileSizing(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	const target = 12 << 10
	l := newTestLake(t, store, Options{TargetFileSize: target, RowGroupRows: 1000})
	days := []string{"2024-05-01", "2024-05-02", "2024-05-03"}
	publish(t, l, days, "run-1", testDay(days[0], 0, 6000), testDay(days[1], 0, 3), testDay(days[2], 0, 40))
	tests := []struct {
		day       string
		minFiles  int
		maxFiles  int
		wantShard int // 0: any
	}{
		{days[0], 4, 100, 0},
		{days[1], 1, 1, 1},
		{days[2], 1, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.day, func(t *testing.T) {
			m, err := l.Manifest(ctx, tc.day)
			if err != nil {
				t.Fatal(err)
			}
			files := readPartition(t, store, tc.day)
			if len(files) < tc.minFiles || len(files) > tc.maxFiles || len(files) > m.Shards {
				t.Errorf("%d files of %d shards, want %d..%d", len(files), m.Shards, tc.minFiles, tc.maxFiles)
			}
			if tc.wantShard != 0 && m.Shards != tc.wantShard {
				t.Errorf("shards = %d, want %d", m.Shards, tc.wantShard)
			}
			for name, rows := range files {
				if len(rows) == 0 {
					t.Errorf("%s is empty", name)
				}
				i, p, ok := parseShardName(name)
				if !ok || p != m.Shards {
					t.Errorf("%s is not a shard of %d", name, m.Shards)
				}
				for _, r := range rows {
					if shardOf(r.MessageKey, p) != i {
						t.Errorf("%s holds key %s of shard %d", name, r.MessageKey, shardOf(r.MessageKey, p))
						break
					}
				}
			}
			for _, f := range m.Files {
				if f.Bytes > 3*target {
					t.Errorf("%s has %d bytes, target %d", f.Name, f.Bytes, target)
				}
			}
		})
	}
}

// TestPublishReplacesForeignFiles: files of another layout are removed, and the shard count of
// files found without a manifest is kept.
func TestPublishReplacesForeignFiles(t *testing.T) {
	ctx := context.Background()
	const day = "2024-05-02"
	store := &invariantStore{Store: newMemStore(), t: t}
	l := newTestLake(t, store, Options{})
	put := func(name string) {
		w, err := store.Create(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("junk"))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Files of other layouts hold real rows (of users the publish replaces: all of them).
	putRows := func(name, d string, from, to int) {
		if _, err := l.writeRows(ctx, &sliceSource{rows: testDay(d, from, to)}, d, name, "old-run"); err != nil {
			t.Fatal(err)
		}
	}
	putRows(partitionDir(day)+"old-layout.parquet", day, 0, 30)
	putRows(partitionDir(day)+"part-00001-of-00002.parquet", day, 100, 130)
	put(stagingPrefix + "crashed-run/" + partitionDir(day) + "part-00000-of-00001.parquet")
	put(stagingPrefix + "crashed-run/" + partitionDir("2024-05-03") + "part-00000-of-00001.parquet")
	publish(t, l, []string{day}, "run-1", testDay(day, 0, 50))
	files := partitionFiles(t, store, day)
	for _, f := range files {
		if _, p, ok := parseShardName(f); !ok || p != 1 {
			t.Errorf("file %s left (all: %v)", f, files)
		}
	}
	staging := keys(snapshot(t, store, stagingPrefix))
	if want := []string{stagingPrefix + "crashed-run/" + partitionDir("2024-05-03") + "part-00000-of-00001.parquet"}; !slices.Equal(staging, want) {
		t.Errorf("staging = %v, want only the other day's leftover %v", staging, want)
	}
	if rep, err := l.Verify(ctx, day, day); err != nil || !rep.OK() {
		t.Errorf("verify = %+v, %v", rep, err)
	}

	// Files of our layout and no manifest: their shard count is kept.
	const day2 = "2024-05-04"
	var shard2 []schema.Message // a file of this layout holds only keys of its shard
	for _, m := range testDay(day2, 0, 30) {
		if shardOf(m.MessageKey, 3) == 2 {
			shard2 = append(shard2, m)
		}
	}
	if _, err := l.writeRows(ctx, &sliceSource{rows: shard2}, day2, partitionDir(day2)+"part-00002-of-00003.parquet", "old-run"); err != nil {
		t.Fatal(err)
	}
	publish(t, l, []string{day2}, "run-2", testDay(day2, 0, 50))
	if m, err := l.Manifest(ctx, day2); err != nil || m.Shards != 3 {
		t.Errorf("manifest = %+v, %v; want 3 shards", m, err)
	}
	if rep, err := l.Verify(ctx, day2, day2); err != nil || !rep.OK() {
		t.Errorf("verify = %+v, %v", rep, err)
	}
}

func TestConcurrentWriteDetected(t *testing.T) {
	ctx := context.Background()
	const day = "2024-05-02"
	store := &racingStore{memStore: newMemStore(), target: manifestPath(day)}
	l := newTestLake(t, store, Options{})
	publish(t, l, []string{day}, "run-1", testDay(day, 0, 20))
	before := snapshot(t, store, messagesPrefix)
	store.armed = true // another writer changes the manifest between our read and our write
	s := stage(t, l, testDay(day, 0, 30))
	if _, err := publishStage(l, ctx, s, []string{day}, "run-2"); !errors.Is(err, ErrConcurrentWrite) {
		t.Fatalf("err = %v, want ErrConcurrentWrite", err)
	}
	if after := snapshot(t, store, messagesPrefix); !reflect.DeepEqual(after, before) {
		t.Errorf("files changed although the manifest write was refused")
	}
}

// racingStore rewrites target just after the first Get of it once armed, as a concurrent run
// would.
type racingStore struct {
	*memStore
	target string
	armed  bool
}

func (s *racingStore) Get(ctx context.Context, name string) ([]byte, string, error) {
	data, v, err := s.memStore.Get(ctx, name)
	if s.armed && name == s.target && err == nil {
		s.armed = false
		if _, err := s.memStore.PutIf(ctx, name, data, v); err != nil {
			return nil, "", err
		}
	}
	return data, v, err
}

func TestWriteUsers(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			store := b.new(t)
			l := newTestLake(t, store, Options{RowGroupRows: 2})
			created := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
			users := []schema.User{
				{CustomerID: "42", BotKey: "0123456789abcdef", ChannelUserID: "919565428256", Channel: ptr("whatsapp"),
					CreatedAt: &created, SourceCreatedAt: ptr("2024-05-01 08:00:00.000+0000"), AttributesJSON: `{"feedback":"1"}`,
					Selectors: []string{"feedback=1"}, RunID: "run-1", ExtractedAt: created.Add(time.Hour)},
				{CustomerID: "42", BotKey: "0123456789abcdef", ChannelUserID: "u2", AttributesJSON: `{}`, RunID: "run-1", ExtractedAt: created},
				{CustomerID: "42", BotKey: "0123456789abcdef", ChannelUserID: "u3", AttributesJSON: `{}`, RunID: "run-1", ExtractedAt: created},
			}
			if err := l.WriteUsers(ctx, "2024-05-03", "plan-1", UsersOf(users), "run-1"); err != nil {
				t.Fatal(err)
			}
			if err := l.WriteUsers(ctx, "2024-05-03", "plan-1", UsersOf(users[:2]), "run-2"); err != nil {
				t.Fatal(err)
			}
			name := "users/snapshot_date=2024-05-03/part-plan-1.parquet"
			ids, meta := readUserIDs(t, store, name)
			if want := []string{"919565428256", "u2"}; !slices.Equal(ids, want) {
				t.Errorf("users = %v, want %v", ids, want)
			}
			if meta[metaRunID] != "run-2" || meta[schema.MetaSchemaVersion] != schema.UsersVersion {
				t.Errorf("metadata = %v", meta)
			}
			if got := snapshot(t, store, stagingPrefix); len(got) != 0 {
				t.Errorf("staging left: %v", keys(got))
			}
			if err := l.WriteUsers(ctx, "2024-05-04", "plan-1", UsersOf(nil), "run-3"); err != nil {
				t.Fatal(err)
			}
			if ids, _ := readUserIDs(t, store, "users/snapshot_date=2024-05-04/part-plan-1.parquet"); len(ids) != 0 {
				t.Errorf("empty snapshot has %v", ids)
			}
			if err := l.WriteUsers(ctx, "May 3", "plan-1", UsersOf(users), "run-1"); err == nil {
				t.Error("bad snapshot date accepted")
			}
		})
	}
}

func readUserIDs(t *testing.T, store storage.Store, name string) ([]string, map[string]string) {
	t.Helper()
	rows := readColumn(t, store, name, "channel_user_id")
	return rows, fileMeta(t, store, name)
}

// TestStagingNamesAreIsolated: the cleanup of one day's staging matches neither another day's
// nor a prefix of it, nor the staging of the run that cleans; the staging area is listed once
// per run (another run adds nothing to it while this one holds the lock).
func TestStagingNamesAreIsolated(t *testing.T) {
	store := newMemStore()
	l := newTestLake(t, store, Options{})
	ctx := context.Background()
	put := func(names ...string) {
		t.Helper()
		for _, n := range names {
			if _, err := store.PutIf(ctx, n, []byte("x"), ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	put(stagingPrefix+"r1/"+partitionDir("2024-05-02")+"a.parquet",
		stagingPrefix+"r1/"+partitionDir("2024-05-20")+"a.parquet",
		stagingPrefix+"r1/users/snapshot_date=2024-05-02/part-00000.parquet",
		stagingPrefix+"r9/"+partitionDir("2024-05-02")+"b.parquet")
	if err := l.cleanStaging(ctx, "r9", "2024-05-02"); err != nil {
		t.Fatal(err)
	}
	got := keys(snapshot(t, store, stagingPrefix))
	want := []string{
		stagingPrefix + "r1/" + partitionDir("2024-05-20") + "a.parquet",
		stagingPrefix + "r1/users/snapshot_date=2024-05-02/part-00000.parquet",
		stagingPrefix + "r9/" + partitionDir("2024-05-02") + "b.parquet",
	}
	if !slices.Equal(got, want) {
		t.Errorf("after cleanup %v, want %v", got, want)
	}
	put(stagingPrefix + "r2/" + partitionDir("2024-05-20") + "c.parquet") // after the listing
	if err := l.cleanStaging(ctx, "r9", "2024-05-20"); err != nil {
		t.Fatal(err)
	}
	got = keys(snapshot(t, store, stagingPrefix))
	want = []string{
		stagingPrefix + "r1/users/snapshot_date=2024-05-02/part-00000.parquet",
		stagingPrefix + "r2/" + partitionDir("2024-05-20") + "c.parquet",
		stagingPrefix + "r9/" + partitionDir("2024-05-02") + "b.parquet",
	}
	if !slices.Equal(got, want) {
		t.Errorf("after the second day's cleanup %v, want %v (one listing a run)", got, want)
	}
}

func TestWriteUsersFaultKeepsOldSnapshot(t *testing.T) {
	ctx := context.Background()
	const name = "users/snapshot_date=2024-05-03/part-plan-1.parquet"
	users := []schema.User{{CustomerID: "42", BotKey: "b", ChannelUserID: "u1", AttributesJSON: "{}", RunID: "run-1"}}
	for _, tc := range []struct {
		name string
		f    faults
	}{
		{"write fails", faults{writeAfter: 100, moveAfter: -1, putIfAfter: -1}},
		{"close fails", faults{failClose: true, moveAfter: -1, putIfAfter: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newFaultStore(newMemStore(), noFaults())
			l := newTestLake(t, store, Options{})
			must(t, l.WriteUsers(ctx, "2024-05-03", "plan-1", UsersOf(users), "run-1"))
			before := snapshot(t, store, "")
			store.set(tc.f)
			more := append(slices.Clone(users), schema.User{ChannelUserID: "u2", AttributesJSON: "{}", RunID: "run-2"})
			if err := l.WriteUsers(ctx, "2024-05-03", "plan-1", UsersOf(more), "run-2"); !errors.Is(err, errInjected) {
				t.Fatalf("err = %v, want the injected fault", err)
			}
			if after := snapshot(t, store, ""); !reflect.DeepEqual(after, before) {
				t.Errorf("store changed: %v", keys(after))
			}
			if ids := readColumn(t, store, name, "channel_user_id"); !slices.Equal(ids, []string{"u1"}) {
				t.Errorf("users = %v", ids)
			}
		})
	}
}
