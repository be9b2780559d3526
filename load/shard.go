package load

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// shardFile is one file written: a Parquet shard (to staging), or a batch's staged rows of a day.
type shardFile struct {
	shard    int
	name     string // base name
	rows     int64
	bytes    int64
	min, max time.Time
}

// shardOf is the shard of a message key: fnv-1a-64(key) mod p.
func shardOf(key string, p int) int {
	return int(keyHash(key) % uint64(p))
}

// shardWriter writes rows of record batches into the object dst as one Parquet file of day's
// rows, Options.RowGroupRows rows at a time, each row group sorted by (channel_user_id,
// sent_at, message_key) and gathered by columns (gatherRecord, below). A row of another day, or a
// message_key twice, is an error (add) and nothing is written. Without rows nothing is
// written and close returns rows 0. It holds the batches of the row group being filled
// (retained, or a compact copy of the rows kept of a batch that keeps fewer than half) and a
// copy of every key written (for ErrDuplicateKey).
type shardWriter struct {
	l         *Lake
	ctx       context.Context
	lay       *msgLayout
	day       string
	dayNumber int64
	dst       string
	runID     string

	keys         map[string]struct{}
	sf           shardFile
	minMS, maxMS int64
	iota         []int32 // 0, 1, 2, ...: the rows of a batch kept whole (read only)

	pending     []pendingBatch
	pendingRows int

	w  storage.Writer
	fw *messageFileWriter
}

// pendingBatch is a batch (retained) and the rows of it that the row group being filled holds.
type pendingBatch struct {
	b    *msgBatch
	rows []int32
}

func (l *Lake) newShardWriter(ctx context.Context, lay *msgLayout, day, dst, runID string) (*shardWriter, error) {
	dayStart, err := schema.ParseDay(day)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dst, err)
	}
	return &shardWriter{l: l, ctx: ctx, lay: lay, day: day, dayNumber: utcDayNumber(dayStart), dst: dst, runID: runID,
		keys: make(map[string]struct{}, l.shardKeys.Load())}, nil
}

// all is the rows of a batch of n rows: 0 .. n-1.
func (w *shardWriter) all(n int) []int32 {
	for len(w.iota) < n {
		w.iota = append(w.iota, int32(len(w.iota)))
	}
	return w.iota[:n:n]
}

// add takes the rows of b (in that order) into the file. It retains b's record batch as long
// as it needs it; the caller keeps its own reference.
func (w *shardWriter) add(b *msgBatch, rows []int32) error {
	if len(rows) == 0 {
		return nil
	}
	if err := w.ctx.Err(); err != nil {
		return err
	}
	// One copy of the rows' keys, which the set of keys refers to.
	var kb strings.Builder
	size := 0
	for _, r := range rows {
		size += b.key.ValueLen(int(r))
	}
	kb.Grow(size)
	for _, r := range rows {
		kb.WriteString(b.key.Value(int(r)))
	}
	block := kb.String()
	for _, r := range rows {
		ms := int64(b.sent.Value(int(r)))
		if sentAt := time.UnixMilli(ms); utcDayNumber(sentAt) != w.dayNumber {
			return fmt.Errorf("message %s sent at %s is not of day %s", b.key.Value(int(r)), sentAt.UTC(), w.day)
		}
		n := b.key.ValueLen(int(r))
		k := block[:n]
		block = block[n:]
		if _, dup := w.keys[k]; dup {
			return fmt.Errorf("message_key %q: %w", k, ErrDuplicateKey)
		}
		w.keys[k] = struct{}{}
		if w.sf.rows == 0 || ms < w.minMS {
			w.minMS = ms
		}
		if w.sf.rows == 0 || ms > w.maxMS {
			w.maxMS = ms
		}
		w.sf.rows++
	}
	if 2*len(rows) < int(b.rec.NumRows()) {
		// Most of the batch is left out: keep a copy of the rows kept, not the batch.
		refs := make([]rowRef, len(rows))
		for i, r := range rows {
			refs[i] = rowRef{row: r}
		}
		rec, err := gatherRecord(w.l.opts.Allocator, w.lay, []*msgBatch{b}, refs)
		if err != nil {
			return fmt.Errorf("%s: %w", w.dst, err)
		}
		if b, err = w.lay.batch(rec); err != nil {
			rec.Release()
			return fmt.Errorf("%s: %w", w.dst, err)
		}
		rows = w.all(len(rows))
	} else {
		b.rec.Retain()
	}
	w.pending = append(w.pending, pendingBatch{b: b, rows: rows})
	w.pendingRows += len(rows)
	for w.pendingRows >= w.l.opts.RowGroupRows {
		if err := w.flush(w.l.opts.RowGroupRows); err != nil {
			return err
		}
	}
	return nil
}

