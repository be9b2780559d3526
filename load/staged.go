package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
	"github.com/klauspost/compress/s2"
)

// Staged batches: a finished batch's rows, kept in the lake's storage until its plan is
// published: at the start of the batch's done object when they fit in memory (done.go), else
// in objects of their own (_chatlake/runs/<plan>/attempts/<attempt>/staged/batch-NNNNNN-PPP.arrow,
// layout.go). A batch is one part, or a few when its rows pass stagedPartBytes, of the
// staged columns of its format (StagedPart.Format, stagedcols.go: formats 1 and 2, the
// messages schema less what a part rebuilds; format 0, the schema.Messages() schema, of the
// binaries before), holding the record batches the batch's Stage made (up to spillBatchRows
// rows or about spillBatchBytes of values each, stage.go), grouped by day in day order, each
// day's in the order its rows were added. Format 2, which FinishBatch and FinishBatch write, is
// the header of an Arrow IPC file (magic and schema message) and then one S2 stream per day
// holding the day's record batch messages; formats 0 and 1, of the binaries before, are Arrow
// IPC files (the file format of the Arrow columnar specification: the stream format with a
// footer that indexes the record batches, so any Arrow library reads it whole) with LZ4 body
// compression. The rows are not sorted: a merge sorts each row group it writes. Every staged
// row is read through streamDecoder, which returns record batches of the messages schema
// whatever the format.
//
// What the publisher of a day needs to read that day's rows of a batch and nothing else is the
// StagedBatch index, kept in the batch's done record (BatchDone): for each part, the size of
// its header (the file's magic and schema message) and, for each day, the byte range of its
// record batches. The header followed by a day's range (decompressed, in format 2) is an Arrow
// IPC stream of the day's rows (segmentStreamOf), read with two ranged reads (the header once
// per part and process). So a run stages
// about one object per batch whatever its number of days, and a publisher reads each object
// once per day it holds, with one request.
//
// The binaries before staged one file per batch and day (staged/dt=DAY/batch-NNNNNN.arrow, or
// .parquet before that); a plan staged so before an upgrade still publishes (legacy.go).
const (
	stagedExt       = ".arrow"
	legacyStagedExt = ".parquet"

	// stagedBufferSize buffers the writes of the IPC writer (a few small writes per buffer of
	// each column) on their way to the store.
	stagedBufferSize = 64 << 10

	// stagedPartBytes is about the largest staged object: a batch whose staged rows pass it
	// goes on in a new part, after the record batch that passed it.
	stagedPartBytes = 64 << 20

	// ipcMagicLen is the Arrow file's leading magic ("ARROW1" and two bytes of padding); the
	// stream format starts after it.
	ipcMagicLen = 8
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

// stagedWriter writes record batches as one staged part into w, and knows the position in the
// part after each segment (a day's record batches). Formats 0 and 1 (tests stage in them, as
// the binaries before did) are an Arrow IPC file with LZ4 body compression: the IPC writer
// writes each message at once, into a count in front of the write buffer. Format 2 is the
// part's header (magic and schema message, as the file format starts) followed by one S2
// stream per segment holding its record batch messages uncompressed (stagedcols.go).
type stagedWriter struct {
	cw     *countingWriter
	bw     *bufio.Writer
	fw     *ipc.FileWriter // formats 0 and 1
	frame  *s2.Writer      // format 2: the segments' stream writer, made by the first
	open   bool            // format 2: a segment's stream is open
	mem    memory.Allocator
	cols   *stagedColumns // the staged format: what write makes of a record batch
	header int64          // the size of the file's magic and schema message
}

// newStagedWriter writes a staged part of the format of cols (stagedcols.go) into w; codec is
// the body compression of formats 0 and 1 (format 2 is S2 streams, whatever codec).
func newStagedWriter(w io.Writer, mem memory.Allocator, codec stagedCodec, cols *stagedColumns) (*stagedWriter, error) {
	bw := bufio.NewWriterSize(w, stagedBufferSize)
	cw := &countingWriter{w: bw}
	header, err := stagedHeaderSize(cols.schema, mem)
	if err != nil {
		return nil, err
	}
	sw := &stagedWriter{cw: cw, bw: bw, mem: mem, cols: cols, header: header}
	if cols.format == stagedFormatFramed {
		if err := writeStagedHeader(cw, cols.schema, mem); err != nil {
			return nil, err
		}
		return sw, nil
	}
	opts := append([]ipc.Option{ipc.WithSchema(cols.schema), ipc.WithAllocator(mem)}, codec.options()...)
	if sw.fw, err = ipc.NewFileWriter(cw, opts...); err != nil {
		return nil, fmt.Errorf("arrow writer: %w", err)
	}
	return sw, nil
}

// stagedHeaderSize is the size of what an Arrow IPC file of the schema sc holds before its
// first record batch: the magic, then the schema message (the file writer writes it with its
// first record batch).
func stagedHeaderSize(sc *arrow.Schema, mem memory.Allocator) (int64, error) {
	p := ipc.GetSchemaPayload(sc, mem)
	defer p.Release()
	n, err := p.WritePayload(io.Discard)
	if err != nil {
		return 0, fmt.Errorf("arrow schema: %w", err)
	}
	return ipcMagicLen + int64(n), nil
}

// writeStagedHeader writes the header of a format 2 part: what an Arrow IPC file of the schema
// sc starts with (its magic, then the schema message), stagedHeaderSize bytes.
func writeStagedHeader(w io.Writer, sc *arrow.Schema, mem memory.Allocator) error {
	p := ipc.GetSchemaPayload(sc, mem)
	defer p.Release()
	if _, err := w.Write([]byte(ipcMagic)); err != nil {
		return fmt.Errorf("staged header: %w", err)
	}
	if _, err := p.WritePayload(w); err != nil {
		return fmt.Errorf("staged header: %w", err)
	}
	return nil
}

// ipcMagic is the Arrow IPC file's leading magic, padded to ipcMagicLen.
const ipcMagic = "ARROW1\x00\x00"

// write appends one record batch of the messages schema, in the writer's staged format, to the
// open segment (format 2 opens one if none is).
func (w *stagedWriter) write(rec arrow.RecordBatch) error {
	enc, err := w.cols.encode(rec)
	if err != nil {
		return fmt.Errorf("write record batch: %w", err)
	}
	defer enc.Release()
	if w.fw != nil {
		err = w.fw.Write(enc)
	} else {
		err = w.writeFramed(enc)
	}
	if err != nil {
		return fmt.Errorf("write record batch: %w", err)
	}
	if w.cw.err != nil {
		return fmt.Errorf("write record batch: %w", w.cw.err)
	}
	return nil
}

// writeFramed writes rec's IPC message, uncompressed, into the open segment's S2 stream.
func (w *stagedWriter) writeFramed(rec arrow.RecordBatch) error {
	if !w.open {
		if w.frame == nil {
			w.frame = newStagedFrame(w.cw)
		} else {
			w.frame.Reset(w.cw)
		}
		w.open = true
	}
	p, err := ipc.GetRecordBatchPayload(rec, ipc.WithAllocator(w.mem))
	if err != nil {
		return err
	}
	defer p.Release()
	_, err = p.WritePayload(w.frame)
	return err
}

// newStagedFrame starts the S2 stream of one format 2 segment into w (the framing format of
// github.com/klauspost/compress/s2, Snappy's extended): blocks of up to stagedBlockSize, each
// with a CRC-32C of its content, which the reader checks, compressed on the caller's
// goroutine. S2 rather than LZ4 frames: on the staged segments of 200k messages it compresses
// at 917 MB/s against 510 and decompresses at 1,938 against 1,536, to 36.5% against 36.9%.
func newStagedFrame(w io.Writer) *s2.Writer {
	return s2.NewWriter(w, s2.WriterConcurrency(1), s2.WriterBlockSize(stagedBlockSize))
}

// stagedBlockSize is the largest block of a format 2 segment's S2 stream, so what a reader of
// one needs for its buffers.
const stagedBlockSize = 64 << 10

// endSegment ends the open segment: format 2 closes its S2 stream, so that size is where the
// segment ends. Formats 0 and 1 have nothing to end.
func (w *stagedWriter) endSegment() error {
	if !w.open {
		return nil
	}
	err := w.frame.Close()
	w.open = false
	if err == nil {
		err = w.cw.err
	}
	if err != nil {
		return fmt.Errorf("end of a day's record batches: %w", err)
	}
	return nil
}

// close ends the open segment, writes the footer (formats 0 and 1) and flushes; it does not
// close the underlying object writer.
func (w *stagedWriter) close() error {
	if err := w.endSegment(); err != nil {
		return err
	}
	if w.fw != nil {
		if err := w.fw.Close(); err != nil {
			return fmt.Errorf("arrow footer: %w", err)
		}
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("arrow footer: %w", err)
	}
	if w.cw.err != nil {
		return fmt.Errorf("arrow footer: %w", w.cw.err)
	}
	return nil
}

// size is the number of bytes written: after close, the file's size.
func (w *stagedWriter) size() int64 { return w.cw.n }

// abort releases the writer's memory after a failure.
func (w *stagedWriter) abort() { // the file is discarded; this only frees buffers
	if w.fw != nil {
		_ = w.fw.Close()
	}
	if w.frame != nil {
		w.frame.Reset(nil) // gives its block buffer back
		w.open = false
	}
}

// StagedBatch is the index of one batch's staged rows: its parts (objects) in order, and in
// each the byte range of each day's record batches. It is kept in the batch's done record
// (BatchDone.Staged) and read by Merge.
type StagedBatch struct {
	Parts []StagedPart `json:"parts"`
}

// StagedPart is one staged object of a batch.
type StagedPart struct {
	Name   string      `json:"name"`   // the object, relative to the lake's root
	Bytes  int64       `json:"bytes"`  // its size
	Header int64       `json:"header"` // bytes before its first record batch: magic and schema
	Days   []StagedDay `json:"days"`   // in day order
	// Format is what its record batches hold (stagedcols.go): 0 (absent, the binaries
	// before) the messages schema's columns, 1 the compact staged columns.
	Format int `json:"format,omitempty"`
}

// StagedDay is where one day's rows are in a staged part: the record batches in
// [Offset, Offset+Length) of the object, Rows rows in all.
type StagedDay struct {
	Day    string `json:"day"`
	Rows   int64  `json:"rows"`
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
}

// stagedSegment is one day's rows in one staged part.
type stagedSegment struct {
	part StagedPart
	day  StagedDay
}

// segments returns the staged segments of day of the batches, in batch and part order.
func segmentsOf(batches []*StagedBatch, day string) []stagedSegment {
	var out []stagedSegment
	for _, b := range batches {
		if b == nil {
			continue
		}
		for _, p := range b.Parts {
			for _, d := range p.Days {
				if d.Day == day {
					out = append(out, stagedSegment{part: p, day: d})
				}
			}
		}
	}
	return out
}

// check validates an index read from a done record: names of the run's staged objects,
// ranges inside their object, days in order.
func (b *StagedBatch) check(plan, attempt string, batch int) error {
	for i, p := range b.Parts {
		if want := stagedBatchPath(plan, attempt, batch, i); p.Name != want && (len(b.Parts) != 1 || p.Name != batchDonePath(plan, attempt, batch)) {
			return fmt.Errorf("%w: part %d is %q, want %q", errBadIndex, i, p.Name, want)
		}
		prev := ""
		end := p.Header
		if p.Format != stagedFormatRows && p.Format != stagedFormatCompact && p.Format != stagedFormatFramed {
			return fmt.Errorf("%w: %s: staged format %d", errBadIndex, p.Name, p.Format)
		}
		for _, d := range p.Days {
			if err := checkDay(d.Day); err != nil || d.Day <= prev {
				return fmt.Errorf("%w: %s: day %q out of order", errBadIndex, p.Name, d.Day)
			}
			if d.Offset < end || d.Length <= 0 || d.Rows <= 0 || d.Offset+d.Length > p.Bytes {
				return fmt.Errorf("%w: %s: day %s at [%d, +%d) of %d bytes", errBadIndex, p.Name, d.Day, d.Offset, d.Length, p.Bytes)
			}
			prev, end = d.Day, d.Offset+d.Length
		}
	}
	return nil
}

// errBadIndex: a done record's index of staged rows does not describe staged objects.
var errBadIndex = errors.New("bad index of staged rows")

// doneBuffer is an empty buffer for a done object, one a batch before used if there is one: a
// batch's done object is some megabytes at 1M messages, and growing a new buffer to that size
// for each batch allocated 5% more bytes in all (BenchmarkEndToEnd/1M). A store's PutIf keeps
// nothing of the bytes it is given once it returns.
func (l *Lake) doneBuffer() *bytes.Buffer {
	if b, ok := l.doneBufs.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

// errInlineFull: a batch's staged rows did not fit in one part held in memory.
var errInlineFull = errors.New("staged rows past one part")

// FinishBatch stages the rows of s, a finished batch of the instance attempt of plan, and
// commits rec (its Staged set to their index) as the batch's done object: the rows inside it
// when s did not spill, else staged as parts of their own first. It is create-only: a batch
// already done keeps its first object, and that is no error. It must not run concurrently with
// s.Add or s.Close.
func (l *Lake) FinishBatch(ctx context.Context, plan, attempt string, batch int, s *Stage, rec *BatchDone) (BatchStats, error) {
	if err := errors.Join(checkID("plan", plan), checkID("attempt", attempt), checkBatch(batch)); err != nil {
		return BatchStats{}, fmt.Errorf("finish batch: %w", err)
	}
	if s == nil {
		return BatchStats{}, errors.New("finish batch: nil stage")
	}
	if err := s.flush(); err != nil {
		return BatchStats{}, fmt.Errorf("finish batch %d: %w", batch, err)
	}
	if !s.spilled() {
		buf := l.doneBuffer()
		defer l.doneBufs.Put(buf)
		idx, st, err := l.writeStagedBatch(ctx, s, plan, attempt, batch, buf)
		switch {
		case err == nil:
			r := *rec
			r.Staged = &idx
			if err := l.putDone(ctx, plan, attempt, batch, buf, &r); err != nil {
				return st, err
			}
			rec.Staged = r.Staged
			return st, nil
		case !errors.Is(err, errInlineFull):
			return st, fmt.Errorf("finish batch %d: %w", batch, err)
		}
	}
	idx, st, err := l.stageBatch(ctx, plan, attempt, batch, s)
	if err != nil {
		return st, err
	}
	rec.Staged = idx
	return st, l.markBatchDone(ctx, plan, attempt, batch, rec)
}

// putDone writes batch's done object: what buf holds (an Arrow IPC file, or nothing), then
// rec, appended to buf.
func (l *Lake) putDone(ctx context.Context, plan, attempt string, batch int, buf *bytes.Buffer, rec *BatchDone) error {
	js, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("mark batch %d done: %w", batch, err)
	}
	staged := buf.Len()
	appendRecord(buf, js)
	data := buf.Bytes()
	name := batchDonePath(plan, attempt, batch)
	_, err = l.store.PutIf(ctx, name, data, "")
	if errors.Is(err, storage.ErrPrecondition) {
		return nil // done by another process first: its object stands
	}
	if err != nil {
		return fmt.Errorf("mark batch %d done: %w", batch, err)
	}
	// A done object never changes once written: this process's publisher reads its record
	// from here rather than from the store (one request per batch on a cloud store), and its
	// rows from the local copy, if the store's objects are not local files.
	l.doneRecords.Store(name, js)
	if staged > 0 && l.copies != nil {
		l.keepCopy(name, data[:staged])
	}
	return nil
}

// keepCopy keeps data, the staged part name, as a local copy (stagedCopies) if the budget
// allows; a failure costs only the reads the copy would have saved.
func (l *Lake) keepCopy(name string, data []byte) {
	f, err := l.copies.create(name)
	if err == nil && f != nil {
		if _, err = f.Write(data); err != nil {
			l.copies.drop(f)
		} else {
			err = l.copies.keep(name, f, int64(len(data)))
		}
	}
	if err != nil {
		l.opts.Logger.Warn("the local copy of a staged part is not kept", "object", name, "error", err.Error())
	}
}

// writeStagedBatch writes the rows of s, day after day, as the staged objects of batch (parts
// of about stagedPartBytes at most) and returns their index. Nothing is written for a stage
// without rows. Every object is closed, and its Close checked, before the index is returned.
// With inline, the rows go into it as the one part of the batch's done object (done.go), and
// rows past one part are errInlineFull.
func (l *Lake) writeStagedBatch(ctx context.Context, s *Stage, plan, attempt string, batch int, inline *bytes.Buffer) (idx StagedBatch, st BatchStats, err error) {
	var w storage.Writer
	var sw *stagedWriter
	var part *StagedPart
	var local *os.File // the open part's local copy (stagedCopies), if it gets one
	defer func() {
		if err != nil && sw != nil {
			sw.abort()
		}
		if err != nil && w != nil {
			_ = w.Abort() // nothing becomes visible; a rerun of the batch writes it again
		}
		if err != nil && local != nil {
			l.copies.drop(local)
		}
	}()
	// closePart writes the open part's footer and commits it.
	cols, err := newStagedColumns(l.stagedFormat, s.constants())
	if err != nil {
		return idx, st, err
	}
	closePart := func() error {
		if err := sw.close(); err != nil {
			return fmt.Errorf("%s: %w", part.Name, err)
		}
		part.Bytes, sw = sw.size(), nil
		err := w.Close()
		w = nil // a failed Close leaves nothing to abort
		if err != nil {
			return fmt.Errorf("close %s: %w", part.Name, err)
		}
		if local != nil {
			f := local
			local = nil
			if err := l.copies.keep(part.Name, f, part.Bytes); err != nil {
				l.opts.Logger.Warn("the local copy of a staged part is not kept", "object", part.Name, "error", err.Error())
			}
		}
		st.Bytes += part.Bytes
		idx.Parts = append(idx.Parts, *part)
		part = nil
		return nil
	}
	// endSegment ends the open part's segment of a day, which is then all of its length.
	endSegment := func(seg *StagedDay) error {
		if err := sw.endSegment(); err != nil {
			return fmt.Errorf("%s: %w", part.Name, err)
		}
		seg.Length = sw.size() - seg.Offset
		return nil
	}
	for _, day := range s.sortedDays() {
		next, _, closeDay, ok, err := s.batches(day)
		if err != nil {
			return idx, st, err
		}
		if !ok {
			continue
		}
		err = func() error {
			defer closeDay()
			var seg *StagedDay // of the open part
			var dayRows int64
			for {
				rec, err := next()
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
				if rec.NumRows() == 0 {
					continue
				}
				if part == nil {
					if len(idx.Parts) > maxParts {
						return fmt.Errorf("more than %d staged parts of %d bytes", maxParts, l.partBytes)
					}
					if inline != nil {
						if len(idx.Parts) > 0 {
							return errInlineFull
						}
						part = &StagedPart{Name: batchDonePath(plan, attempt, batch)}
						w = bufferWriter{inline}
					} else {
						part = &StagedPart{Name: stagedBatchPath(plan, attempt, batch, len(idx.Parts))}
						if w, err = l.store.Create(ctx, part.Name); err != nil {
							w = nil
							return fmt.Errorf("create %s: %w", part.Name, err)
						}
					}
					var to io.Writer = w
					if l.copies != nil && inline == nil {
						if local, err = l.copies.create(part.Name); err != nil {
							l.opts.Logger.Warn("a staged part gets no local copy", "object", part.Name, "error", err.Error())
							local = nil
						}
						if local != nil {
							to = io.MultiWriter(w, local)
						}
					}
					if sw, err = newStagedWriter(to, l.opts.Allocator, stagedCompression, cols); err != nil {
						sw = nil
						return err
					}
					part.Header, part.Format = sw.header, cols.format
				}
				if seg == nil {
					part.Days = append(part.Days, StagedDay{Day: day, Offset: max(sw.size(), sw.header)})
					seg = &part.Days[len(part.Days)-1]
				}
				if err := sw.write(rec); err != nil {
					return fmt.Errorf("%s: %w", part.Name, err)
				}
				seg.Rows += rec.NumRows()
				dayRows += rec.NumRows()
				seg.Length = sw.size() - seg.Offset
				st.Rows += rec.NumRows()
				if sw.size() >= l.partBytes {
					if err := endSegment(seg); err != nil {
						return err
					}
					if err := closePart(); err != nil {
						return err
					}
					seg = nil
				}
			}
			if seg != nil {
				if err := endSegment(seg); err != nil {
					return err
				}
			}
			if dayRows > 0 {
				st.Days++
			}
			return nil
		}()
		if err != nil {
			return idx, st, fmt.Errorf("day %s: %w", day, err)
		}
	}
	if part != nil {
		if err := closePart(); err != nil {
			return idx, st, err
		}
	}
	return idx, st, nil
}

// bufferWriter is a staged part written into memory (the done object's, done.go).
type bufferWriter struct{ *bytes.Buffer }

func (bufferWriter) Close() error { return nil }
func (bufferWriter) Abort() error { return nil }

// ipcEOS is the Arrow IPC stream's end-of-stream marker.
var ipcEOS = []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}

