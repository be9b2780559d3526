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
	"github.com/klauspost/compress/s2"
)

// stagedRows writes rows as a staged file, made into record batches as a Stage makes them (a
// rowWriter, for tests and benchmarks that start from rows).
type stagedRows struct {
	bb batchBuilder
	sw *stagedWriter
}

func newStagedRows(w io.Writer, mem memory.Allocator, codec stagedCodec, cols *stagedColumns) (*stagedRows, error) {
	sw, err := newStagedWriter(w, mem, codec, cols)
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

// stagedColumnsFor returns the staged columns of format for rows, which share their constants.
func stagedColumnsFor(t testing.TB, format int, rows []schema.Message) *stagedColumns {
	t.Helper()
	var c batchConstants
	for i := range rows {
		c.add(&rows[i])
	}
	cols, err := newStagedColumns(format, c)
	if err != nil {
		t.Fatal(err)
	}
	return cols
}

// readStaged decodes the staged object of part with plain arrow-go readers (as any Arrow
// library would), its record batches through the staged columns' decoder, and returns its
// rows and the number of rows of each record batch: a part of format 0 or 1 whole, as an
// Arrow IPC file; a part of format 2 day after day, each day's range decompressed by a plain
// S2 stream reader behind the header, as an Arrow IPC stream. A done object holds its record
// after its part's bytes.
func readStaged(t *testing.T, s storage.Store, part StagedPart) ([]schema.Message, []int64) {
	t.Helper()
	data, _, err := s.Get(context.Background(), part.Name)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) < part.Bytes {
		t.Fatalf("%s: %d bytes, the index says %d", part.Name, len(data), part.Bytes)
	}
	data = data[:part.Bytes]
	type recordReader interface {
		Schema() *arrow.Schema
		Next() bool
		RecordBatch() arrow.RecordBatch
		Err() error
	}
	var readers []recordReader
	if part.Format == stagedFormatFramed {
		for _, d := range part.Days {
			stream := io.MultiReader(bytes.NewReader(data[ipcMagicLen:part.Header]),
				s2.NewReader(bytes.NewReader(data[d.Offset:d.Offset+d.Length])), bytes.NewReader(ipcEOS))
			r, err := ipc.NewReader(stream, ipc.WithAllocator(memory.NewGoAllocator()))
			if err != nil {
				t.Fatalf("%s, %s: %v", part.Name, d.Day, err)
			}
			defer r.Release()
			readers = append(readers, r)
		}
	} else {
		r, err := ipc.NewFileReader(bytes.NewReader(data), ipc.WithAllocator(memory.NewGoAllocator()))
		if err != nil {
			t.Fatalf("%s: %v", part.Name, err)
		}
		defer r.Close()
		readers = append(readers, &fileRecords{r: r})
	}
	var rows []schema.Message
	var sizes []int64
	for _, r := range readers {
		cols, err := stagedColumnsOf(part.Format, r.Schema())
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			rec := r.RecordBatch()
			sizes = append(sizes, rec.NumRows())
			dec, err := cols.decode(rec)
			if err != nil {
				t.Fatal(err)
			}
			rows, err = schema.AppendMessages(rows, dec)
			dec.Release()
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return rows, sizes
}

// fileRecords reads the record batches of an Arrow IPC file in order, as ipc.Reader does a
// stream's.
type fileRecords struct {
	r   *ipc.FileReader
	i   int
	rec arrow.RecordBatch
	err error
}

func (f *fileRecords) Schema() *arrow.Schema { return f.r.Schema() }

func (f *fileRecords) Next() bool {
	if f.rec != nil {
		f.rec.Release()
		f.rec = nil
	}
	if f.err != nil || f.i == f.r.NumRecords() {
		return false
	}
	f.rec, f.err = f.r.RecordBatchAt(f.i)
	f.i++
	return f.err == nil
}

func (f *fileRecords) RecordBatch() arrow.RecordBatch { return f.rec }

func (f *fileRecords) Err() error { return f.err }

// TestStagedRoundTrip: stageBatch writes a batch's rows of every day as one object (format 2)
// whose days plain Arrow and S2 readers read, each day's rows in the order they were staged
// and after the day before; the index's range of each day, behind the object's header, is an
// S2 stream of an Arrow IPC stream of that day's rows alone; Merge publishes them. From a stage that held its rows in
// memory or spilled them.
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
	const day1, day2, day3 = "2024-05-01", "2024-05-02", "2024-05-04"
	store := newMemStore()
	l := newTestLake(t, store, Options{RowGroupRows: 300, StageMemory: stageMemory})
	want := map[string][]schema.Message{
		day1: testDay(day1, 0, 2*spillBatchRows+100), // more than a record batch
		day2: testDay(day2, 0, 7),
		day3: testDay(day3, 0, 1),
	}
	s := stage(t, l, want[day2], want[day1], want[day3])
	if spilled := s.Dir() != ""; spilled != (stageMemory < 0) {
		t.Fatalf("the stage spilled: %v, want %v", spilled, stageMemory < 0)
	}
	idx, st, err := l.stageBatch(ctx, "plan-1", "a1", 3, s)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.check("plan-1", "a1", 3); err != nil {
		t.Fatal(err)
	}
	total := int64(len(want[day1]) + len(want[day2]) + len(want[day3]))
	if st.Days != 3 || st.Rows != total {
		t.Errorf("stats %+v", st)
	}
	objs := names(t, store, "_chatlake/runs/")
	if wantObjs := []string{"_chatlake/runs/plan-1/attempts/a1/staged/batch-000003-000.arrow"}; !slices.Equal(objs, wantObjs) {
		t.Fatalf("objects %q, want %q", objs, wantObjs)
	}
	if len(idx.Parts) != 1 || idx.Parts[0].Name != objs[0] {
		t.Fatalf("index %+v", idx)
	}
	part := idx.Parts[0]
	obj, err := store.Stat(ctx, part.Name)
	if err != nil {
		t.Fatal(err)
	}
	if st.Bytes != obj.Size || part.Bytes != obj.Size {
		t.Errorf("stats say %d bytes, the index %d, the object has %d", st.Bytes, part.Bytes, obj.Size)
	}

	// Whole, by a plain Arrow file reader: the days one after the other, each in staged order.
	if part.Format != stagedFormatFramed {
		t.Errorf("staged in format %d, want %d", part.Format, stagedFormatFramed)
	}
	got, sizes := readStaged(t, store, part)
	all := slices.Concat(want[day1], want[day2], want[day3])
	if !reflect.DeepEqual(got, all) {
		t.Errorf("rows differ from the days in order; first difference: %s", firstDiff(got, all))
	}
	for _, n := range sizes {
		if n > spillBatchRows {
			t.Errorf("a record batch of %d rows, more than %d", n, spillBatchRows)
		}
	}
	// Each day alone: its index entry, read as a stream behind the header by a plain reader.
	var days []string
	for _, d := range part.Days {
		days = append(days, d.Day)
		data, _, err := store.Get(ctx, part.Name)
		if err != nil {
			t.Fatal(err)
		}
		stream := segmentStreamOf(data[:part.Header], io.NopCloser(bytes.NewReader(data[d.Offset:d.Offset+d.Length])), part.Format, nil)
		r, err := newStreamDecoder(stream, d.Rows, formatColumns(part.Format))
		if err != nil {
			t.Fatalf("%s: %v", d.Day, err)
		}
		var rows []schema.Message
		for {
			if rows, err = decodeRows(r, rows); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", d.Day, err)
			}
		}
		r.close()
		if !reflect.DeepEqual(rows, want[d.Day]) || d.Rows != int64(len(rows)) {
			t.Errorf("%s: %d rows in its range (index says %d), want %d as staged", d.Day, len(rows), d.Rows, len(want[d.Day]))
		}
	}
	if !slices.Equal(days, []string{day1, day2, day3}) {
		t.Errorf("index days %v", days)
	}

	// Merge publishes them.
	for _, d := range days {
		mergeStaged(t, l, store, d, []*StagedBatch{idx}, nil, want[d])
	}
}

