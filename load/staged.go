package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// Staged batch files: a finished batch's rows of one day, kept in the lake's storage until the
// day is published (_chatlake/runs/<plan>/attempts/<attempt>/staged/dt=DAY/batch-NNNNNN.arrow,
// layout.go). They are Arrow IPC files (the file format of the Arrow columnar specification:
// the stream format with a footer that indexes the record batches, so any Arrow library reads
// them) of the schema.Messages() schema: the record batches the batch's Stage made of the day's
// rows (up to spillBatchRows rows or about spillBatchBytes of values each, codec.go), in the
// order the rows were added. They are not sorted: a merge sorts each row group it writes.
//
// A staged file is written and read once per publish of its day (and read once per shard of
// the day), and most are small (a batch's rows of one day: 140 to 700 rows in the benchmarks),
// so what counts is the fixed cost per file, which Parquet's is high (see docs/benchmarks.md,
// issue 10). Staged files of the binaries before, Parquet files named .parquet, are still read.
const (
	stagedExt       = ".arrow"
	legacyStagedExt = ".parquet"

	// stagedBufferSize buffers the writes of the IPC writer (a few small writes per buffer of
	// each column) on their way to the store.
	stagedBufferSize = 64 << 10
)

// stagedCodec is the body compression of staged files.
type stagedCodec int

const (
	stagedUncompressed stagedCodec = iota
	stagedLZ4
	stagedZstd
)

// stagedCompression is the compression staged files are written with (the reader takes any):
// LZ4 frame, chosen by BenchmarkStagedFormat (docs/benchmarks.md, issue 10). Against no
// compression it costs 2.6 µs more CPU per row written and read at 143 rows per file (1.2 at
// 714), and stages 45% fewer bytes (178 against 324 per row; Parquet staged 101); zstd stages
// 14 to 17% fewer bytes than LZ4 for 2.4 to 3.7 times its CPU (arrow-go makes a zstd encoder
// per file and a decoder per record batch). Compressed buffers also decode into one allocation
// each, so a row kept by its message_key (Merge's set of keys) keeps that column alone, not
// its whole batch.
const stagedCompression = stagedLZ4

func (c stagedCodec) options() []ipc.Option {
	switch c {
	case stagedLZ4:
		return []ipc.Option{ipc.WithLZ4()}
	case stagedZstd:
		return []ipc.Option{ipc.WithZstd()}
	}
	return nil
}

// stagedWriter writes record batches as one staged file into w.
type stagedWriter struct {
	cw *countingWriter
	bw *bufio.Writer
	fw *ipc.FileWriter
}

func newStagedWriter(w io.Writer, mem memory.Allocator, codec stagedCodec) (*stagedWriter, error) {
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, stagedBufferSize)
	opts := append([]ipc.Option{ipc.WithSchema(schema.Messages()), ipc.WithAllocator(mem)}, codec.options()...)
	fw, err := ipc.NewFileWriter(bw, opts...)
	if err != nil {
		return nil, fmt.Errorf("arrow writer: %w", err)
	}
	return &stagedWriter{cw: cw, bw: bw, fw: fw}, nil
}

// write appends one record batch of the messages schema.
func (w *stagedWriter) write(rec arrow.RecordBatch) error {
	if err := w.fw.Write(rec); err != nil {
		return fmt.Errorf("write record batch: %w", err)
	}
	if w.cw.err != nil {
		return fmt.Errorf("write record batch: %w", w.cw.err)
	}
	return nil
}

// close writes the footer and flushes; it does not close the underlying object writer.
func (w *stagedWriter) close() error {
	if err := w.fw.Close(); err != nil {
		return fmt.Errorf("arrow footer: %w", err)
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("arrow footer: %w", err)
	}
	if w.cw.err != nil {
		return fmt.Errorf("arrow footer: %w", w.cw.err)
	}
	return nil
}

// size is the number of bytes written.
func (w *stagedWriter) size() int64 { return w.cw.n }

// abort releases the writer's memory after a failure.
func (w *stagedWriter) abort() { _ = w.fw.Close() } // the file is discarded; this only frees buffers