// stagedHeader returns the first p.Header bytes of the staged part p (its magic and schema
// message), read once per part and process.
func (l *Lake) stagedHeader(ctx context.Context, p StagedPart) ([]byte, error) {
	if h, ok := l.headers.Load(p.Name); ok {
		return h.([]byte), nil
	}
	h, err := l.readRange(ctx, p.Name, 0, p.Header)
	if err != nil {
		return nil, fmt.Errorf("read the header of %s: %w", p.Name, err)
	}
	if int64(len(h)) != p.Header || !bytes.HasPrefix(h, []byte("ARROW1")) {
		return nil, fmt.Errorf("%w: %s: no Arrow file header of %d bytes", errCorruptStaged, p.Name, p.Header)
	}
	l.headers.Store(p.Name, h)
	return h, nil
}

// segmentStream opens one day's rows of a staged part as an Arrow IPC stream (segmentStreamOf),
// its record batches read with one ranged read.
func (l *Lake) segmentStream(ctx context.Context, seg stagedSegment) (io.ReadCloser, error) {
	h, err := l.stagedHeader(ctx, seg.part)
	if err != nil {
		return nil, err
	}
	rc, err := l.store.OpenRange(ctx, seg.part.Name, seg.day.Offset, seg.day.Length)
	if err != nil {
		return nil, fmt.Errorf("read day %s of %s: %w", seg.day.Day, seg.part.Name, err)
	}
	return segmentStreamOf(h, rc, seg.part.Format, &l.frames), nil
}

