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

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/chatlake/chatlake/schema"
	"github.com/chatlake/chatlake/sim"
	"github.com/chatlake/chatlake/transform"
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

// BenchmarkStagedFormat writes and reads back staged batch files as StageBatch and Merge do, in
// each candidate format: BenchmarkFloor's 200k messages (the simulator's seed 1 over 14 days,
// decoded, flattened and keyed before the clock starts) split by user into 100 batches (the
// pipeline's default batch of users/100: about 140 rows per batch and day, as in the 200k
// export), 20 (about 700 rows, as in the 1M export) or 5 (2,800 rows), one file per batch and
// day. Reports
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

	formats := []struct {
		name  string
		new   func(io.Writer) (rowWriter, error)
		parqu bool
	}{
		{"parquet", func(w io.Writer) (rowWriter, error) {
			return newMessageFileWriter(w, mem, DefaultRowGroupRows, src.RunID)
		}, true},
		{"ipc", func(w io.Writer) (rowWriter, error) { return newStagedRows(w, mem, stagedUncompressed) }, false},
		{"ipc-lz4", func(w io.Writer) (rowWriter, error) { return newStagedRows(w, mem, stagedLZ4) }, false},
		{"ipc-zstd", func(w io.Writer) (rowWriter, error) { return newStagedRows(w, mem, stagedZstd) }, false},
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
				b.ResetTimer()
				for range b.N {
					size = 0
					runtime.ReadMemStats(&ms)
					a0, c0 := ms.Mallocs, cpuTime()
					for j, name := range names {
						bufs[j].Reset()
						rw, err := f.new(&bufs[j])
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
					}
					wcpu += cpuTime() - c0
					runtime.ReadMemStats(&ms)
					wallocs += ms.Mallocs - a0

					a0, c0 = ms.Mallocs, cpuTime()
					var read int
					for j := range names {
						var dec batchDecoder
						var err error
						if f.parqu {
							dec, err = l.newParquetDecoder(context.Background(), bytes.NewReader(bufs[j].Bytes()))
						} else {
							dec, err = newIPCDecoder(bytes.NewReader(bufs[j].Bytes()))
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
			rw, err := newStagedRows(&buf, mem, stagedLZ4)
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
