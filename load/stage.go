package load

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/chatlake/chatlake/schema"
)

// Stage is the rows of one unit of work, routed by day. Each day's rows become Arrow record
// batches (of up to spillBatchRows rows or about spillBatchBytes of values) as they
// are added; the stage holds them in memory while the lake's stages together hold less than
// Options.StageMemory, and otherwise spills: from then on each of its days is a local spill
// file (an Arrow IPC stream, below) under Options.TempDir, its batches held so far written
// there first. So a small unit of work costs no file, and a large one holds about
// StageMemory, plus per day staged up to one batch in builders and a 32 KiB write buffer.
//
// Add is safe for concurrent use. Publish reads the stage and must not run concurrently with
// Add or Close. Close removes every spill file and frees what the stage holds.
type Stage struct {
	tempDir  string // where its spill directory goes
	mem      memory.Allocator
	budget   *stageBudget
	builders *builderPool

	mu     sync.Mutex
	dir    string // its spill directory, made when it first spills: "" until the stage spilled
	days   map[string]*stageDay
	held   int64          // bytes of the record batches its days hold in memory
	consts batchConstants // whether its rows share customer_id, bot_key, run_id, extracted_at
	closed bool
	err    error // sticky: a failed write leaves the stage unusable
}

// stageBudget is the memory the stages of one Lake hold record batches in, together.
type stageBudget struct {
	limit int64
	used  atomic.Int64
}

// stageDay is the rows of one day of a Stage: record batches held in memory, or, once the
// stage spilled, a spill file with the stream written into it.
type stageDay struct {
	path string       // of its spill file, once the stage spilled
	b    batchBuilder // writes each full batch to the stageDay (Write)
	rows int64

	held      []arrow.RecordBatch
	heldBytes int64

	f      *os.File
	stream *spillStream
}

// Write takes one record batch of the day: into the spill stream once the day has one,
// else held in memory.
func (d *stageDay) Write(rec arrow.RecordBatch) error {
	if d.stream != nil {
		return d.stream.Write(rec)
	}
	rec.Retain()
	d.held = append(d.held, rec)
	d.heldBytes += recordBytes(rec)
	return nil
}

// recordBytes is the size of the buffers of rec's columns (arrow/util.TotalRecordSize would do,
// but that package brings a protobuf dependency with it).
func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, col := range rec.Columns() {
		n += dataBytes(col.Data())
	}
	return n
}

func dataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	return n
}

// spill opens the day's spill file and writes the batches it holds into it, releasing them;
// it returns how many bytes it released.
func (d *stageDay) spill(mem memory.Allocator) (int64, error) {
	if d.stream != nil {
		return 0, nil
	}
	f, err := os.OpenFile(d.path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	d.f = f
	d.stream = newSpillStream(f, mem)
	for _, rec := range d.held {
		if err := d.stream.Write(rec); err != nil {
			return 0, err
		}
	}
	released := d.heldBytes
	d.release()
	return released, nil
}

// release frees the batches the day holds in memory.
func (d *stageDay) release() {
	for _, rec := range d.held {
		rec.Release()
	}
	d.held, d.heldBytes = nil, 0
}

// NewStage creates an empty stage. Its spill directory, if it spills, is a new directory under
// Options.TempDir.
func (l *Lake) NewStage() (*Stage, error) {
	return &Stage{tempDir: l.opts.TempDir, mem: l.opts.Allocator, budget: l.stages, builders: l.builders,
		days: make(map[string]*stageDay)}, nil
}

// Dir is the stage's spill directory, "" if it has not spilled.
func (s *Stage) Dir() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dir
}

