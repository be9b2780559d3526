package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/chatlake/chatlake/schema"
	"github.com/chatlake/chatlake/sim"
	"github.com/chatlake/chatlake/transform"
	"github.com/pierrec/lz4/v4"
)

// rowWriter writes the rows of one file in one of the formats BenchmarkStagedFormat compares:
// the lake's Parquet (messageFileWriter) or a staged Arrow IPC file (stagedRows).
type rowWriter interface {
	// write writes rows; it consumes them: rows may be cleared.
	write(rows []schema.Message) error
	// close completes the file (not the object writer under it).
	close() error
	// abort frees the writer's memory after a failure.
	abort()
	// size is the number of bytes written.
	size() int64
}

// BenchmarkStagedFormat writes and reads back staged batch files as stageBatch and Merge do, in
// each candidate format: BenchmarkFloor's 200k messages (the simulator's seed 1 over 14 days,
// decoded, flattened and keyed before the clock starts) split by user into 100 batches (the
// pipeline's default before issue 18's batch rule, users/100: about 140 rows per batch and day),
// 20 (about 700 rows) or 5 (2,800 rows), one file per batch and day. Reports
// write and read CPU per row (getrusage: zstd may use more than one goroutine), staged bytes
// per row, allocations per row, and staged/lake: the staged bytes over those of the same rows
// as one Parquet file per day (stagedToParquet in staged.go).
//
//	go test -run '^$' -bench 'StagedFormat' -benchtime 3x ./load/
func BenchmarkStagedFormat(b *testing.B) {
	so := sim.DefaultOptions()
	so.Seed, so.Users = 1, benchSizes[0].users
	pages, _, w := capturePages(b, so)
	src := transform.Source{CustomerID: so.CustomerID, BotKey: so.BotKey, RunID: "run-staged", ExtractedAt: time.Now()}
	var all []dayMessage // in the order of the pages: by user
	n := floorRows(b, pages, src, w, func(day string, m *schema.Message) { all = append(all, dayMessage{day, *m}) })
	pages = nil
	mem := memory.NewGoAllocator()

	var lakeBytes int64 // the rows as one Parquet file per day
	{
		days := map[string][]schema.Message{}
		for _, r := range all {
			days[r.day] = append(days[r.day], r.m)
		}
		for _, day := range slices.Sorted(maps.Keys(days)) {
			cw := &countingWriter{w: io.Discard}
			fw, err := newMessageFileWriter(cw, mem, DefaultRowGroupRows, src.RunID)
			if err != nil {
				b.Fatal(err)
			}
			if err := fw.write(days[day]); err != nil {
				b.Fatal(err)
			}
			if err := fw.close(); err != nil {
				b.Fatal(err)
			}
			lakeBytes += cw.n
		}
	}

	staged := func(codec stagedCodec, format int) func(io.Writer, []schema.Message) (rowWriter, error) {
		return func(w io.Writer, rows []schema.Message) (rowWriter, error) {
			return newStagedRows(w, mem, codec, stagedColumnsFor(b, format, rows))
		}
	}
	formats := []struct {
		name   string
		new    func(io.Writer, []schema.Message) (rowWriter, error)
		format int // staged format, or -1: Parquet
	}{
		{"parquet", func(w io.Writer, _ []schema.Message) (rowWriter, error) {
			return newMessageFileWriter(w, mem, DefaultRowGroupRows, src.RunID)
		}, -1},
		{"ipc", staged(stagedUncompressed, stagedFormatRows), stagedFormatRows},
		{"ipc-lz4", staged(stagedLZ4, stagedFormatRows), stagedFormatRows},
		{"ipc-zstd", staged(stagedZstd, stagedFormatRows), stagedFormatRows},
		{"ipc-compact", staged(stagedUncompressed, stagedFormatCompact), stagedFormatCompact},
		{"ipc-lz4-compact", staged(stagedLZ4, stagedFormatCompact), stagedFormatCompact},
		{"s2-framed", staged(stagedLZ4, stagedFormatFramed), stagedFormatFramed},
	}
	l := &Lake{opts: Options{Allocator: mem, RowGroupRows: DefaultRowGroupRows}}
	b.Run("ipc-lz4/one-file-per-batch/batches=100", func(b *testing.B) {
		benchStagedPerBatch(b, all, n, mem)
	})
	for _, batches := range []int{100, 20, 5} {
		// The files: batch b of users, day d. Users come in order, so a batch is a run of them.
		files := map[string][]schema.Message{}
		users, user := 0, ""
		for _, r := range all {
			if r.m.ChannelUserID != user {
				user = r.m.ChannelUserID
				users++
			}
		}
		i, user := -1, ""
		for _, r := range all {
			if r.m.ChannelUserID != user {
				user = r.m.ChannelUserID
				i++
			}
			k := fmt.Sprintf("%s/%03d", r.day, i*batches/users)
			files[k] = append(files[k], r.m)
		}
		names := slices.Sorted(maps.Keys(files))
		for _, f := range formats {
			b.Run(fmt.Sprintf("%s/batches=%d", f.name, batches), func(b *testing.B) {
				var size int64
				var wcpu, rcpu time.Duration
				var wallocs, rallocs uint64
				var ms runtime.MemStats
				bufs := make([]bytes.Buffer, len(names))
				headers := make([]int64, len(names))
				b.ResetTimer()
				for range b.N {
					size = 0
					runtime.ReadMemStats(&ms)
					a0, c0 := ms.Mallocs, cpuTime()
					for j, name := range names {
						bufs[j].Reset()
						rw, err := f.new(&bufs[j], files[name])
						if err != nil {
							b.Fatal(err)
						}
						if err := rw.write(slices.Clone(files[name])); err != nil {
							b.Fatal(err)
						}
						if err := rw.close(); err != nil {
							b.Fatal(err)
						}
						size += rw.size()
						if sr, ok := rw.(*stagedRows); ok {
							headers[j] = sr.sw.header
						}
					}
					wcpu += cpuTime() - c0
					runtime.ReadMemStats(&ms)
					wallocs += ms.Mallocs - a0

					a0, c0 = ms.Mallocs, cpuTime()
					var read int
					for j, name := range names {
						var dec batchDecoder
						var err error
						if f.format < 0 {
							dec, err = l.newParquetDecoder(context.Background(), bytes.NewReader(bufs[j].Bytes()))
						} else { // as Merge reads a segment: the stream behind the magic
							dec, err = newStreamDecoder(stagedStream(bufs[j].Bytes(), headers[j], f.format), int64(len(files[name])), formatColumns(f.format))
						}
						if err != nil {
							b.Fatal(err)
						}
						var rows []schema.Message
						for {
							rows, err = decodeRows(dec, rows[:0])
							if err == io.EOF {
								break
							}
							if err != nil {
								b.Fatal(err)
							}
							read += len(rows)
						}
						dec.close()
					}
					rcpu += cpuTime() - c0
					runtime.ReadMemStats(&ms)
					rallocs += ms.Mallocs - a0
					if read != int(n) {
						b.Fatalf("read %d rows, wrote %d", read, n)
					}
				}
				rows := float64(n) * float64(b.N)
				b.ReportMetric(float64(wcpu.Nanoseconds())/rows, "write-cpu-ns/row")
				b.ReportMetric(float64(rcpu.Nanoseconds())/rows, "read-cpu-ns/row")
				b.ReportMetric(float64(wallocs)/rows, "write-allocs/row")
				b.ReportMetric(float64(rallocs)/rows, "read-allocs/row")
				b.ReportMetric(float64(size)/float64(n), "bytes/row")
				b.ReportMetric(float64(size)/float64(lakeBytes), "staged/lake")
				b.ReportMetric(float64(n)/float64(len(names)), "rows/file")
			})
		}
	}
}

