package pipelines_test

import (
	"context"
	"testing"

	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
)

// TestExportToS3 exports into a bucket on moto's S3 server through the AWS SDK, reads it back
// with DuckDB, and exports again: the same objects and the same keys. (An S3 version is an
// ETag, the digest of the content: a rewrite of identical bytes keeps it, so unlike on GCS
// the versions are not expected to change.)
func TestExportToS3(t *testing.T) {
	h := newHarness(t, simOptions(17, 20), nil)
	_, client := storagetest.StartMoto(t, "acme-lake")
	store := storage.NewS3(client, "acme-lake", "chat/prod")
	lake, err := load.NewLake(store, &load.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	h.lake, h.store = lake, store
	from, to := day(t, "2024-05-01"), day(t, "2024-05-07")
	ctx := context.Background()

	read := func() ([]lakecheck.Row, []storage.Object) {
		dir := t.TempDir()
		if err := lakecheck.Download(ctx, store, dir); err != nil {
			t.Fatal(err)
		}
		rows, err := lakecheck.ReadMessages(ctx, lakecheck.Open(t), dir)
		if err != nil {
			t.Fatal(err)
		}
		if diff := lakecheck.Compare(rows, h.truth(from, to)); diff != "" {
			t.Fatal(diff)
		}
		objs, err := store.List(ctx, "messages/")
		if err != nil {
			t.Fatal(err)
		}
		return rows, objs
	}
	if _, err := h.pipeline(h.client(nil), nil).Export(ctx, from, to); err != nil {
		t.Fatal(err)
	}
	first, firstObjs := read()
	if len(firstObjs) == 0 {
		t.Fatal("no objects below messages/")
	}
	if _, err := h.pipeline(h.client(nil), nil).Export(ctx, from, to); err != nil {
		t.Fatal(err)
	}
	second, secondObjs := read()
	sameKeys(t, first, second)
	if len(firstObjs) != len(secondObjs) {
		t.Fatalf("objects %d then %d", len(firstObjs), len(secondObjs))
	}
	for i := range firstObjs {
		if firstObjs[i].Name != secondObjs[i].Name {
			t.Fatalf("object %s -> %s: want the same name", firstObjs[i].Name, secondObjs[i].Name)
		}
	}
	if staged, _ := store.List(ctx, "_chatlake/staging/"); len(staged) != 0 {
		t.Fatalf("staging left behind: %v", staged)
	}
	rep, err := lake.Verify(ctx, "2024-05-01", "2024-05-07")
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}
