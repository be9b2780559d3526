package pipelines_test

import (
	"context"
	"testing"

	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
)

// TestExportToCloud exports into a bucket on each cloud store's emulator through its real
// client library (fake-gcs-server, moto's S3 server, Azurite), reads it back with DuckDB, and
// exports again: the same objects, replaced, and the same keys.
func TestExportToCloud(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) storage.Store
		// versionsChange: a rewrite makes a new version. An S3 version is an ETag, the digest
		// of the content, so a rewrite of identical bytes keeps it.
		versionsChange bool
	}{
		{"gcs", func(t *testing.T) storage.Store {
			_, client := storagetest.StartFakeGCS(t, "acme-lake")
			return storage.NewGCS(client, "acme-lake", "chat/prod")
		}, true},
		{"s3", func(t *testing.T) storage.Store {
			_, client := storagetest.StartMoto(t, "acme-lake")
			return storage.NewS3(client, "acme-lake", "chat/prod")
		}, false},
		{"azure", func(t *testing.T) storage.Store {
			_, client := storagetest.StartAzurite(t, "acme-lake")
			return storage.NewAzure(client, "acme-lake", "chat/prod")
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) { testExportToCloud(t, tc.store(t), tc.versionsChange) })
	}
}

func testExportToCloud(t *testing.T, store storage.Store, versionsChange bool) {
	h := newHarness(t, simOptions(17, 20), nil)
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
	if _, err := h.pipeline(h.client(nil), nil).Export(ctx, from, to); err != nil {
		t.Fatal(err)
	}
	second, secondObjs := read()
	sameKeys(t, first, second)
	if len(firstObjs) == 0 {
		t.Fatal("no objects below messages/")
	}
	if len(firstObjs) != len(secondObjs) {
		t.Fatalf("objects %d then %d", len(firstObjs), len(secondObjs))
	}
	for i := range firstObjs {
		if firstObjs[i].Name != secondObjs[i].Name || versionsChange && firstObjs[i].Version == secondObjs[i].Version {
			t.Fatalf("object %s -> %s (version %s -> %s): want the same name, replaced", firstObjs[i].Name, secondObjs[i].Name, firstObjs[i].Version, secondObjs[i].Version)
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