// Add stages rows, each under the UTC date of its SentAt.
func (s *Stage) Add(rows []schema.Message) error {
	if len(rows) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrStageClosed
	}
	if s.err != nil {
		return s.err
	}
	var day string
	var sd *stageDay
	var unixDay int64 // of day: rows come in runs of one day, and a day's name costs an allocation
	for i := range rows {
		if d := utcDayNumber(rows[i].SentAt); sd == nil || d != unixDay {
			day = dayOf(rows[i].SentAt)
			var err error
			if sd, err = s.day(day); err != nil {
				s.err = err
				return err
			}
			unixDay = d
		}
		s.consts.add(&rows[i])
		before := sd.heldBytes
		if err := sd.b.add(&rows[i]); err != nil {
			s.err = fmt.Errorf("stage day %s: %w", day, err)
			return s.err
		}
		if grown := sd.heldBytes - before; grown != 0 {
			s.held += grown
			s.budget.used.Add(grown)
		}
		sd.rows++
	}
	if !s.spilled() && (s.budget.limit == 0 || s.budget.used.Load() > s.budget.limit) {
		if err := s.spill(); err != nil {
			s.err = err
			return err
		}
	}
	return nil
}

// spill writes what every day of the stage holds in memory to its spill file, and makes the
// stage write to files from then on. s.mu is held.
func (s *Stage) spill() error {
	dir, err := os.MkdirTemp(s.tempDir, spillPrefix("stage"))
	if err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	s.dir = dir
	for day, sd := range s.days {
		sd.path = s.spillPath(day)
		released, err := sd.spill(s.mem)
		s.held -= released
		s.budget.used.Add(-released)
		if err != nil {
			return fmt.Errorf("stage day %s: %w", day, err)
		}
	}
	return nil
}

// spilled tells whether the stage writes to files (it spilled once). s.mu is held.
func (s *Stage) spilled() bool { return s.dir != "" }

// spillPath is the spill file of day, in the stage's spill directory.
func (s *Stage) spillPath(day string) string { return filepath.Join(s.dir, "dt="+day+".arrows") }

// utcDayNumber is the number of the UTC day of t since 1970-01-01 (negative before).
func utcDayNumber(t time.Time) int64 {
	sec := t.Unix()
	d := sec / 86400
	if sec%86400 < 0 {
		d--
	}
	return d
}

// day returns the stageDay of day, creating it (with its spill file if the stage spilled).
// s.mu is held.
func (s *Stage) day(day string) (*stageDay, error) {
	if sd := s.days[day]; sd != nil {
		return sd, nil
	}
	sd := &stageDay{}
	sd.b = batchBuilder{b: s.builders.get(), maxRows: spillBatchRows, maxBytes: spillBatchBytes, w: sd, pool: s.builders}
	if s.spilled() {
		sd.path = s.spillPath(day)
		if _, err := sd.spill(s.mem); err != nil {
			if sd.f != nil {
				sd.f.Close()
			}
			sd.b.release()
			return nil, fmt.Errorf("stage day %s: %w", day, err)
		}
	}
	s.days[day] = sd
	return sd, nil
}

// constants returns what the stage's rows share (stagedcols.go).
func (s *Stage) constants() batchConstants {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.consts
}

// Days returns the number of rows staged per day.
func (s *Stage) Days() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.days))
	for day, sf := range s.days {
		out[day] = sf.rows
	}
	return out
}

// sortedDays returns the staged days in order.
func (s *Stage) sortedDays() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	days := make([]string, 0, len(s.days))
	for day := range s.days {
		days = append(days, day)
	}
	sort.Strings(days)
	return days
}

// flush makes every row added so far readable: the rows in builders become a batch, and the
// write buffers of spill files are written out.
func (s *Stage) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrStageClosed
	}
	if s.err != nil {
		return s.err
	}
	for day, sd := range s.days {
		before := sd.heldBytes
		err := sd.b.writeBatch()
		if grown := sd.heldBytes - before; grown != 0 {
			s.held += grown
			s.budget.used.Add(grown)
		}
		if err == nil && sd.stream != nil {
			err = sd.stream.flush()
		}
		if err != nil {
			s.err = fmt.Errorf("stage day %s: %w", day, err)
			return s.err
		}
	}
	return nil
}

// open returns a reader of day's rows and their count (batches, read as rows).
func (s *Stage) open(day string) (r rowSource, rows int64, close func(), ok bool, err error) {
	next, rows, close, ok, err := s.batches(day)
	if !ok || err != nil {
		return nil, 0, nil, ok, err
	}
	return &batchRows{batch: next}, rows, close, true, nil
}