// TestStagedParts: a batch whose staged rows pass the part size goes on in further objects, a
// day's rows may span two of them, and the index still gives each day exactly its rows, from a
// local store (read in place) and another (segments downloaded).
func TestStagedParts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) storage.Store
	}{
		{"memory", func(*testing.T) storage.Store { return newMemStore() }},
		{"local", func(t *testing.T) storage.Store { return newLocalStore(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			store := tc.store(t)
			l := newTestLake(t, store, Options{TargetFileSize: 1 << 30})
			l.partBytes = 40 << 10
			days := []string{"2024-05-01", "2024-05-02", "2024-05-03"}
			want := map[string][]schema.Message{}
			var rows [][]schema.Message
			for i, d := range days {
				want[d] = testDay(d, 0, 1000*(i+1))
				rows = append(rows, want[d])
			}
			idx, st, err := l.stageBatch(ctx, "plan-1", "a1", 0, stage(t, l, rows...))
			if err != nil {
				t.Fatal(err)
			}
			if err := idx.check("plan-1", "a1", 0); err != nil {
				t.Fatal(err)
			}
			objs := names(t, store, "_chatlake/runs/")
			if len(objs) != len(idx.Parts) || len(objs) < 3 {
				t.Fatalf("%d objects, %d parts in the index, want the same and at least 3", len(objs), len(idx.Parts))
			}
			// At most one part per part size, plus the last.
			if limit := st.Bytes/l.partBytes + 1; int64(len(objs)) > limit {
				t.Errorf("%d parts for %d bytes, want at most %d", len(objs), st.Bytes, limit)
			}
			spans := 0
			for _, d := range days {
				if n := len(segmentsOf([]*StagedBatch{idx}, d)); n > 1 {
					spans++
				}
			}
			if spans == 0 {
				t.Errorf("no day spans two parts: %+v", idx)
			}
			for _, d := range days {
				mergeStaged(t, l, store, d, []*StagedBatch{idx}, nil, want[d])
			}
		})
	}
}

