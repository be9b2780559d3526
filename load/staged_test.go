package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// stagedRows writes rows as a staged file, made into record batches as a Stage makes them (a
// rowWriter, for tests and benchmarks that start from rows).
type stagedRows struct {
	bb batchBuilder
	sw *stagedWriter
}

func newStagedRows(w io.Writer, mem memory.Allocator, codec stagedCodec) (*stagedRows, error) {
	sw, err := newStagedWriter(w, mem, codec)
	if err != nil {
		return nil, err
	}
	r := &stagedRows{sw: sw}
	r.bb = newBatchBuilder(mem, spillBatchRows, spillBatchBytes, recordWriterFunc(sw.write))
	return r, nil
}

type recordWriterFunc func(arrow.RecordBatch) error

func (f recordWriterFunc) Write(rec arrow.RecordBatch) error { return f(rec) }

func (r *stagedRows) write(rows []schema.Message) error {
	for i := range rows {
		if err := r.bb.add(&rows[i]); err != nil {
			return err
		}
	}
	return nil
}

func (r *stagedRows) close() error {
	err := r.bb.writeBatch()
	r.bb.release()
	if err != nil {
		r.sw.abort()
		return err
	}
	return r.sw.close()
}

func (r *stagedRows) abort() { r.bb.release(); r.sw.abort() }

func (r *stagedRows) size() int64 { return r.sw.size() }

// readStaged decodes a staged Arrow IPC object with a plain arrow-go reader (as any Arrow
// library would) and returns its rows and the number of rows of each record batch.
func readStaged(t *testing.T, s storage.Store, name string) ([]schema.Message, []int64) {
	t.Helper()
	data, _, err := s.Get(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ipc.NewFileReader(bytes.NewReader(data), ipc.WithAllocator(memory.NewGoAllocator()))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer r.Close()
	var rows []schema.Message
	var sizes []int64
	for i := range r.NumRecords() {
		rec, err := r.RecordBatch(i)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, rec.NumRows())
		if rows, err = schema.AppendMessages(rows, rec); err != nil {
			t.Fatal(err)
		}
	}
	return rows, sizes
}

// TestStagedRoundTrip: StageBatch writes each day's rows, in the order they were staged, as an
// Arrow IPC file any Arrow reader reads, from a stage that held them in memory or spilled them;
// Merge publishes them.
func TestStagedRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		memory int64
	}{{"held", 0}, {"spilled", -1}} {
		t.Run(tc.name, func(t *testing.T) { testStagedRoundTrip(t, tc.memory) })
	}
}