// segmentStreamOf is the Arrow IPC stream of one staged segment whose bytes body holds (as
// stored: a part's range of the day), behind the part's header: the schema message, the
// segment's record batches (format 2: its S2 stream decompressed), an end-of-stream marker.
// Closing it closes body.
func segmentStreamOf(header []byte, body io.ReadCloser, format int, frames *frameReaders) io.ReadCloser {
	r := &segmentReader{c: body}
	var batches io.Reader = body
	if format == stagedFormatFramed {
		r.frame, r.frames = frames.get(body), frames
		batches = r.frame
	}
	r.Reader = io.MultiReader(bytes.NewReader(header[ipcMagicLen:]), batches, bytes.NewReader(ipcEOS))
	return r
}

type segmentReader struct {
	io.Reader
	c      io.Closer
	frame  *s2.Reader // format 2
	frames *frameReaders
}

func (r *segmentReader) Close() error {
	if r.frame != nil {
		r.frames.put(r.frame)
		r.frame = nil
	}
	return r.c.Close()
}

// frameReaders lends S2 stream readers to the readers of format 2 segments (a Lake's, and its
// StagedFetch's): each holds buffers of about two blocks (stagedBlockSize), too much to make
// for every segment. A nil *frameReaders makes a reader each time.
type frameReaders struct{ pool sync.Pool }