// flush writes the first n pending rows as one row group.
func (w *shardWriter) flush(n int) error {
	buf := w.l.sortBufs.get()
	defer w.l.sortBufs.put(buf)
	refs := (*buf)[:0]
	defer func() { *buf = refs }()
	batches := make([]*msgBatch, 0, len(w.pending))
	left, used := n, 0
	for _, pb := range w.pending {
		if left == 0 {
			break
		}
		take := min(left, len(pb.rows))
		bi := int32(len(batches))
		batches = append(batches, pb.b)
		for _, r := range pb.rows[:take] {
			refs = append(refs, rowRef{user: pb.b.user.Value(int(r)), key: pb.b.key.Value(int(r)),
				sent: int64(pb.b.sent.Value(int(r))), batch: bi, row: r})
		}
		left -= take
		used++
	}
	slices.SortFunc(refs, compareRefs)
	rec, err := gatherRecord(w.l.opts.Allocator, w.lay, batches, refs)
	if err != nil {
		return fmt.Errorf("%s: %w", w.dst, err)
	}
	defer rec.Release()
	// The batches the row group used up go; the last one may go on into the next.
	for i := range used {
		pb := &w.pending[i]
		take := min(n, len(pb.rows))
		n -= take
		pb.rows = pb.rows[take:]
		if len(pb.rows) == 0 {
			pb.b.rec.Release()
			pb.b = nil
		}
	}
	rest := w.pending[:0]
	for _, pb := range w.pending {
		if pb.b != nil {
			rest = append(rest, pb)
		}
	}
	clear(w.pending[len(rest):])
	w.pending = rest
	w.pendingRows -= int(rec.NumRows())

	if w.w == nil {
		if w.w, err = w.l.store.Create(w.ctx, w.dst); err != nil {
			w.w = nil
			return fmt.Errorf("create %s: %w", w.dst, err)
		}
		if w.fw, err = newMessageFileWriterFormat(w.w, w.l.opts.Allocator, w.l.opts.RowGroupRows, w.runID, w.l.messageFileFormat()); err != nil {
			w.fw = nil
			return err
		}
	}
	if err := w.fw.writeRecord(rec); err != nil {
		return fmt.Errorf("%s: %w", w.dst, err)
	}
	return nil
}

// close writes what is pending and the footer, and closes the object (checking its Close). On
// an error the caller calls abort.
func (w *shardWriter) close() (shardFile, error) {
	if w.pendingRows > 0 {
		if err := w.flush(w.pendingRows); err != nil {
			return w.sf, err
		}
	}
	// The next shard's set of keys starts at this one's size (the days of a run are alike):
	// growing a set of 14k keys from nothing rehashed it a dozen times.
	w.l.shardKeys.Store(int64(len(w.keys)))
	if w.w == nil {
		return w.sf, nil
	}
	w.sf.min, w.sf.max = time.UnixMilli(w.minMS).UTC(), time.UnixMilli(w.maxMS).UTC()
	if err := w.fw.close(); err != nil {
		return w.sf, fmt.Errorf("%s: %w", w.dst, err)
	}
	w.sf.bytes = w.fw.size()
	w.fw = nil
	err := w.w.Close()
	w.w = nil // a failed Close leaves nothing to abort
	if err != nil {
		return w.sf, fmt.Errorf("close %s: %w", w.dst, err)
	}
	return w.sf, nil
}

// abort drops what the writer holds; nothing becomes visible (a later run sweeps what is left).
func (w *shardWriter) abort() {
	for _, pb := range w.pending {
		pb.b.rec.Release()
	}
	w.pending, w.pendingRows = nil, 0
	if w.fw != nil {
		w.fw.abort()
		w.fw = nil
	}
	if w.w != nil {
		_ = w.w.Abort()
		w.w = nil
	}
}

