package icetable_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/load/icetable"
)

// rawSchema is a small messages-like schema: a nested list, a millisecond UTC timestamp.
func rawSchema(extra ...arrow.Field) *arrow.Schema {
	fields := []arrow.Field{
		{Name: "message_key", Type: arrow.BinaryTypes.String},
		{Name: "user_id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "sent_at", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
		{Name: "options", Type: arrow.ListOfNonNullable(arrow.BinaryTypes.String), Nullable: true},
	}
	return arrow.NewSchema(append(fields, extra...), nil)
}

// fieldSchema is rawSchema with field ids, as the caller writes its files.
func fieldSchema(t *testing.T, extra ...arrow.Field) *arrow.Schema {
	t.Helper()
	sc, err := icetable.FieldIDs(rawSchema(extra...))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// lake is one test's catalog file and warehouse directory.
type lake struct {
	dir     string
	catalog string // the --catalog URI
	ns      string // the namespace ("": the default)
	ware    string // warehouse directory
}

// forEachCatalog runs test on a SQLite catalog, on a PostgreSQL one and on a Glue one (moto).
func forEachCatalog(t *testing.T, test func(t *testing.T, newLake func(*testing.T) lake)) {
	t.Run("sqlite", func(t *testing.T) { test(t, newLake) })
	t.Run("postgres", func(t *testing.T) { test(t, postgres(t).newLake) })
	t.Run("glue", func(t *testing.T) { test(t, glue(t)) })
}

func newLake(t *testing.T) lake {
	dir := t.TempDir()
	return lake{dir: dir, catalog: "sqlite:" + filepath.Join(dir, "cat", "catalog.db"), ware: filepath.Join(dir, "warehouse")}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func (l lake) open(t *testing.T) *icetable.Catalog {
	t.Helper()
	c, err := icetable.Open(context.Background(), icetable.Config{URI: l.catalog, Namespace: l.ns, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

func (l lake) location(name string) string { return "file://" + filepath.Join(l.ware, name) }

func (l lake) table(t *testing.T, c *icetable.Catalog, name string) *icetable.Table {
	t.Helper()
	tbl, err := c.Table(context.Background(), name, l.location(name), fieldSchema(t), "sent_at")
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// writeFile writes rows Parquet rows of day (YYYY-MM-DD) into the table's data directory under a
// unique name and returns the File to commit.
func (l lake) writeFile(t *testing.T, tableName, name, day string, rows int) icetable.File {
	t.Helper()
	sc := fieldSchema(t)
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	d, err := time.Parse("2006-01-02", day)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("%s-%d", name, i))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("u%d", i%3))
		ts := d.Add(time.Duration(i) * time.Minute)
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(ts.UnixMicro()))
		lb := b.Field(3).(*array.ListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.StringBuilder).Append("a")
	}
	rec := b.NewRecordBatch()
	defer rec.Release()

	dir := filepath.Join(l.ware, tableName, "data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(sc, f, parquet.NewWriterProperties(parquet.WithAllocator(mem)),
		pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem)))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil { // closes f too
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return icetable.File{Path: "file://" + path, Day: day, Rows: int64(rows), Bytes: st.Size()}
}

// sortFiles sorts by path, for comparisons.
func sortFiles(fs []icetable.File) []icetable.File {
	out := slices.Clone(fs)
	slices.SortFunc(out, func(a, b icetable.File) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// snapshotJSON is read_snapshot.py's output for one snapshot.
type snapshotJSON struct {
	SnapshotID *int64            `json:"snapshot_id"`
	ParentID   *int64            `json:"parent_id"`
	Summary    map[string]string `json:"summary"`
	Files      []struct {
		Path      string         `json:"path"`
		Records   int64          `json:"record_count"`
		Bytes     int64          `json:"file_size_in_bytes"`
		Partition map[string]any `json:"partition"`
	} `json:"files"`
	Manifests int `json:"manifests"` // data and delete manifests of the manifest list
}

// allJSON is read_snapshot.py --all's output.
type allJSON struct {
	Current   *int64         `json:"current_snapshot_id"`
	Snapshots []snapshotJSON `json:"snapshots"`
}

// readSnapshot runs the independent reader (lakecheck's read_snapshot.py) on the table's
// current metadata file.
func readSnapshot(t *testing.T, metadata string, out any, all bool) {
	t.Helper()
	var args []string
	if all {
		args = append(args, "--all")
	}
	lakecheck.ReadIceberg(t, out, append(args, metadata)...)
}

// readerFiles converts the reader's files to Files (Day from the sent_at_day partition).
func readerFiles(t *testing.T, s snapshotJSON) []icetable.File {
	t.Helper()
	out := make([]icetable.File, 0, len(s.Files))
	for _, f := range s.Files {
		day, ok := f.Partition["sent_at_day"].(string)
		if !ok {
			t.Fatalf("file %s: partition %v has no sent_at_day day", f.Path, f.Partition)
		}
		out = append(out, icetable.File{Path: f.Path, Day: day, Rows: f.Records, Bytes: f.Bytes})
	}
	return sortFiles(out)
}