// TestStagedWriteErrors: a staged object whose writes fail is an error of stageBatch, even where
// the store's Close would commit what it was given (only the staged writer knows that its
// last bytes did not get through), and whatever the step that fails: the header, the first
// day's segment, the last one's end.
func TestStagedWriteErrors(t *testing.T) {
	ctx := context.Background()
	rows := [][]schema.Message{testDay("2024-05-01", 0, 100), testDay("2024-05-02", 0, 20)}
	l := newTestLake(t, newMemStore(), Options{})
	_, st, err := l.stageBatch(ctx, "plan-1", "a1", 0, stage(t, l, rows...))
	if err != nil {
		t.Fatal(err)
	}
	for _, after := range []int64{10, 1000, st.Bytes - 10} {
		t.Run(fmt.Sprint(after), func(t *testing.T) {
			mem := newMemStore()
			fs := newFaultStore(mem, noFaults())
			l := newTestLake(t, fs, Options{})
			s := stage(t, l, rows...)
			f := noFaults()
			f.writeAfter, f.closeCommits = after, true
			fs.set(f)
			idx, _, err := l.stageBatch(ctx, "plan-1", "a1", 0, s)
			if err == nil || !errors.Is(err, errInjected) {
				t.Fatalf("stageBatch = %+v, %v; want the injected write error", idx, err)
			}
		})
	}
}

