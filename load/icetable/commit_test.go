package icetable_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/chatlake/chatlake/load/icetable"
)

// checkFiles compares the table's Files and the independent reader's view of the current
// snapshot with want, and the reader's summary with the plan.
func checkFiles(t *testing.T, tbl *icetable.Table, want []icetable.File, plan string) {
	t.Helper()
	got, err := tbl.Files(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sortFiles(got), sortFiles(want)) {
		t.Errorf("Files = %+v\nwant %+v", sortFiles(got), sortFiles(want))
	}
	cur, ok := tbl.Current()
	if !ok {
		t.Fatal("no current snapshot")
	}
	var s snapshotJSON
	readSnapshot(t, cur.MetadataLocation, &s, false)
	if s.SnapshotID == nil || *s.SnapshotID != cur.ID {
		t.Errorf("reader's snapshot %v, Current %d", s.SnapshotID, cur.ID)
	}
	if r := readerFiles(t, s); !reflect.DeepEqual(r, sortFiles(want)) {
		t.Errorf("read_snapshot.py files = %+v\nwant %+v", r, sortFiles(want))
	}
	if s.Summary["chatlake.plan"] != plan || cur.Summary["chatlake.plan"] != plan {
		t.Errorf("summary plan: reader %q, Current %q, want %q", s.Summary["chatlake.plan"], cur.Summary["chatlake.plan"], plan)
	}
	var rows int64
	for _, f := range want {
		rows += f.Rows
	}
	if cur.Records != rows || cur.DataFiles != int64(len(want)) {
		t.Errorf("Current: %d records in %d files, want %d in %d", cur.Records, cur.DataFiles, rows, len(want))
	}
}

func TestCommitAddThenReplace(t *testing.T) { forEachCatalog(t, testCommitAddThenReplace) }

func testCommitAddThenReplace(t *testing.T, newLake func(*testing.T) lake) {
	l := newLake(t)
	ctx := context.Background()
	tbl := l.table(t, l.open(t), "messages")
	f1 := l.writeFile(t, "messages", "f1", "2024-03-01", 5)
	f2 := l.writeFile(t, "messages", "f2", "2024-03-01", 3)
	f3 := l.writeFile(t, "messages", "f3", "2024-03-02", 4)
	f4 := l.writeFile(t, "messages", "f4", "2024-03-01", 6)
	f5 := l.writeFile(t, "messages", "f5", "2024-02-29", 1)

	steps := []struct {
		name        string
		remove, add []icetable.File
		plan        string
		want        []icetable.File
	}{
		{"add only", nil, []icetable.File{f1, f2, f3}, "p1@1", []icetable.File{f1, f2, f3}},
		{"replace", []icetable.File{{Path: f1.Path}}, []icetable.File{f4, f5}, "p2@1", []icetable.File{f2, f3, f4, f5}},
		{"remove only", []icetable.File{f2}, nil, "p3@2", []icetable.File{f3, f4, f5}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := tbl.Commit(ctx, st.remove, st.add, map[string]string{"chatlake.plan": st.plan}); err != nil {
				t.Fatal(err)
			}
			checkFiles(t, tbl, st.want, st.plan)
		})
	}

	before, _ := tbl.Current()
	if err := tbl.Commit(ctx, nil, nil, map[string]string{"chatlake.plan": "empty"}); err != nil {
		t.Fatal(err)
	}
	if after, _ := tbl.Current(); after.ID != before.ID {
		t.Errorf("an empty commit made snapshot %d", after.ID)
	}

	// Committed sees the current snapshot and its ancestors, through a fresh catalog handle.
	other := l.table(t, l.open(t), "messages")
	for _, tc := range []struct {
		value string
		want  bool
	}{{"p1@1", true}, {"p2@1", true}, {"p3@2", true}, {"p3@1", false}, {"empty", false}} {
		got, err := other.Committed(ctx, "chatlake.plan", tc.value)
		if err != nil || got != tc.want {
			t.Errorf("Committed(%s) = %v, %v; want %v", tc.value, got, err, tc.want)
		}
	}
	checkFiles(t, other, []icetable.File{f3, f4, f5}, "p3@2")

	// Adding a file the table already has is refused.
	if err := tbl.Commit(ctx, nil, []icetable.File{f3}, nil); err == nil {
		t.Error("a commit added a live file twice")
	}
	if err := tbl.Commit(ctx, nil, []icetable.File{{Path: f3.Path + "x", Day: "March 1st", Rows: 1, Bytes: 1}}, nil); err == nil {
		t.Error("a commit accepted a bad day")
	}
}