func (p *frameReaders) get(r io.Reader) *s2.Reader {
	if p != nil {
		if zr, ok := p.pool.Get().(*s2.Reader); ok {
			zr.Reset(r)
			return zr
		}
	}
	return s2.NewReader(r, s2.ReaderMaxBlockSize(stagedBlockSize))
}

func (p *frameReaders) put(zr *s2.Reader) {
	zr.Reset(nil) // keeps no reference to the segment
	if p != nil {
		p.pool.Put(zr)
	}
}

// downloadSegment copies the bytes of one staged segment (its range of the part, as stored)
// into the local file path; openDownloaded reads them.
func (l *Lake) downloadSegment(ctx context.Context, seg stagedSegment, path string) error {
	rc, err := l.store.OpenRange(ctx, seg.part.Name, seg.day.Offset, seg.day.Length)
	if err != nil {
		return fmt.Errorf("download day %s of %s: %w", seg.day.Day, seg.part.Name, err)
	}
	n, err := copyToFile(path, rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != seg.day.Length {
		err = fmt.Errorf("%w: %d bytes, the index says %d", errCorruptStaged, n, seg.day.Length)
	}
	if err != nil {
		return fmt.Errorf("download day %s of %s: %w", seg.day.Day, seg.part.Name, err)
	}
	return nil
}

// openDownloaded reads the staged segment seg that downloadSegment copied into path, as the
// source name.
func (l *Lake) openDownloaded(ctx context.Context, seg stagedSegment, path, name string) (*fileSource, error) {
	h, err := l.stagedHeader(ctx, seg.part)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return openStreamSource(segmentStreamOf(h, f, seg.part.Format, &l.frames), name, seg.day.Rows, l.partColumns(seg.part))
}

// streamDecoder decodes the record batches of one staged segment's stream, in order, into
// record batches of the messages schema, and checks that they hold as many rows as the index
// says. It is the one reader of staged rows (and of a merge's spill of them, shard.go).
type streamDecoder struct {
	r    *ipc.Reader
	cols *stagedColumns
	cur  arrow.RecordBatch // the batch last returned, released by the next call
	rows int64
	want int64
}

// newStreamDecoder reads the stream r, whose staged columns columns returns (by StagedPart.Format
// and its schema), which must hold want rows.
func newStreamDecoder(r io.Reader, want int64, columns columnsOf) (d *streamDecoder, err error) {
	defer func() {
		if p := recover(); p != nil { // a corrupt stream can make the reader panic
			d, err = nil, fmt.Errorf("%w: %v", errCorruptStaged, p)
		}
	}()
	// A Go allocator of its own: the garbage collector frees what a merge keeps of a batch
	// (a row group's batches are retained until it is written).
	sr, err := ipc.NewReader(r, ipc.WithAllocator(memory.NewGoAllocator()))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCorruptStaged, err)
	}
	cols, err := columns(sr.Schema())
	if err != nil {
		sr.Release()
		return nil, err
	}
	return &streamDecoder{r: sr, cols: cols, want: want}, nil
}