func testStagedRoundTrip(t *testing.T, stageMemory int64) {
	ctx := context.Background()
	const day1, day2 = "2024-05-01", "2024-05-02"
	store := newMemStore()
	l := newTestLake(t, store, Options{RowGroupRows: 300, StageMemory: stageMemory})
	want1 := testDay(day1, 0, 2*spillBatchRows+100) // more than a record batch
	want2 := testDay(day2, 0, 7)
	s := stage(t, l, want1, want2)
	if spilled := s.Dir() != ""; spilled != (stageMemory < 0) {
		t.Fatalf("the stage spilled: %v, want %v", spilled, stageMemory < 0)
	}
	st, err := l.StageBatch(ctx, "plan-1", "a1", 3, s, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if st.Days != 2 || st.Rows != int64(len(want1)+len(want2)) {
		t.Errorf("stats %+v", st)
	}
	var bytes int64
	for _, tc := range []struct {
		day  string
		want []schema.Message
	}{{day1, want1}, {day2, want2}} {
		name := stagedPath("plan-1", "a1", tc.day, 3)
		if !strings.HasSuffix(name, "/attempts/a1/staged/dt="+tc.day+"/batch-000003.arrow") {
			t.Errorf("staged file %s", name)
		}
		got, sizes := readStaged(t, store, name)
		if !reflect.DeepEqual(sortByKey(got), sortByKey(tc.want)) {
			t.Errorf("%s: rows differ; first difference: %s", tc.day, firstDiff(sortByKey(got), sortByKey(tc.want)))
		}
		for _, n := range sizes {
			if n > spillBatchRows {
				t.Errorf("%s: a record batch of %d rows, more than %d", tc.day, n, spillBatchRows)
			}
		}
		// In the order the rows were added (the merge sorts each row group it writes).
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: rows are not in the order they were staged", tc.day)
		}
		obj, err := store.Stat(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		bytes += obj.Size
	}
	if st.Bytes != bytes {
		t.Errorf("stats say %d bytes, the objects have %d", st.Bytes, bytes)
	}

	// Merge publishes them.
	for _, d := range []string{day1, day2} {
		if _, err := l.Merge(ctx, d, MergeInput{Plan: "plan-1", Attempt: "a1", Replace: func(string) bool { return true }, RunID: "run-1"}); err != nil {
			t.Fatal(err)
		}
	}
	var got []schema.Message
	for _, rows := range readPartition(t, store, day1) {
		got = append(got, rows...)
	}
	if !reflect.DeepEqual(sortByKey(got), sortByKey(want1)) {
		t.Errorf("published rows differ from staged: %s", firstDiff(sortByKey(got), sortByKey(want1)))
	}
}

// TestStagedCodecs: the reader takes every compression the writer knows, whatever
// stagedCompression is.
func TestStagedCodecs(t *testing.T) {
	want := testDay("2024-05-02", 0, 300)
	for _, c := range []stagedCodec{stagedUncompressed, stagedLZ4, stagedZstd} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		var buf bytes.Buffer
		w, err := newStagedRows(&buf, mem, c)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.write(slices.Clone(want)); err != nil {
			t.Fatal(err)
		}
		if err := w.close(); err != nil {
			t.Fatal(err)
		}
		mem.AssertSize(t, 0)
		if w.size() != int64(buf.Len()) {
			t.Errorf("codec %d: size %d, wrote %d", c, w.size(), buf.Len())
		}
		d, err := newIPCDecoder(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		var got []schema.Message
		for {
			if got, err = d.decode(got); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
		d.close()
		if !reflect.DeepEqual(sortByKey(got), sortByKey(want)) {
			t.Errorf("codec %d: %s", c, firstDiff(sortByKey(got), sortByKey(want)))
		}
	}
}

// TestStagedCorrupt: a staged file that does not decode fails the merge with an error that
// names the object, and the partition is left as it was.
func TestStagedCorrupt(t *testing.T) {
	ctx := context.Background()
	const day = "2024-05-02"
	good := func() []byte {
		store := newMemStore()
		l := newTestLake(t, store, Options{})
		if _, err := l.StageBatch(ctx, "p", "a1", 0, stage(t, l, testDay(day, 0, 500)), "run-x"); err != nil {
			t.Fatal(err)
		}
		data, _, err := store.Get(ctx, stagedPath("p", "a1", day, 0))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}()
	flip := func(data []byte, at int) []byte {
		data = slices.Clone(data)
		for i := at; i < min(at+64, len(data)); i++ {
			data[i] ^= 0xa5
		}
		return data
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"not arrow", []byte("PAR1 certainly not an Arrow file, but long enough to have a footer")},
		{"cut", good[:len(good)/2]},
		{"footer damaged", flip(good, len(good)-80)},
		{"body damaged", flip(good, len(good)/3)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := newMemStore()
			l := newTestLake(t, store, Options{})
			publish(t, l, []string{day}, "run-1", testDay(day, 0, 100))
			before := snapshot(t, store, partitionDir(day))
			if _, err := l.StageBatch(ctx, "plan-2", "a1", 0, stage(t, l, testDay(day, 100, 200)), "run-2"); err != nil {
				t.Fatal(err)
			}
			name := stagedPath("plan-2", "a1", day, 1)
			if err := l.put(ctx, name, tc.data); err != nil {
				t.Fatal(err)
			}
			_, err := l.Merge(ctx, day, MergeInput{Plan: "plan-2", Attempt: "a1", Replace: func(string) bool { return true }, RunID: "run-2"})
			if err == nil {
				// A damaged body can still decode (the IPC format has no checksums); the rows
				// must then be whole rows of the day, or the merge fails on them.
				if tc.name != "body damaged" {
					t.Fatal("merge of a corrupt staged file succeeded")
				}
				return
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not name %s", err, name)
			}
			if tc.name != "body damaged" && !errors.Is(err, errCorruptStaged) {
				t.Errorf("error %q is not errCorruptStaged", err)
			}
			if after := snapshot(t, store, partitionDir(day)); !reflect.DeepEqual(after, before) {
				t.Error("the partition changed")
			}
		})
	}
}