// dayMessage is a row and its day.
type dayMessage struct {
	day string
	m   schema.Message
}

// benchStagedPerBatch writes the rows (in the order of the pages: by user) as 100 batches of
// users, each one staged file holding its days one after the other, a record batch (or more)
// per day, as a layout of one staged object per batch would: against the line
// ipc-lz4/batches=100 (one file per batch and day, the same record batches), it tells what
// a staged file costs beyond its record batches. Only writing is timed: a merge would still
// open each batch's file once per day.
func benchStagedPerBatch(b *testing.B, all []dayMessage, n int64, mem memory.Allocator) {
	const batches = 100
	users, user := 0, ""
	for _, r := range all {
		if r.m.ChannelUserID != user {
			user, users = r.m.ChannelUserID, users+1
		}
	}
	files := make([]map[string][]schema.Message, batches)
	i, user := -1, ""
	for _, r := range all {
		if r.m.ChannelUserID != user {
			user, i = r.m.ChannelUserID, i+1
		}
		bt := i * batches / users
		if files[bt] == nil {
			files[bt] = map[string][]schema.Message{}
		}
		files[bt][r.day] = append(files[bt][r.day], r.m)
	}
	var wcpu time.Duration
	var size int64
	b.ResetTimer()
	for range b.N {
		size = 0
		c0 := cpuTime()
		for _, days := range files {
			var buf bytes.Buffer
			var all []schema.Message
			for _, rows := range days {
				all = append(all, rows...)
			}
			rw, err := newStagedRows(&buf, mem, stagedLZ4, stagedColumnsFor(b, stagedFormatCompact, all))
			if err != nil {
				b.Fatal(err)
			}
			for _, day := range slices.Sorted(maps.Keys(days)) {
				if err := rw.write(slices.Clone(days[day])); err != nil {
					b.Fatal(err)
				}
				if err := rw.bb.writeBatch(); err != nil { // a day's rows end its record batch
					b.Fatal(err)
				}
			}
			if err := rw.close(); err != nil {
				b.Fatal(err)
			}
			size += rw.size()
		}
		wcpu += cpuTime() - c0
	}
	b.ReportMetric(float64(wcpu.Nanoseconds())/float64(n)/float64(b.N), "write-cpu-ns/row")
	b.ReportMetric(float64(size)/float64(n), "bytes/row")
	b.ReportMetric(float64(n)/float64(batches), "rows/file")
}