// next returns the next record batch, owned by the decoder until the next call; io.EOF after
// the last.
func (d *streamDecoder) next() (rec arrow.RecordBatch, err error) {
	defer func() {
		if p := recover(); p != nil {
			rec, err = nil, fmt.Errorf("%w: %v", errCorruptStaged, p)
		}
	}()
	d.release()
	if !d.r.Next() {
		if err := d.r.Err(); err != nil {
			return nil, fmt.Errorf("%w: %w", errCorruptStaged, err)
		}
		if d.rows != d.want {
			return nil, fmt.Errorf("%w: %d rows, the index says %d", errCorruptStaged, d.rows, d.want)
		}
		return nil, io.EOF
	}
	staged := d.r.RecordBatch()
	d.rows += staged.NumRows()
	if err := checkArrays(staged); err != nil {
		return nil, fmt.Errorf("%w: %w", errCorruptStaged, err)
	}
	if d.cur, err = d.cols.decode(staged); err != nil {
		return nil, err
	}
	return d.cur, nil
}

func (d *streamDecoder) release() {
	if d.cur != nil {
		d.cur.Release()
		d.cur = nil
	}
}

func (d *streamDecoder) close() {
	d.release()
	d.r.Release()
}

// DecodeStagedDay returns the rows of day d of the staged part p, whose object holds obj, as
// record batches of the messages schema (schema.Messages()), whatever the part's format: what
// a publisher reads of it. It is for tests and tools that hold a staged object's bytes (the
// pipelines' upgrade tests rewrite staged rows as the binaries before staged them); the caller
// releases the batches. A part that does not decode as its index says is an error matching
// no sentinel of this package's API but naming the part.
func DecodeStagedDay(obj []byte, p StagedPart, d StagedDay) ([]arrow.RecordBatch, error) {
	if p.Header < ipcMagicLen || p.Header > int64(len(obj)) || d.Offset < p.Header || d.Length < 0 || d.Offset+d.Length > int64(len(obj)) {
		return nil, fmt.Errorf("%s: %w: day %s at [%d, +%d) of %d bytes", p.Name, errCorruptStaged, d.Day, d.Offset, d.Length, len(obj))
	}
	stream := segmentStreamOf(obj[:p.Header], io.NopCloser(bytes.NewReader(obj[d.Offset:d.Offset+d.Length])), p.Format, nil)
	defer stream.Close()
	dec, err := newStreamDecoder(stream, d.Rows, formatColumns(p.Format))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Name, err)
	}
	defer dec.close()
	var out []arrow.RecordBatch
	for {
		rec, err := dec.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			for _, r := range out {
				r.Release()
			}
			return nil, fmt.Errorf("%s, day %s: %w", p.Name, d.Day, err)
		}
		rec.Retain()
		out = append(out, rec)
	}
}

