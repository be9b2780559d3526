package load

import (
	"cmp"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/chatlake/chatlake/schema"
)

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
	sch := rec.Schema()
	for i, f := range lay.sch.Fields() {
		idx := sch.FieldIndices(f.Name)
		if len(idx) != 1 {
			return nil, fmt.Errorf("messages record: column %q missing", f.Name)
		}
		col := rec.Column(idx[0])
		if !arrow.TypeEqual(col.DataType(), f.Type) {
			return nil, fmt.Errorf("messages record: column %q is %s, want %s", f.Name, col.DataType(), f.Type)
		}
		b.cols[i] = col
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