// TestStagedCodecs: the reader takes every compression the writer knows, whatever
// stagedCompression is.
func TestStagedCodecs(t *testing.T) {
	want := testDay("2024-05-02", 0, 300)
	for _, c := range []stagedCodec{stagedUncompressed, stagedLZ4, stagedZstd} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		var buf bytes.Buffer
		w, err := newStagedRows(&buf, mem, c, stagedColumnsFor(t, stagedFormatRows, want))
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
			if got, err = decodeRows(d, got); err == io.EOF {
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

// TestStagedCorrupt: a staged object that does not decode as its index says, or whose bytes
// changed, fails the merge with errCorruptStaged naming the object, and the partition is left
// as it was.
func TestStagedCorrupt(t *testing.T) {
	ctx := context.Background()
	const day = "2024-05-02"
	name := stagedBatchPath("plan-2", "a1", 0, 0)
	var good []byte
	var goodIdx *StagedBatch
	{
		store := newMemStore()
		l := newTestLake(t, store, Options{})
		idx, _, err := l.stageBatch(ctx, "plan-2", "a1", 0, stage(t, l, testDay("2024-05-01", 0, 50), testDay(day, 100, 1200)))
		if err != nil {
			t.Fatal(err)
		}
		if good, _, err = store.Get(ctx, name); err != nil {
			t.Fatal(err)
		}
		goodIdx = idx
	}
	seg := segmentsOf([]*StagedBatch{goodIdx}, day)[0]
	flip := func(data []byte, at int64) []byte {
		data = slices.Clone(data)
		for i := at; i < min(at+64, int64(len(data))); i++ {
			data[i] ^= 0xa5
		}
		return data
	}
	tests := []struct {
		name  string
		data  []byte
		index func(*StagedBatch)
	}{
		{name: "empty", data: []byte{}},
		{name: "not arrow", data: slices.Repeat([]byte("PAR1 certainly not an Arrow file. "), 2000)},
		{name: "cut", data: good[:seg.day.Offset+seg.day.Length/2]},
		{name: "header damaged", data: flip(good, ipcMagicLen)},
		{name: "body damaged", data: flip(good, seg.day.Offset+seg.day.Length/3)},
		{name: "index counts other rows", index: func(b *StagedBatch) { b.Parts[0].Days[1].Rows++ }},
		{name: "index range short", index: func(b *StagedBatch) { b.Parts[0].Days[1].Length -= 200 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := newMemStore()
			l := newTestLake(t, store, Options{})
			publish(t, l, []string{day}, "run-1", testDay(day, 0, 100))
			before := snapshot(t, store, partitionDir(day))
			data := good
			if tc.data != nil {
				data = tc.data
			}
			if err := l.put(ctx, name, data); err != nil {
				t.Fatal(err)
			}
			idx := &StagedBatch{Parts: slices.Clone(goodIdx.Parts)}
			idx.Parts[0].Days = slices.Clone(idx.Parts[0].Days)
			if tc.index != nil {
				tc.index(idx)
			}
			_, err := l.Merge(ctx, day, MergeInput{Plan: "plan-2", Attempt: "a1", Replace: func(string) bool { return true }, RunID: "run-2", Staged: []*StagedBatch{idx}})
			if err == nil {
				// A segment's S2 stream has a checksum of each block (format 2): a damaged
				// body does not decode.
				t.Fatal("merge of a corrupt staged object succeeded")
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not name %s", err, name)
			}
			if !errors.Is(err, errCorruptStaged) {
				t.Errorf("error %q is not errCorruptStaged", err)
			}
			if after := snapshot(t, store, partitionDir(day)); !reflect.DeepEqual(after, before) {
				t.Error("the partition changed")
			}
		})
	}
}

// TestStagedBadIndex: a done record's index that does not describe the batch's own staged
// objects is refused when the record is read.
func TestStagedBadIndex(t *testing.T) {
	ok := func() *StagedBatch {
		return &StagedBatch{Parts: []StagedPart{{Name: stagedBatchPath("p", "a1", 4, 0), Bytes: 1000, Header: 100,
			Days: []StagedDay{{Day: "2024-05-01", Rows: 3, Offset: 100, Length: 200}, {Day: "2024-05-02", Rows: 1, Offset: 300, Length: 100}}}}}
	}
	if err := ok().check("p", "a1", 4); err != nil {
		t.Fatalf("a good index: %v", err)
	}
	for name, spoil := range map[string]func(b *StagedBatch){
		"another batch's object": func(b *StagedBatch) { b.Parts[0].Name = stagedBatchPath("p", "a1", 5, 0) },
		"another plan's object":  func(b *StagedBatch) { b.Parts[0].Name = stagedBatchPath("q", "a1", 4, 0) },
		"a partition file":       func(b *StagedBatch) { b.Parts[0].Name = "messages/dt=2024-05-01/part-00000-of-00001.parquet" },
		"days out of order":      func(b *StagedBatch) { b.Parts[0].Days[1].Day = "2024-04-30" },
		"not a day":              func(b *StagedBatch) { b.Parts[0].Days[0].Day = "../x" },
		"range in the header":    func(b *StagedBatch) { b.Parts[0].Days[0].Offset = 50 },
		"ranges overlap":         func(b *StagedBatch) { b.Parts[0].Days[1].Offset = 250 },
		"range past the end":     func(b *StagedBatch) { b.Parts[0].Days[1].Length = 701 },
		"no rows":                func(b *StagedBatch) { b.Parts[0].Days[0].Rows = 0 },
	} {
		b := ok()
		spoil(b)
		if err := b.check("p", "a1", 4); !errors.Is(err, errBadIndex) {
			t.Errorf("%s: check = %v, want errBadIndex", name, err)
		}
	}
}

// TestStagedLegacyParquet: a plan staged by binaries before (one file per batch and day, Arrow
// or Parquet) still publishes after an upgrade, beside batches staged since.
func TestStagedLegacyParquet(t *testing.T) {
	ctx := context.Background()
	const day = "2024-05-02"
	store := newMemStore()
	l := newTestLake(t, store, Options{TargetFileSize: 8 << 10, RowGroupRows: 500})
	old, older, fresh := testDay(day, 0, 700), testDay(day, 700, 800), testDay(day, 800, 1100)
	legacy := legacyStagedDir("plan-1", "a1", day) + "batch-000000.parquet"
	if sf, err := l.writeRows(ctx, &sliceSource{rows: slices.Clone(old)}, day, legacy, "run-old"); err != nil || sf.rows != 700 {
		t.Fatalf("legacy staged file: %+v, %v", sf, err)
	}
	if err := l.writeLegacyArrow(ctx, legacyStagedPath("plan-1", "a1", day, 2), older); err != nil {
		t.Fatal(err)
	}
	idx, _, err := l.stageBatch(ctx, "plan-1", "a1", 1, stage(t, l, fresh))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := l.legacyStagedFiles(ctx, "plan-1", "a1", day, []int{0, 2})
	if err != nil {
		t.Fatal(err)
	}
	var exts []string
	for _, o := range objs {
		exts = append(exts, path.Ext(o.Name))
	}
	if !slices.Equal(exts, []string{".parquet", ".arrow"}) {
		t.Fatalf("legacy staged files %v", objs)
	}
	st, err := l.Merge(ctx, day, MergeInput{Plan: "plan-1", Attempt: "a1", Replace: func(string) bool { return true }, RunID: "run-1",
		Staged: []*StagedBatch{idx}, LegacyBatches: []int{0, 2}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Staged != 1100 || st.Rows != 1100 {
		t.Errorf("stats %+v, want 1100 rows staged and published", st)
	}
	var got []schema.Message
	for _, rows := range readPartition(t, store, day) {
		got = append(got, rows...)
	}
	want := slices.Concat(old, older, fresh)
	if !reflect.DeepEqual(sortByKey(got), sortByKey(want)) {
		t.Errorf("published rows differ: %s", firstDiff(sortByKey(got), sortByKey(want)))
	}
	// The shard count counts the legacy Parquet file's bytes as they are, the Arrow ones' as
	// estimated.
	m, err := l.Manifest(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	est := stagedParquetBytes(idx.Parts[0].Format, idx.Parts[0].Days[0].Length)
	for _, o := range objs {
		est += parquetEstimate(o)
	}
	if want := int((est + 8<<10 - 1) / (8 << 10)); m.Shards != want || want < 2 {
		t.Errorf("shards %d, want %d (estimate %d bytes)", m.Shards, want, est)
	}
}

// writeLegacyArrow writes rows as a staged file of the layout before (one Arrow IPC file per
// batch and day).
func (l *Lake) writeLegacyArrow(ctx context.Context, name string, rows []schema.Message) error {
	w, err := l.store.Create(ctx, name)
	if err != nil {
		return err
	}
	cols, err := newStagedColumns(stagedFormatRows, batchConstants{})
	if err != nil {
		return err
	}
	sr, err := newStagedRows(w, l.opts.Allocator, stagedLZ4, cols)
	if err != nil {
		return err
	}
	if err := sr.write(slices.Clone(rows)); err != nil {
		return err
	}
	if err := sr.close(); err != nil {
		return err
	}
	return w.Close()
}

// TestStagedLegacyRestaged: a batch staged per day by a binary before, then staged again after
// the upgrade (it had no done record), has both: its rows are published once, from the new
// object its done record indexes. A batch staged as Parquet and again as Arrow per day counts
// its Arrow file alone.
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
		name := legacyStagedDir("plan-1", "a1", day) + fmt.Sprintf("batch-%06d.parquet", f.batch)
		if _, err := l.writeRows(ctx, &sliceSource{rows: slices.Clone(f.rows)}, day, name, "run-old"); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.writeLegacyArrow(ctx, legacyStagedPath("plan-1", "a1", day, 1), other); err != nil {
		t.Fatal(err)
	}
	idx, _, err := l.stageBatch(ctx, "plan-1", "a1", 2, stage(t, l, rows))
	if err != nil {
		t.Fatal(err)
	}
	st, err := l.Merge(ctx, day, MergeInput{Plan: "plan-1", Attempt: "a1", Replace: func(string) bool { return true }, RunID: "run-1",
		Staged: []*StagedBatch{idx}, LegacyBatches: []int{1}})
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