// batches returns a function that yields day's record batches in order (io.EOF after the
// last), and the day's row count; ok is false if nothing was staged for day. flush must have
// been called, and Add not since. The batches, and rows that view them, stay valid until
// Close; close releases the reader.
func (s *Stage) batches(day string) (next func() (arrow.RecordBatch, error), rows int64, close func(), ok bool, err error) {
	s.mu.Lock()
	sd := s.days[day]
	s.mu.Unlock()
	if sd == nil {
		return nil, 0, nil, false, nil
	}
	if sd.stream == nil {
		held := sd.held
		return func() (arrow.RecordBatch, error) {
			if len(held) == 0 {
				return nil, io.EOF
			}
			rec := held[0]
			held = held[1:]
			return rec, nil
		}, sd.rows, func() {}, true, nil
	}
	f, err := os.Open(sd.path)
	if err != nil {
		return nil, 0, nil, false, fmt.Errorf("stage day %s: %w", day, err)
	}
	read, release := spillBatches(f)
	next = func() (arrow.RecordBatch, error) {
		rec, err := read()
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("stage day %s: %w", day, err)
		}
		return rec, err
	}
	return next, sd.rows, func() { release(); f.Close() }, true, nil
}

// Close frees what the stage holds and removes its spill files. It is safe to call more
// than once.
func (s *Stage) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for _, sd := range s.days {
		sd.b.release()
		sd.release()
		if sd.f != nil {
			if err := sd.f.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	s.budget.used.Add(-s.held)
	s.held = 0
	s.days = nil
	if s.dir != "" {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close stage: %w", err)
	}
	return nil
}

// Filter returns a new stage, beside s, holding the rows of s that keep accepts; s is left as
// it is. Filter must not run concurrently with Add or Close of s.
func (s *Stage) Filter(keep func(*schema.Message) bool) (*Stage, error) {
	if err := s.flush(); err != nil {
		return nil, err
	}
	out := &Stage{tempDir: s.tempDir, mem: s.mem, budget: s.budget, builders: s.builders, days: make(map[string]*stageDay)}
	for _, day := range s.sortedDays() {
		r, _, closeDay, ok, err := s.open(day)
		if err != nil || !ok {
			if err != nil {
				out.Close()
				return nil, err
			}
			continue
		}
		var rows []schema.Message
		for {
			var m schema.Message
			err := r.next(&m)
			if err == io.EOF {
				break
			}
			if err != nil {
				closeDay()
				out.Close()
				return nil, fmt.Errorf("filter stage day %s: %w", day, err)
			}
			if keep(&m) {
				rows = append(rows, m)
			}
			if len(rows) == 4096 {
				if err := out.Add(rows); err != nil {
					closeDay()
					out.Close()
					return nil, err
				}
				rows = rows[:0]
			}
		}
		closeDay()
		if err := out.Add(rows); err != nil {
			out.Close()
			return nil, err
		}
	}
	return out, nil
}

// A Stage buffers the rows of one day in Arrow builders until spillBatchRows rows or about
// spillBatchBytes bytes of values, then makes them one record batch: held in memory, or
// written to the day's stream once the stage spilled; FinishBatch writes these batches as
// they are into the staged file. The byte bound is for large rows: smaller batches cost more
// per row (a 32 KiB bound made BenchmarkStageRoundTrip about 4 times slower, see
// docs/benchmarks.md).
const (
	spillBatchRows  = 512
	spillBatchBytes = 256 << 10
)

// batchBuilder buffers rows in Arrow builders and writes them to an IPC writer (a stream or a
// file) as one record batch every maxRows rows or about maxBytes bytes of values: the writer
// of a Stage's spill and of staged batch files.
type batchBuilder struct {
	b        *schema.MessageBuilder
	bytes    int // about how many bytes of values b holds
	maxRows  int
	maxBytes int
	w        interface{ Write(arrow.RecordBatch) error }
	pool     *builderPool // where an empty b goes back on release; nil: released
}

func newBatchBuilder(mem memory.Allocator, maxRows, maxBytes int, w interface{ Write(arrow.RecordBatch) error }) batchBuilder {
	return batchBuilder{b: schema.NewMessageBuilder(mem), maxRows: maxRows, maxBytes: maxBytes, w: w}
}

// add appends one row, writing a record batch when the builders are full.
func (bb *batchBuilder) add(m *schema.Message) error {
	if bb.b.Len() == 0 && bb.pool != nil {
		bb.b.Reserve(bb.pool.hint(bb.maxRows))
	}
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
	if bb.pool != nil {
		bb.pool.note(bb.b.Sizes())
	}
	rec := bb.b.NewRecord()
	defer rec.Release()
	bb.bytes = 0
	return bb.w.Write(rec)
}

// release frees the builders, or gives them back to their pool when they hold no row.
func (bb *batchBuilder) release() {
	if bb.pool != nil && bb.b.Len() == 0 {
		bb.pool.put(bb.b)
	} else {
		bb.b.Release()
	}
	bb.b = nil
}

// builderPool keeps empty row builders for the days of a Lake's stages. A run stages every
// day of every batch in builders of its own (1,400 of them for 100 batches of 14 days), and
// making one costs about 200 allocations; an empty builder holds no buffer, so one that a
// stage released serves the next.
//
// It also learns the size of the record batches its builders make: a builder that starts a
// record batch reserves room for half the average one (hint), so that its buffers are
// allocated once or twice rather than doubled from nothing on every batch (at 200k messages a
// batch of a day holds about 140 rows, and growing 22 columns' buffers from empty was a third
// of Stage.Add's CPU). Half, because every open day of every batch in flight holds its
// reservation (360 of them at 10M messages over 120 days), and a day that gets fewer rows
// leaves it unused until it is staged: at most half an average batch, where a doubling
// leaves up to as much as it holds.
type builderPool struct {
	mem  memory.Allocator
	pool sync.Pool

	mu      sync.Mutex
	batches int                 // record batches made
	made    schema.MessageSizes // their sizes, summed
}

// note counts a record batch of the sizes sz, about to be made.
func (p *builderPool) note(sz schema.MessageSizes) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.batches++
	p.made.Rows += sz.Rows
	p.made.Items += sz.Items
	p.made.ItemBytes += sz.ItemBytes
	for i, n := range sz.Data {
		p.made.Data[i] += n
	}
}