// errCorruptStaged: a staged file could not be decoded.
var errCorruptStaged = errors.New("corrupt staged file")

// ipcDecoder decodes the record batches of one staged Arrow IPC file, in order.
type ipcDecoder struct {
	r   *ipc.FileReader
	i   int
	cur arrow.RecordBatch // the batch last returned, released by the next call
}

func newIPCDecoder(r ipc.ReadAtSeeker) (d *ipcDecoder, err error) {
	defer func() {
		if p := recover(); p != nil { // a corrupt file can make the reader panic
			d, err = nil, fmt.Errorf("%w: %v", errCorruptStaged, p)
		}
	}()
	fr, err := ipc.NewFileReader(r, ipc.WithSchema(schema.Messages()), ipc.WithAllocator(memory.NewGoAllocator()))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCorruptStaged, err)
	}
	return &ipcDecoder{r: fr}, nil
}

// next returns the next record batch, owned by the decoder until the next call; io.EOF after
// the last.
func (d *ipcDecoder) next() (rec arrow.RecordBatch, err error) {
	defer func() {
		if p := recover(); p != nil {
			rec, err = nil, fmt.Errorf("%w: %v", errCorruptStaged, p)
		}
	}()
	d.release()
	if d.i == d.r.NumRecords() {
		return nil, io.EOF
	}
	rec, err = d.r.RecordBatchAt(d.i)
	if err != nil {
		return nil, fmt.Errorf("%w: record batch %d: %w", errCorruptStaged, d.i, err)
	}
	d.i++
	d.cur = rec
	if err := checkArrays(rec); err != nil {
		return nil, fmt.Errorf("%w: record batch %d: %w", errCorruptStaged, d.i-1, err)
	}
	return rec, nil
}

