package load

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// An Iceberg lake's data files store timestamps in microseconds (fileFormat.iceberg); the
// lake's rows are in milliseconds everywhere else. millisOf converts what a merge reads back.

// millisOf returns rec with every timestamp[us] column as timestamp[ms] (same time zone; the
// values were written from milliseconds, so nothing is lost), or nil when rec has none. The
// caller owns the result.
func millisOf(mem memory.Allocator, rec arrow.RecordBatch) arrow.RecordBatch {
	sch := rec.Schema()
	var fields []arrow.Field
	var cols []arrow.Array
	for i, f := range sch.Fields() {
		ts, ok := f.Type.(*arrow.TimestampType)
		if !ok || ts.Unit != arrow.Microsecond {
			continue
		}
		if fields == nil {
			fields = append([]arrow.Field(nil), sch.Fields()...)
			cols = append([]arrow.Array(nil), rec.Columns()...)
		}
		ms := &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: ts.TimeZone}
		fields[i].Type = ms
		cols[i] = timestampMillis(mem, ms, rec.Column(i).(*array.Timestamp))
		defer cols[i].Release()
	}
	if fields == nil {
		return nil
	}
	md := sch.Metadata()
	return array.NewRecordBatch(arrow.NewSchema(fields, &md), cols, rec.NumRows())
}

func timestampMillis(mem memory.Allocator, typ *arrow.TimestampType, us *array.Timestamp) arrow.Array {
	b := array.NewTimestampBuilder(mem, typ)
	defer b.Release()
	b.Reserve(us.Len())
	for i := range us.Len() {
		if us.IsNull(i) {
			b.UnsafeAppendBoolToBitmap(false)
			continue
		}
		v := int64(us.Value(i))
		b.UnsafeAppend(arrow.Timestamp(floorDiv(v, 1000)))
	}
	return b.NewArray()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