// hint is the room to reserve for a record batch of up to maxRows rows about to start: half
// the average of those made so far (none before the first).
func (p *builderPool) hint(maxRows int) schema.MessageSizes {
	p.mu.Lock()
	defer p.mu.Unlock()
	var h schema.MessageSizes
	if p.batches == 0 || p.made.Rows == 0 {
		return h
	}
	// Scaled by rows/made.Rows: half the average batch, cut to maxRows rows.
	rows := min(p.made.Rows/p.batches, maxRows) / 2
	scale := func(n int) int { return int(int64(n) * int64(rows) / int64(p.made.Rows)) }
	h.Rows, h.Items, h.ItemBytes = rows, scale(p.made.Items), scale(p.made.ItemBytes)
	for i, n := range p.made.Data {
		h.Data[i] = scale(n)
	}
	return h
}

func (p *builderPool) get() *schema.MessageBuilder {
	if b, ok := p.pool.Get().(*schema.MessageBuilder); ok {
		return b
	}
	return schema.NewMessageBuilder(p.mem)
}

func (p *builderPool) put(b *schema.MessageBuilder) { p.pool.Put(b) }

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

// The spill format of a Stage that spilled (stage.go): one Arrow IPC stream per day (the streaming format of the Arrow
// columnar specification, uncompressed), of the schema.Messages() schema, holding record
// batches of up to spillBatchRows rows (fewer when rows are large) in the order they were
// added. Any Arrow library reads it. It keeps what the lake's files keep: NULL apart from an
// empty string or list, and times as UTC milliseconds (finer digits are dropped here rather
// than when the Parquet is written). A stream has no end-of-stream marker until its stage is
// closed: a reader stops at the end of the last whole batch, and a cut batch is an error.

// spillBufferSize is the write buffer of one day's spill file.
const spillBufferSize = 32 << 10

// errCorruptSpill: a spill stream could not be decoded.
var errCorruptSpill = errors.New("corrupt spill stream")

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