// writeStaged writes the record batches next returns (until io.EOF) into the object dst as one
// staged file, and returns its size. Nothing is written if next returns nothing.
func (l *Lake) writeStaged(ctx context.Context, next func() (arrow.RecordBatch, error), dst string) (size int64, err error) {
	var w storage.Writer
	var sw *stagedWriter
	defer func() {
		if err != nil && sw != nil {
			sw.abort()
		}
		if err != nil && w != nil {
			_ = w.Abort() // nothing becomes visible; a later run sweeps what is left
		}
	}()
	for {
		rec, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		if w == nil {
			if w, err = l.store.Create(ctx, dst); err != nil {
				w = nil
				return 0, fmt.Errorf("create %s: %w", dst, err)
			}
			if sw, err = newStagedWriter(w, l.opts.Allocator, stagedCompression); err != nil {
				sw = nil
				return 0, err
			}
		}
		if err := sw.write(rec); err != nil {
			return 0, fmt.Errorf("%s: %w", dst, err)
		}
	}
	if w == nil {
		return 0, nil
	}
	if err := sw.close(); err != nil {
		return 0, fmt.Errorf("%s: %w", dst, err)
	}
	size, sw = sw.size(), nil
	if err := w.Close(); err != nil {
		w = nil // a failed Close leaves nothing to abort
		return 0, fmt.Errorf("close %s: %w", dst, err)
	}
	return size, nil
}

// errCorruptStaged: a staged file could not be decoded.
var errCorruptStaged = errors.New("corrupt staged file")

// ipcDecoder decodes the record batches of one staged Arrow IPC file, in order, into rows
// whose strings are views of the batches (schema.AppendMessagesShared: no copy per string).
type ipcDecoder struct {
	r *ipc.FileReader
	i int
}

func newIPCDecoder(r ipc.ReadAtSeeker) (d *ipcDecoder, err error) {
	defer func() {
		if p := recover(); p != nil { // a corrupt file can make the reader panic
			d, err = nil, fmt.Errorf("%w: %v", errCorruptStaged, p)
		}
	}()
	// A Go allocator of its own: the rows' strings are views of the batches' buffers, which
	// the garbage collector keeps while rows use them.
	fr, err := ipc.NewFileReader(r, ipc.WithSchema(schema.Messages()), ipc.WithAllocator(memory.NewGoAllocator()))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCorruptStaged, err)
	}
	return &ipcDecoder{r: fr}, nil
}

// decode appends the rows of the next record batch to dst; io.EOF after the last.
func (d *ipcDecoder) decode(dst []schema.Message) (out []schema.Message, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = dst, fmt.Errorf("%w: %v", errCorruptStaged, p)
		}
	}()
	if d.i == d.r.NumRecords() {
		return dst, io.EOF
	}
	var rec arrow.RecordBatch
	rec, err = d.r.RecordBatchAt(d.i)
	if err != nil {
		return dst, fmt.Errorf("%w: record batch %d: %w", errCorruptStaged, d.i, err)
	}
	defer rec.Release()
	d.i++
	if dst, err = schema.AppendMessagesShared(dst, rec); err != nil {
		return dst, fmt.Errorf("%w: %w", errCorruptStaged, err)
	}
	return dst, nil
}

func (d *ipcDecoder) close() { _ = d.r.Close() }

// stagedToParquet is about the size of rows as staged files over their size as the lake's
// Parquet, by which the shard count of a day is chosen (Options.TargetFileSize). Measured by
// BenchmarkStagedFormat on the simulator's messages, in record batches of up to 512 rows as a
// Stage makes them: 4.5 at 143 rows per staged file, 3.6 at 714, 3.4 at 2,856 (3.4 and 3.1 in
// batches of 8192 rows; a staged file has a fixed cost of about 8 KB, schema, footer and LZ4
// frames, then about 124 bytes per row against 40 as Parquet); 5.5 on the tests' very
// repetitive rows. 3 is right for the large files where the shard count matters (a small day
// gets one shard either way) and errs toward more, smaller shards on small files, as the
// Parquet staged files did (their size was 2.5 times the lake's at 140 rows per file). The
// staged bytes are compressed (LZ4, less than Parquet's zstd), so the estimate follows the
// rows' content, not only their number.
const stagedToParquet = 3

// parquetEstimate is about how many bytes the rows of the staged object o make as the lake's
// Parquet: a staged Arrow IPC file's size over stagedToParquet; a Parquet file staged by a
// binary before counts its size, as that binary did.
func parquetEstimate(o storage.Object) int64 {
	if isStagedIPC(o.Name) {
		return o.Size / stagedToParquet
	}
	return o.Size
}

// isStagedIPC tells a staged Arrow IPC file from a Parquet file by its object name.
func isStagedIPC(name string) bool { return path.Ext(name) == stagedExt }