// Two writers on one catalog file: the second commits from metadata older than the first's
// commit.
func TestCommitConflict(t *testing.T) { forEachCatalog(t, testCommitConflict) }

func testCommitConflict(t *testing.T, newLake func(*testing.T) lake) {
	cases := []struct {
		name     string
		remove   string // which of f1..f3 the second writer removes
		conflict bool
	}{
		{"removes the file the first writer replaced", "f1", true},
		{"removes another file", "f2", false},
		{"adds only", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLake(t)
			ctx := context.Background()
			a := l.table(t, l.open(t), "messages")
			files := map[string]icetable.File{}
			for i, name := range []string{"f1", "f2", "f3", "f4", "f5"} {
				files[name] = l.writeFile(t, "messages", name, "2024-03-0"+string(rune('1'+i%2)), 2+i)
			}
			if err := a.Commit(ctx, nil, []icetable.File{files["f1"], files["f2"], files["f3"]}, map[string]string{"chatlake.plan": "p1"}); err != nil {
				t.Fatal(err)
			}
			b := l.table(t, l.open(t), "messages") // another process's handle, loaded now
			if err := a.Commit(ctx, []icetable.File{files["f1"]}, []icetable.File{files["f4"]}, map[string]string{"chatlake.plan": "a"}); err != nil {
				t.Fatal(err)
			}
			var remove []icetable.File
			if tc.remove != "" {
				remove = []icetable.File{files[tc.remove]}
			}
			err := b.Commit(ctx, remove, []icetable.File{files["f5"]}, map[string]string{"chatlake.plan": "b"})
			if tc.conflict {
				if !errors.Is(err, icetable.ErrConflict) {
					t.Fatalf("second commit = %v, want ErrConflict", err)
				}
				if ok, _ := b.Committed(ctx, "chatlake.plan", "b"); ok {
					t.Error("the conflicting commit landed")
				}
				checkFiles(t, b, []icetable.File{files["f2"], files["f3"], files["f4"]}, "a")
				return
			}
			if err != nil {
				t.Fatalf("second commit: %v", err)
			}
			want := []icetable.File{files["f2"], files["f3"], files["f4"], files["f5"]}
			if tc.remove == "f2" {
				want = want[1:]
			}
			checkFiles(t, b, want, "b")
			if ok, _ := a.Committed(ctx, "chatlake.plan", "a"); !ok {
				t.Error("the first writer's snapshot is no longer an ancestor")
			}
		})
	}
}

// Writers in parallel, each with its own catalog connection to one SQLite file (as separate
// processes would be), plus two goroutines sharing one handle: every append lands, once.
func TestCommitConcurrentWriters(t *testing.T) { forEachCatalog(t, testCommitConcurrentWriters) }

func testCommitConcurrentWriters(t *testing.T, newLake func(*testing.T) lake) {
	l := newLake(t)
	ctx := context.Background()
	l.table(t, l.open(t), "messages")
	shared := l.table(t, l.open(t), "messages")
	const writers = 4
	handles := make([]*icetable.Table, writers)
	var want []icetable.File
	files := make([]icetable.File, writers)
	for i := range writers {
		if i < 2 {
			handles[i] = shared
		} else {
			handles[i] = l.table(t, l.open(t), "messages")
		}
		files[i] = l.writeFile(t, "messages", fmt.Sprintf("w%d", i), "2024-03-01", i+1)
		want = append(want, files[i])
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			errs[i] = handles[i].Commit(ctx, nil, []icetable.File{files[i]}, map[string]string{"chatlake.plan": fmt.Sprintf("w%d", i)})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	check := l.table(t, l.open(t), "messages")
	all, err := check.AllFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != writers {
		t.Errorf("%d snapshots, want %d", len(all), writers)
	}
	cur, _ := check.Current()
	checkFiles(t, check, want, cur.Summary["chatlake.plan"])
}