// sortBuffers lends buffers of row references to shardWriter.flush, one per row group being
// sorted at a time: a row group of 64Ki rows is 3 MiB of them, too much to grow afresh.
type sortBuffers struct{ pool sync.Pool }

func (r *sortBuffers) get() *[]rowRef {
	if b, ok := r.pool.Get().(*[]rowRef); ok {
		return b
	}
	return new([]rowRef)
}

// put takes a buffer back, cleared so that it keeps no batch's strings alive.
func (r *sortBuffers) put(b *[]rowRef) {
	clear((*b)[:cap(*b)])
	*b = (*b)[:0]
	r.pool.Put(b)
}

// readBatches reads every record batch of s as a msgBatch, in order, into fn, and closes s.
func readBatches(s *fileSource, lay *msgLayout, fn func(*msgBatch) error) error {
	defer s.close()
	for {
		rec, err := s.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		b, err := lay.batch(rec)
		if err != nil {
			return fmt.Errorf("read %s: %w", s.name, err)
		}
		if err := fn(b); err != nil {
			return err
		}
	}
}

// splitStaged reads a day's staged sources once and writes the rows of each of the p shards,
// in the order they were staged, to a local spill file of its own in tmp (an uncompressed
// Arrow IPC stream of the messages schema, stage.go), so that no staged segment is decoded
// once per shard. It returns the staged source of each shard: its spill file, or none.
func (l *Lake) splitStaged(ctx context.Context, lay *msgLayout, day string, staged []stagedSource, p int, tmp string) (_ [][]stagedSource, err error) {
	type spill struct {
		path string
		f    *os.File
		s    *spillStream
		rows int64
	}
	spills := make([]*spill, p)
	defer func() {
		for _, sp := range spills {
			if sp != nil && sp.f != nil { // left open by an error
				_ = sp.s.w.Close()
				_ = sp.f.Close()
			}
		}
	}()
	write := func(i int, b *msgBatch, refs []rowRef) error {
		sp := spills[i]
		if sp == nil {
			sp = &spill{path: filepath.Join(tmp, fmt.Sprintf("shard-%05d.arrows", i))}
			f, err := os.Create(sp.path)
			if err != nil {
				return fmt.Errorf("split staged rows: %w", err)
			}
			sp.f, sp.s = f, newSpillStream(f, l.opts.Allocator)
			spills[i] = sp
		}
		rec, err := gatherRecord(l.opts.Allocator, lay, []*msgBatch{b}, refs)
		if err != nil {
			return fmt.Errorf("split staged rows: %w", err)
		}
		defer rec.Release()
		if err := sp.s.Write(rec); err != nil {
			return fmt.Errorf("split staged rows into %s: %w", sp.path, err)
		}
		sp.rows += rec.NumRows()
		return nil
	}

	byShard := make([][]rowRef, p)
	for _, c := range staged {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, err := c.open()
		if err != nil {
			return nil, err
		}
		err = readBatches(s, lay, func(b *msgBatch) error {
			for i := range byShard {
				byShard[i] = byShard[i][:0]
			}
			for r := range int(b.rec.NumRows()) {
				i := shardOf(b.key.Value(r), p)
				byShard[i] = append(byShard[i], rowRef{row: int32(r)})
			}
			for i, refs := range byShard {
				if len(refs) > 0 {
					if err := write(i, b, refs); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}

	out := make([][]stagedSource, p)
	for i, sp := range spills {
		if sp == nil {
			continue
		}
		err := errors.Join(sp.s.w.Close(), sp.s.flush())
		if cerr := sp.f.Close(); err == nil {
			err = cerr
		}
		sp.f = nil
		if err != nil {
			return nil, fmt.Errorf("split staged rows into %s: %w", sp.path, err)
		}
		name := fmt.Sprintf("the staged rows of %s, shard %d", day, i)
		out[i] = []stagedSource{{name: name, open: func() (*fileSource, error) {
			f, err := os.Open(sp.path)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", name, err)
			}
			return openStreamSource(f, name, sp.rows, formatColumns(stagedFormatRows))
		}}}
	}
	return out, nil
}

// A merge moves rows from record batches (staged segments, old Parquet files) to the Parquet
// row groups it writes by columns: it keeps a batch's rows by their indexes, sorts a row
// group's indexes by (channel_user_id, sent_at, message_key), and gathers each column's
// values in that order into one new record batch (gatherRecord). No row becomes a Go value.

// msgLayout is the messages schema (schema.Messages()) and the places of the columns a merge
// reads: every batch it takes is checked against it and viewed in its column order.
type msgLayout struct {
	sch             *arrow.Schema
	user, key, sent int // channel_user_id, message_key, sent_at
}

func newMsgLayout() *msgLayout {
	sch := schema.Messages()
	index := func(name string) int { return sch.FieldIndices(name)[0] }
	return &msgLayout{sch: sch, user: index("channel_user_id"), key: index("message_key"), sent: index("sent_at")}
}

// msgBatch is a record batch of the messages table with its columns in the layout's order
// (a Parquet file's batch may hold them in another) and the three a merge reads per row.
type msgBatch struct {
	rec  arrow.RecordBatch
	cols []arrow.Array
	user *array.String
	key  *array.String
	sent *array.Timestamp
}

// batch views rec in the layout's column order; a missing column or one of another type is an
// error naming it. It does not retain rec.
func (lay *msgLayout) batch(rec arrow.RecordBatch) (*msgBatch, error) {
	b := &msgBatch{rec: rec, cols: make([]arrow.Array, lay.sch.NumFields())}
	if err := schema.MessageColumns(rec, lay.sch, b.cols); err != nil {
		return nil, err
	}
	b.user = b.cols[lay.user].(*array.String)
	b.key = b.cols[lay.key].(*array.String)
	b.sent = b.cols[lay.sent].(*array.Timestamp)
	return b, nil
}

// rowRef is one row of a row group: row of batch number batch, and what it sorts by.
type rowRef struct {
	user, key string // views of the batch's buffers
	sent      int64
	batch     int32
	row       int32
}

func compareRefs(a, b rowRef) int {
	if c := cmp.Compare(a.user, b.user); c != 0 {
		return c
	}
	if c := cmp.Compare(a.sent, b.sent); c != 0 {
		return c
	}
	return cmp.Compare(a.key, b.key)
}

// gatherRecord returns the rows refs names, in that order, as a new record batch of the
// layout's schema allocated from mem.
func gatherRecord(mem memory.Allocator, lay *msgLayout, batches []*msgBatch, refs []rowRef) (rec arrow.RecordBatch, err error) {
	fields := lay.sch.Fields()
	cols := make([]arrow.Array, 0, len(fields))
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for c, f := range fields {
		var col arrow.Array
		switch f.Type.ID() {
		case arrow.STRING:
			col, err = gatherStrings(mem, f.Type, typedColumn[*array.String](batches, c), refs)
		case arrow.TIMESTAMP:
			col = gatherTimestamps(mem, f.Type, typedColumn[*array.Timestamp](batches, c), refs)
		case arrow.LIST:
			col, err = gatherLists(mem, f.Type, typedColumn[*array.List](batches, c), refs)
		default:
			err = fmt.Errorf("column %q: type %s has no gather", f.Name, f.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		cols = append(cols, col)
	}
	return array.NewRecordBatch(lay.sch, cols, int64(len(refs))), nil
}

// typedColumn is column c of each batch (msgLayout.batch checked its type).
func typedColumn[A arrow.Array](batches []*msgBatch, c int) []A {
	out := make([]A, len(batches))
	for i, b := range batches {
		out[i] = b.cols[c].(A)
	}
	return out
}

// newBuffer is a buffer of n bytes from mem; zeroed if zero.
func newBuffer(mem memory.Allocator, n int, zero bool) *memory.Buffer {
	b := memory.NewResizableBuffer(mem)
	b.Resize(n)
	if zero {
		clear(b.Bytes())
	}
	return b
}

// makeArray makes an array of typ over buffers (and children), and drops the caller's
// references to them.
func makeArray(typ arrow.DataType, n int, buffers []*memory.Buffer, children []arrow.ArrayData, nulls int) arrow.Array {
	data := array.NewData(typ, n, buffers, children, nulls, 0)
	for _, b := range buffers {
		if b != nil {
			b.Release()
		}
	}
	for _, c := range children {
		c.Release()
	}
	defer data.Release()
	return array.MakeFromData(data)
}

func gatherStrings(mem memory.Allocator, typ arrow.DataType, arrs []*array.String, refs []rowRef) (arrow.Array, error) {
	n := len(refs)
	size, nulls := 0, 0
	for _, r := range refs {
		a := arrs[r.batch]
		if a.IsNull(int(r.row)) {
			nulls++
			continue
		}
		size += a.ValueLen(int(r.row))
	}
	if size > math.MaxInt32 {
		return nil, fmt.Errorf("%d bytes in one row group: more than a string column holds", size)
	}
	var valid *memory.Buffer
	var vb []byte
	if nulls > 0 {
		valid = newBuffer(mem, int(bitutil.BytesForBits(int64(n))), true)
		vb = valid.Bytes()
	}
	offsets := newBuffer(mem, arrow.Int32Traits.BytesRequired(n+1), false)
	offs := arrow.Int32Traits.CastFromBytes(offsets.Bytes())
	data := newBuffer(mem, size, false)
	d := data.Bytes()
	pos := 0
	for i, r := range refs {
		offs[i] = int32(pos)
		a := arrs[r.batch]
		if vb != nil {
			if a.IsNull(int(r.row)) {
				continue
			}
			bitutil.SetBit(vb, i)
		}
		pos += copy(d[pos:], a.Value(int(r.row)))
	}
	offs[n] = int32(pos)
	return makeArray(typ, n, []*memory.Buffer{valid, offsets, data}, nil, nulls), nil
}

func gatherTimestamps(mem memory.Allocator, typ arrow.DataType, arrs []*array.Timestamp, refs []rowRef) arrow.Array {
	n := len(refs)
	nulls := 0
	for _, r := range refs {
		if arrs[r.batch].IsNull(int(r.row)) {
			nulls++
		}
	}
	var valid *memory.Buffer
	var vb []byte
	if nulls > 0 {
		valid = newBuffer(mem, int(bitutil.BytesForBits(int64(n))), true)
		vb = valid.Bytes()
	}
	values := newBuffer(mem, arrow.TimestampTraits.BytesRequired(n), false)
	vals := arrow.TimestampTraits.CastFromBytes(values.Bytes())
	for i, r := range refs {
		a := arrs[r.batch]
		if vb != nil {
			if a.IsNull(int(r.row)) {
				vals[i] = 0
				continue
			}
			bitutil.SetBit(vb, i)
		}
		vals[i] = a.Value(int(r.row))
	}
	return makeArray(typ, n, []*memory.Buffer{valid, values}, nil, nulls)
}

// gatherLists gathers a list<utf8> column.
func gatherLists(mem memory.Allocator, typ arrow.DataType, arrs []*array.List, refs []rowRef) (arrow.Array, error) {
	lt, ok := typ.(*arrow.ListType)
	if !ok || lt.Elem().ID() != arrow.STRING {
		return nil, fmt.Errorf("type %s has no gather", typ)
	}
	items := make([]*array.String, len(arrs))
	for i, a := range arrs {
		s, ok := a.ListValues().(*array.String)
		if !ok {
			return nil, fmt.Errorf("list of %s, want strings", a.ListValues().DataType())
		}
		items[i] = s
	}
	n := len(refs)
	nulls, count, size, itemNulls := 0, 0, 0, 0
	for _, r := range refs {
		a := arrs[r.batch]
		if a.IsNull(int(r.row)) {
			nulls++
			continue
		}
		start, end := a.ValueOffsets(int(r.row))
		count += int(end - start)
		for j := start; j < end; j++ {
			if items[r.batch].IsNull(int(j)) {
				itemNulls++
				continue
			}
			size += items[r.batch].ValueLen(int(j))
		}
	}
	if size > math.MaxInt32 || count > math.MaxInt32 {
		return nil, fmt.Errorf("%d items of %d bytes in one row group: more than a list column holds", count, size)
	}
	var valid, itemValid *memory.Buffer
	var vb, ivb []byte
	if nulls > 0 {
		valid = newBuffer(mem, int(bitutil.BytesForBits(int64(n))), true)
		vb = valid.Bytes()
	}
	if itemNulls > 0 {
		itemValid = newBuffer(mem, int(bitutil.BytesForBits(int64(count))), true)
		ivb = itemValid.Bytes()
	}
	offsets := newBuffer(mem, arrow.Int32Traits.BytesRequired(n+1), false)
	offs := arrow.Int32Traits.CastFromBytes(offsets.Bytes())
	itemOffsets := newBuffer(mem, arrow.Int32Traits.BytesRequired(count+1), false)
	ioffs := arrow.Int32Traits.CastFromBytes(itemOffsets.Bytes())
	data := newBuffer(mem, size, false)
	d := data.Bytes()
	k, pos := 0, 0
	for i, r := range refs {
		offs[i] = int32(k)
		a := arrs[r.batch]
		if a.IsNull(int(r.row)) {
			continue
		}
		if vb != nil {
			bitutil.SetBit(vb, i)
		}
		start, end := a.ValueOffsets(int(r.row))
		for j := start; j < end; j++ {
			ioffs[k] = int32(pos)
			if !items[r.batch].IsNull(int(j)) {
				if ivb != nil {
					bitutil.SetBit(ivb, k)
				}
				pos += copy(d[pos:], items[r.batch].Value(int(j)))
			}
			k++
		}
	}
	offs[n] = int32(k)
	ioffs[count] = int32(pos)
	child := array.NewData(lt.Elem(), count, []*memory.Buffer{itemValid, itemOffsets, data}, nil, itemNulls, 0)
	for _, b := range []*memory.Buffer{itemValid, itemOffsets, data} {
		if b != nil {
			b.Release()
		}
	}
	return makeArray(typ, n, []*memory.Buffer{valid, offsets}, []arrow.ArrayData{child}, nulls), nil
}

// checkArrays checks that the buffers of every column of rec hold what its offsets and lengths
// say (the Arrow IPC format has no checksums: a damaged staged object can decode into
// offsets past its buffers), so that reading its values cannot go out of bounds.
func checkArrays(rec arrow.RecordBatch) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	for i, c := range rec.Columns() {
		if err := checkData(c.Data()); err != nil {
			return fmt.Errorf("column %q: %w", rec.ColumnName(i), err)
		}
	}
	return nil
}

func checkData(d arrow.ArrayData) error {
	n, off := d.Len(), d.Offset()
	if n == 0 {
		return nil
	}
	bufs := d.Buffers()
	if d.NullN() > 0 && (len(bufs) == 0 || bufLen(bufs[0])*8 < off+n) {
		return fmt.Errorf("a validity bitmap short of %d rows", off+n)
	}
	switch d.DataType().ID() {
	case arrow.STRING:
		return checkOffsets(bufs, n, off, bufLen(bufs[2]))
	case arrow.TIMESTAMP:
		if bufLen(bufs[1]) < arrow.TimestampTraits.BytesRequired(off+n) {
			return fmt.Errorf("values short of %d rows", off+n)
		}
	case arrow.INT16, arrow.INT32, arrow.BOOL, arrow.FIXED_SIZE_BINARY: // staged columns (stagedcols.go)
		if bits := d.DataType().(arrow.FixedWidthDataType).BitWidth(); bufLen(bufs[1])*8 < bits*(off+n) {
			return fmt.Errorf("values short of %d rows", off+n)
		}
	case arrow.LIST:
		child := d.Children()[0]
		if err := checkOffsets(bufs, n, off, child.Len()); err != nil {
			return err
		}
		return checkData(child)
	}
	return nil
}

// checkOffsets checks the offsets (bufs[1]) of n values from off: in order, from 0 to limit.
func checkOffsets(bufs []*memory.Buffer, n, off, limit int) error {
	if bufLen(bufs[1]) < arrow.Int32Traits.BytesRequired(off+n+1) {
		return fmt.Errorf("offsets short of %d rows", off+n)
	}
	offs := arrow.Int32Traits.CastFromBytes(bufs[1].Bytes())[off : off+n+1]
	if offs[0] < 0 || int(offs[n]) > limit {
		return fmt.Errorf("offsets from %d to %d, beyond %d", offs[0], offs[n], limit)
	}
	for i := range n {
		if offs[i+1] < offs[i] {
			return fmt.Errorf("offsets out of order at row %d", i)
		}
	}
	return nil
}

func bufLen(b *memory.Buffer) int {
	if b == nil {
		return 0
	}
	return b.Len()
}
