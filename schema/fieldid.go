package schema

import (
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
)

// FieldIDKey is the Arrow field metadata key that pqarrow writes as a Parquet column's field_id,
// and that Iceberg readers match a data file's columns by.
const FieldIDKey = "PARQUET:field_id"

// WithFieldIDs returns sc with a field id in every field's metadata, as an Iceberg table's data
// files need, numbered as Iceberg (iceberg-go) numbers a new table's columns: in order, depth
// first, a list column's element right after its column. (A later schema version's columns
// would get the next ids through an Iceberg schema update, which keeps every id the table has:
// its numbering then is the table's, not this one.)
func WithFieldIDs(sc *arrow.Schema) *arrow.Schema {
	fields := make([]arrow.Field, sc.NumFields())
	next := 1
	for i, f := range sc.Fields() {
		f.Metadata = fieldID(next)
		next++
		if lt, ok := f.Type.(*arrow.ListType); ok {
			elem := lt.ElemField()
			elem.Metadata = fieldID(next)
			next++
			f.Type = arrow.ListOfField(elem)
		}
		fields[i] = f
	}
	md := sc.Metadata()
	return arrow.NewSchema(fields, &md)
}

func fieldID(id int) arrow.Metadata {
	return arrow.NewMetadata([]string{FieldIDKey}, []string{strconv.Itoa(id)})
}