// BenchmarkStagedColumns tells where staged bytes go: the floor's 200k messages in 5 batches of
// users (about 2,900 rows per batch and day, as in the 10M-message backfill), made into record
// batches as a Stage makes them, each column's buffers LZ4-compressed as the IPC writer
// compresses them (a frame per buffer, its 8-byte length, padding to 8 bytes), in each staged
// format (stagedcols.go). It logs bytes per row of each column (-v) and reports their total,
// and the CPU of encoding and decoding format 1 per row.
//
//	go test -run '^$' -bench 'StagedColumns' -benchtime 3x -v ./load/
func BenchmarkStagedColumns(b *testing.B) {
	so := sim.DefaultOptions()
	so.Seed, so.Users = 1, benchSizes[0].users
	pages, _, w := capturePages(b, so)
	src := transform.Source{CustomerID: so.CustomerID, BotKey: so.BotKey, RunID: "run-staged", ExtractedAt: time.Now()}
	var all []dayMessage
	n := floorRows(b, pages, src, w, func(day string, m *schema.Message) { all = append(all, dayMessage{day, *m}) })
	pages = nil
	const batches = 5
	users, user := 0, ""
	for _, r := range all {
		if r.m.ChannelUserID != user {
			user, users = r.m.ChannelUserID, users+1
		}
	}
	files := map[string][]schema.Message{}
	i, user := -1, ""
	for _, r := range all {
		if r.m.ChannelUserID != user {
			user, i = r.m.ChannelUserID, i+1
		}
		k := fmt.Sprintf("%03d/%s", i*batches/users, r.day)
		files[k] = append(files[k], r.m)
	}
	mem := memory.NewGoAllocator()
	var recs []arrow.RecordBatch
	for _, name := range slices.Sorted(maps.Keys(files)) {
		bb := newBatchBuilder(mem, spillBatchRows, spillBatchBytes, recordWriterFunc(func(rec arrow.RecordBatch) error {
			rec.Retain()
			recs = append(recs, rec)
			return nil
		}))
		rows := files[name]
		for i := range rows {
			if err := bb.add(&rows[i]); err != nil {
				b.Fatal(err)
			}
		}
		if err := bb.writeBatch(); err != nil {
			b.Fatal(err)
		}
		bb.release()
	}
	defer func() {
		for _, rec := range recs {
			rec.Release()
		}
	}()
	var consts batchConstants
	for i := range all {
		consts.add(&all[i].m)
	}
	for _, format := range []int{stagedFormatRows, stagedFormatCompact} {
		b.Run(fmt.Sprintf("format=%d", format), func(b *testing.B) {
			cols, err := newStagedColumns(format, consts)
			if err != nil {
				b.Fatal(err)
			}
			var enc, dec time.Duration
			perCol := map[string]int{}
			b.ResetTimer()
			for range b.N {
				clear(perCol)
				for _, rec := range recs {
					c0 := cpuTime()
					staged, err := cols.encode(rec)
					if err != nil {
						b.Fatal(err)
					}
					c1 := cpuTime()
					back, err := cols.decode(staged)
					if err != nil {
						b.Fatal(err)
					}
					dec += cpuTime() - c1
					enc += c1 - c0
					back.Release()
					for j, col := range staged.Columns() {
						perCol[staged.ColumnName(j)] += lz4Bytes(b, col.Data())
					}
					staged.Release()
				}
			}
			b.StopTimer()
			total := 0
			for _, name := range slices.SortedFunc(maps.Keys(perCol), func(x, y string) int { return perCol[y] - perCol[x] }) {
				b.Logf("%-20s %6.1f bytes/row", name, float64(perCol[name])/float64(n))
				total += perCol[name]
			}
			rows := float64(n) * float64(b.N)
			b.ReportMetric(float64(total)/float64(n), "column-bytes/row")
			b.ReportMetric(float64(enc.Nanoseconds())/rows, "encode-cpu-ns/row")
			b.ReportMetric(float64(dec.Nanoseconds())/rows, "decode-cpu-ns/row")
			b.ReportMetric(float64(n)/float64(len(recs)), "rows/record-batch")
		})
	}
}

// lz4Bytes is the size of d's buffers as the IPC writer's LZ4 compression writes them: a frame
// of each buffer, after its uncompressed length, or the buffer as it is if that is not
// smaller, padded to 8 bytes.
func lz4Bytes(b *testing.B, d arrow.ArrayData) int {
	n := 0
	for _, buf := range d.Buffers() {
		if buf == nil || buf.Len() == 0 {
			continue
		}
		var out bytes.Buffer
		w := lz4.NewWriter(&out)
		if err := w.Apply(lz4.ChecksumOption(false), lz4.BlockSizeOption(lz4.Block64Kb)); err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		n += (8 + min(out.Len(), buf.Len()) + 7) &^ 7
	}
	for _, c := range d.Children() {
		n += lz4Bytes(b, c)
	}
	return n
}
