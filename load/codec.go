package load

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/chatlake/chatlake/schema"
)

// The spill format of a Stage that spilled (stage.go): one Arrow IPC stream per day (the streaming format of the Arrow
// columnar specification, uncompressed), of the schema.Messages() schema, holding record
// batches of up to spillBatchRows rows (fewer when rows are large) in the order they were
// added. Any Arrow library reads it. It keeps what the lake's files keep: NULL apart from an
// empty string or list, and times as UTC milliseconds (finer digits are dropped here rather
// than when the Parquet is written). A stream has no end-of-stream marker until its stage is
// closed: a reader stops at the end of the last whole batch, and a cut batch is an error.

// A Stage buffers the rows of one day in Arrow builders until spillBatchRows rows or about
// spillBatchBytes bytes of values, then makes them one record batch: held in memory, or
// written to the day's stream once the stage spilled; StageBatch writes these batches as
// they are into the staged file. The byte bound is for large rows: smaller batches cost more
// per row (a 32 KiB bound made BenchmarkStageRoundTrip about 4 times slower, see
// docs/benchmarks.md).
const (
	spillBatchRows  = 512
	spillBatchBytes = 256 << 10
	// spillBufferSize is the write buffer of one day's spill file.
	spillBufferSize = 32 << 10
)

// errCorruptSpill: a spill stream could not be decoded.
var errCorruptSpill = errors.New("corrupt spill stream")

// batchBuilder buffers rows in Arrow builders and writes them to an IPC writer (a stream or a
// file) as one record batch every maxRows rows or about maxBytes bytes of values: the writer
// of a Stage's spill and of staged batch files.
type batchBuilder struct {
	b        *schema.MessageBuilder
	bytes    int // about how many bytes of values b holds
	maxRows  int
	maxBytes int
	w        interface{ Write(arrow.RecordBatch) error }
}

func newBatchBuilder(mem memory.Allocator, maxRows, maxBytes int, w interface{ Write(arrow.RecordBatch) error }) batchBuilder {
	return batchBuilder{b: schema.NewMessageBuilder(mem), maxRows: maxRows, maxBytes: maxBytes, w: w}
}

// add appends one row, writing a record batch when the builders are full.
func (bb *batchBuilder) add(m *schema.Message) error {
	bb.b.Append(m)
	bb.bytes += valueBytes(m)
	if bb.b.Len() >= bb.maxRows || bb.bytes >= bb.maxBytes {
		return bb.writeBatch()
	}
	return nil
}

// writeBatch writes the buffered rows as one record batch.
func (bb *batchBuilder) writeBatch() error {
	if bb.b.Len() == 0 {
		return nil
	}
	rec := bb.b.NewRecord()
	defer rec.Release()
	bb.bytes = 0
	return bb.w.Write(rec)
}

// release frees the builders.
func (bb *batchBuilder) release() { bb.b.Release() }

// spillStream is one day's IPC stream in a spill file, through a write buffer.
type spillStream struct {
	bw *bufio.Writer
	w  *ipc.Writer
}

func newSpillStream(w io.Writer, mem memory.Allocator) *spillStream {
	bw := bufio.NewWriterSize(w, spillBufferSize)
	return &spillStream{bw: bw, w: ipc.NewWriter(bw, ipc.WithSchema(schema.Messages()), ipc.WithAllocator(mem))}
}

// Write appends one record batch to the stream.
func (s *spillStream) Write(rec arrow.RecordBatch) error { return s.w.Write(rec) }

// flush writes the buffer out, so that a reader of the file sees every batch written.
func (s *spillStream) flush() error { return s.bw.Flush() }

// valueBytes is about what m takes in Arrow builders: its strings, and 8 bytes for each other
// value and offset.
func valueBytes(m *schema.Message) int {
	n := len(m.CustomerID) + len(m.BotKey) + len(m.ChannelUserID) + len(m.Sender) + len(m.MessageType) +
		len(m.SourceTimestamp) + len(m.MessageKey) + len(m.RunID) + 22*8
	for _, p := range []*string{m.Channel, m.UserID, m.Text, m.FileURL, m.FileMimeType, m.FileUploadType,
		m.AgentID, m.TemplateName, m.TemplateLanguage, m.BroadcastID, m.ExtraJSON} {
		if p != nil {
			n += len(*p)
		}
	}
	for _, o := range m.Options {
		n += len(o) + 8
	}
	return n
}

// spillBatches returns a function that yields the record batches of the spill stream r, in
// order, then io.EOF (also for an empty stream); a cut or foreign stream is errCorruptSpill.
// The batches' buffers come from a Go allocator of their own, so rows that view them
// (schema.AppendMessagesShared) stay valid after the next call: the garbage collector keeps
// what they use. release frees the reader.
func spillBatches(r io.Reader) (next func() (arrow.RecordBatch, error), release func()) {
	br := bufio.NewReaderSize(r, 64<<10)
	var ir *ipc.Reader
	next = func() (arrow.RecordBatch, error) {
		if ir == nil {
			sr, err := ipc.NewReader(br, ipc.WithSchema(schema.Messages()), ipc.WithAllocator(memory.NewGoAllocator()))
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			if err != nil {
				return nil, fmt.Errorf("%w: %w", errCorruptSpill, err)
			}
			ir = sr
		}
		rec, err := ir.Read()
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errCorruptSpill, err)
		}
		return rec, nil
	}
	return next, func() {
		if ir != nil {
			ir.Release()
		}
	}
}

// batchRows yields the rows of the record batches batch returns, in order (a rowSource); the
// rows' strings are views of the batches (one allocation per batch, not one per string). The
// first error, io.EOF included, is returned from then on.
type batchRows struct {
	batch func() (arrow.RecordBatch, error)
	rows  []schema.Message
	i     int
	err   error
}

func (b *batchRows) next(m *schema.Message) error {
	for b.i == len(b.rows) {
		if b.err != nil {
			return b.err
		}
		rec, err := b.batch()
		if err != nil {
			b.err = err
			return err
		}
		if b.rows, err = schema.AppendMessagesShared(b.rows[:0], rec); err != nil {
			b.err = fmt.Errorf("%w: %w", errCorruptSpill, err)
			return b.err
		}
		b.i = 0
	}
	*m = b.rows[b.i]
	b.rows[b.i] = schema.Message{}
	b.i++
	return nil
}