func (d *ipcDecoder) release() {
	if d.cur != nil {
		d.cur.Release()
		d.cur = nil
	}
}

func (d *ipcDecoder) close() {
	d.release()
	_ = d.r.Close()
}

// stagedToParquet is about the size of rows as staged files of format 0 (stagedcols.go) over
// their size as the lake's Parquet, by which the shard count of a day is chosen
// (Options.TargetFileSize). Measured by BenchmarkStagedFormat on the simulator's messages, in
// record batches of up to 512 rows as a Stage makes them: 4.5 at 143 rows per staged file, 3.6
// at 714, 3.4 at 2,856 (3.4 and 3.1 in batches of 8192 rows; a staged file has a fixed cost of
// about 8 KB, schema, footer and LZ4 frames, then about 124 bytes per row against 40 as
// Parquet); 5.5 on the tests' very repetitive rows. 3 is right for the large files where the
// shard count matters (a small day gets one shard either way) and errs toward more, smaller
// shards on small files, as the Parquet staged files did (their size was 2.5 times the lake's
// at 140 rows per file). The staged bytes are compressed (LZ4, less than Parquet's zstd), so
// the estimate follows the rows' content, not only their number.
//
// compactToParquet is the same for format 1: 3.2 at 143 rows per file, 2.2 at 714, 2.1 at
// 2,856 (2.1 in the 10M-message backfill: 840 MB staged, 404 MB of Parquet); 2 errs toward
// more shards as 3 does for format 0. For format 2 (BenchmarkStagedFormat's s2-framed): 2.3 at
// 143 rows per segment, 1.9 at 714, 1.8 at 2,856; framedToParquet, 7/4, errs toward more
// shards likewise.
const (
	stagedToParquet  = 3
	compactToParquet = 2
)

// framedToParquet is the ratio for format 2 as a fraction (num/den).
const framedToParquetNum, framedToParquetDen = 7, 4

// stagedParquetBytes is about how many bytes length bytes of staged rows of format make as
// the lake's Parquet.
func stagedParquetBytes(format int, length int64) int64 {
	switch format {
	case stagedFormatFramed:
		return length * framedToParquetDen / framedToParquetNum
	case stagedFormatCompact:
		return length / compactToParquet
	}
	return length / stagedToParquet
}

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
