package icetable_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatlake/chatlake/load/icetable"
)

func exists(t *testing.T, f icetable.File) bool {
	t.Helper()
	_, err := os.Stat(strings.TrimPrefix(f.Path, "file://"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return err == nil
}

func paths(fs ...icetable.File) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return out
}

func TestExpire(t *testing.T) { forEachCatalog(t, testExpire) }

func testExpire(t *testing.T, newLake func(*testing.T) lake) {
	l := newLake(t)
	ctx := context.Background()
	tbl := l.table(t, l.open(t), "messages")
	f := map[string]icetable.File{}
	for _, name := range []string{"f1", "f2", "f3", "f4", "f5", "f6"} {
		f[name] = l.writeFile(t, "messages", name, "2024-03-01", 2)
	}
	commit := func(remove, add []icetable.File, plan string) {
		t.Helper()
		if err := tbl.Commit(ctx, remove, add, map[string]string{"chatlake.plan": plan}); err != nil {
			t.Fatal(err)
		}
	}
	if deleted, err := tbl.ExpireAll(ctx); err != nil || len(deleted) != 0 {
		t.Fatalf("ExpireAll of a table without snapshots = %v, %v", deleted, err)
	}
	commit(nil, []icetable.File{f["f1"], f["f2"]}, "s1")
	commit([]icetable.File{f["f1"]}, []icetable.File{f["f3"]}, "s2")
	time.Sleep(300 * time.Millisecond)
	commit(nil, []icetable.File{f["f5"]}, "s3")

	// Nothing is older than an hour.
	if deleted, err := tbl.Expire(ctx, time.Hour); err != nil || len(deleted) != 0 {
		t.Fatalf("Expire(1h) = %v, %v", deleted, err)
	}
	// s1 and s2 are older than 200ms; f1 was only theirs; f2 and f3 are live.
	deleted, err := tbl.Expire(ctx, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if want := paths(f["f1"]); !reflect.DeepEqual(deleted, want) {
		t.Errorf("Expire(200ms) deleted %v, want %v", deleted, want)
	}
	all, err := tbl.AllFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 {
		t.Errorf("after Expire(200ms): %d snapshots, want 1 (s3)", len(all))
	}

	commit([]icetable.File{f["f3"]}, []icetable.File{f["f6"]}, "s4")
	all, err = tbl.AllFiles(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("AllFiles = %v, %v; want 2 snapshots", all, err)
	}
	deleted, err = tbl.ExpireAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := paths(f["f3"]); !reflect.DeepEqual(deleted, want) {
		t.Errorf("ExpireAll deleted %v, want %v", deleted, want)
	}
	for name, want := range map[string]bool{"f1": false, "f2": true, "f3": false, "f4": true, "f5": true, "f6": true} {
		if got := exists(t, f[name]); got != want {
			t.Errorf("%s exists: %v, want %v", name, got, want)
		}
	}

	// The independent reader sees one snapshot, the current one, whose manifests all exist.
	cur, _ := tbl.Current()
	var a allJSON
	readSnapshot(t, cur.MetadataLocation, &a, true)
	if len(a.Snapshots) != 1 || a.Current == nil || *a.Current != cur.ID || *a.Snapshots[0].SnapshotID != cur.ID {
		t.Fatalf("reader sees snapshots %+v, current %v; want only %d", a.Snapshots, a.Current, cur.ID)
	}
	if got, want := readerFiles(t, a.Snapshots[0]), sortFiles([]icetable.File{f["f2"], f["f5"], f["f6"]}); !reflect.DeepEqual(got, want) {
		t.Errorf("reader's files %+v, want %+v", got, want)
	}
	checkFiles(t, tbl, []icetable.File{f["f2"], f["f5"], f["f6"]}, "s4")
	if ok, err := tbl.Committed(ctx, "chatlake.plan", "s3"); err != nil || ok {
		t.Errorf("Committed(s3) after ExpireAll = %v, %v; want false (expired)", ok, err)
	}
}

func TestDeleteOrphans(t *testing.T) { forEachCatalog(t, testDeleteOrphans) }

func testDeleteOrphans(t *testing.T, newLake func(*testing.T) lake) {
	l := newLake(t)
	ctx := context.Background()
	tbl := l.table(t, l.open(t), "messages")
	live := l.writeFile(t, "messages", "live", "2024-03-01", 2)
	oldOrphan := l.writeFile(t, "messages", "old-orphan", "2024-03-01", 2)
	newOrphan := l.writeFile(t, "messages", "new-orphan", "2024-03-01", 2)
	if err := tbl.Commit(ctx, nil, []icetable.File{live}, map[string]string{"chatlake.plan": "p"}); err != nil {
		t.Fatal(err)
	}
	// Everything the commit and the files wrote is two days old, but the new orphan.
	past := time.Now().Add(-48 * time.Hour)
	err := filepath.WalkDir(l.ware, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == strings.TrimPrefix(newOrphan.Path, "file://") {
			return err
		}
		return os.Chtimes(path, past, past)
	})
	if err != nil {
		t.Fatal(err)
	}
	deleted, err := tbl.DeleteOrphans(ctx, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := paths(oldOrphan); !reflect.DeepEqual(deleted, want) {
		t.Errorf("DeleteOrphans deleted %v, want %v", deleted, want)
	}
	for f, want := range map[*icetable.File]bool{&live: true, &oldOrphan: false, &newOrphan: true} {
		if got := exists(t, *f); got != want {
			t.Errorf("%s exists: %v, want %v", f.Path, got, want)
		}
	}
	checkFiles(t, tbl, []icetable.File{live}, "p") // the metadata is intact
}