// TestStagedLegacyParquet: a plan staged by a binary before this format (Parquet staged files,
// batch-NNNNNN.parquet) still publishes after an upgrade, beside batches staged since.
func TestStagedLegacyParquet(t *testing.T) {
	ctx := context.Background()
	const day = "2024-05-02"
	store := newMemStore()
	l := newTestLake(t, store, Options{TargetFileSize: 8 << 10, RowGroupRows: 500})
	old, fresh := testDay(day, 0, 700), testDay(day, 700, 1000)
	legacy := stagedDir("plan-1", "a1", day) + "batch-000000.parquet"
	if sf, err := l.writeRows(ctx, &sliceSource{rows: slices.Clone(old)}, day, legacy, "run-old"); err != nil || sf.rows != 700 {
		t.Fatalf("legacy staged file: %+v, %v", sf, err)
	}
	if _, err := l.StageBatch(ctx, "plan-1", "a1", 1, stage(t, l, fresh), "run-1"); err != nil {
		t.Fatal(err)
	}
	objs, err := l.stagedFiles(ctx, "plan-1", "a1", day)
	if err != nil {
		t.Fatal(err)
	}
	var exts []string
	for _, o := range objs {
		exts = append(exts, path.Ext(o.Name))
	}
	if !slices.Equal(exts, []string{".parquet", ".arrow"}) {
		t.Fatalf("staged files %v", objs)
	}
	st, err := l.Merge(ctx, day, MergeInput{Plan: "plan-1", Attempt: "a1", Replace: func(string) bool { return true }, RunID: "run-1"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Staged != 1000 || st.Rows != 1000 {
		t.Errorf("stats %+v, want 1000 rows staged and published", st)
	}
	var got []schema.Message
	for _, rows := range readPartition(t, store, day) {
		got = append(got, rows...)
	}
	want := append(slices.Clone(old), fresh...)
	if !reflect.DeepEqual(sortByKey(got), sortByKey(want)) {
		t.Errorf("published rows differ: %s", firstDiff(sortByKey(got), sortByKey(want)))
	}
	// The shard count counts the legacy file's Parquet bytes as they are, the new one's as
	// estimated.
	m, err := l.Manifest(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	var est int64
	for _, o := range objs {
		est += parquetEstimate(o)
	}
	if want := int((est + 8<<10 - 1) / (8 << 10)); m.Shards != want || want < 2 {
		t.Errorf("shards %d, want %d (estimate %d bytes)", m.Shards, want, est)
	}
}

// TestStagedLegacyRestaged: a batch staged as Parquet by a binary before, then staged again
// after the upgrade (it had no done record), has both files: its rows are published once.
func TestStagedLegacyRestaged(t *testing.T) {
	ctx := context.Background()
	const day = "2024-05-02"
	store := newMemStore()
	l := newTestLake(t, store, Options{})
	rows, other := testDay(day, 0, 300), testDay(day, 300, 400)
	for _, f := range []struct {
		batch int
		rows  []schema.Message
	}{{2, rows}, {1, other}} {
		name := stagedDir("plan-1", "a1", day) + fmt.Sprintf("batch-%06d.parquet", f.batch)
		if _, err := l.writeRows(ctx, &sliceSource{rows: slices.Clone(f.rows)}, day, name, "run-old"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.StageBatch(ctx, "plan-1", "a1", 2, stage(t, l, rows), "run-1"); err != nil {
		t.Fatal(err)
	}
	st, err := l.Merge(ctx, day, MergeInput{Plan: "plan-1", Attempt: "a1", Replace: func(string) bool { return true }, RunID: "run-1"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Staged != 400 || st.Rows != 400 {
		t.Errorf("stats %+v, want 400 rows staged and published", st)
	}
}

func TestParquetEstimate(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int64
		want int64
	}{
		{"_chatlake/runs/p/staged/dt=2024-05-02/batch-000001.arrow", 3000, 3000 / stagedToParquet},
		{"_chatlake/runs/p/staged/dt=2024-05-02/batch-000001.parquet", 3000, 3000},
	} {
		if got := parquetEstimate(storage.Object{Name: tc.name, Size: tc.size}); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
