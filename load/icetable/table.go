package icetable

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
)

// Table properties set when this package creates a table. Old metadata.json files are deleted
// after each commit beyond the last metadataVersionsKept.
const metadataVersionsKept = "10"

// Table is one Iceberg table of the catalog. Its methods are safe for concurrent use; they
// serialise on the handle, which caches the table's metadata as of its last load or commit.
type Table struct {
	cat   *Catalog
	ident table.Identifier
	name  string // namespace.table, for errors and logs

	mu  sync.Mutex
	tbl *table.Table
}

// FieldIDs returns sc with every field (nested ones included) carrying the PARQUET:field_id
// metadata that Iceberg assigns a new table's columns (top-level fields 1..n in order, then
// nested fields), and timestamps as microseconds: the schema the caller writes its Parquet files
// with and passes to Table. The schema-level metadata of sc is kept; field-level metadata other
// than the field id is not.
func FieldIDs(sc *arrow.Schema) (*arrow.Schema, error) {
	ice, err := toIcebergFresh(sc)
	if err != nil {
		return nil, err
	}
	md := sc.Metadata()
	meta := make(map[string]string, md.Len())
	for i, k := range md.Keys() {
		meta[k] = md.Values()[i]
	}
	out, err := table.SchemaToArrowSchema(ice, meta, true, false)
	if err != nil {
		return nil, fmt.Errorf("%w: converting back to Arrow: %w", ErrFieldIDs, err)
	}
	return out, nil
}

// WithFieldIDs returns sc with the field id Iceberg assigns a new table's columns in each
// field's PARQUET:field_id metadata, and a list column's element's, everything else kept
// (types, timestamp units, schema metadata): the schema of a caller whose rows are in other
// units than FieldIDs gives (pqarrow coerces them when writing). The ids come from iceberg-go's
// own numbering, as Table checks them. Columns of other nested types are ErrFieldIDs.
func WithFieldIDs(sc *arrow.Schema) (*arrow.Schema, error) {
	ice, err := toIcebergFresh(sc)
	if err != nil {
		return nil, err
	}
	id := func(n int) arrow.Metadata {
		return arrow.NewMetadata([]string{fieldIDKey}, []string{strconv.Itoa(n)})
	}
	fields := make([]arrow.Field, sc.NumFields())
	for i, f := range sc.Fields() {
		nf := ice.Field(i)
		f.Metadata = id(nf.ID)
		switch t := f.Type.(type) {
		case *arrow.ListType:
			lt, ok := nf.Type.(*iceberg.ListType)
			if !ok {
				return nil, fmt.Errorf("%w: column %s: a list in Arrow, %s in Iceberg", ErrFieldIDs, f.Name, nf.Type)
			}
			elem := t.ElemField()
			elem.Metadata = id(lt.ElementID)
			f.Type = arrow.ListOfField(elem)
		case arrow.NestedType:
			return nil, fmt.Errorf("%w: column %s: nested type %s", ErrFieldIDs, f.Name, f.Type)
		}
		fields[i] = f
	}
	md := sc.Metadata()
	return arrow.NewSchema(fields, &md), nil
}

// fieldIDKey is the Arrow field metadata key pqarrow writes as a Parquet column's field_id.
const fieldIDKey = "PARQUET:field_id"

// toIcebergFresh converts sc, ignoring any field ids it has, numbering fields as a new
// table's. The converter panics on types Iceberg lacks; that becomes an error here.
func toIcebergFresh(sc *arrow.Schema) (ice *iceberg.Schema, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: converting the Arrow schema: %v", ErrFieldIDs, r)
		}
	}()
	ice, err = table.ArrowSchemaToIcebergWithFreshIDs(sc, false)
	if err != nil {
		return nil, fmt.Errorf("%w: converting the Arrow schema: %w", ErrFieldIDs, err)
	}
	return ice, nil
}

// toIceberg converts sc using its field ids, which must be numbered as a new table's.
func toIceberg(sc *arrow.Schema) (ice *iceberg.Schema, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: converting the Arrow schema: %v (use FieldIDs)", ErrFieldIDs, r)
		}
	}()
	ice, err = table.ArrowSchemaToIceberg(sc, false, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: converting the Arrow schema: %w (use FieldIDs)", ErrFieldIDs, err)
	}
	fresh, err := iceberg.AssignFreshSchemaIDs(ice, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFieldIDs, err)
	}
	if !fresh.Equals(ice) {
		return nil, fmt.Errorf("%w: not numbered as Iceberg numbers a new table's columns (use FieldIDs)", ErrFieldIDs)
	}
	return ice, nil
}

// daySpec returns the partition spec day(column) over sc.
func daySpec(sc *iceberg.Schema, column string) (iceberg.PartitionSpec, error) {
	f, ok := sc.FindFieldByName(column)
	if !ok {
		return iceberg.PartitionSpec{}, fmt.Errorf("partition column %q is not in the schema", column)
	}
	if !(iceberg.DayTransform{}).CanTransform(f.Type) {
		return iceberg.PartitionSpec{}, fmt.Errorf("partition column %q has type %s: want a timestamp or date", column, f.Type)
	}
	return iceberg.NewPartitionSpec(iceberg.PartitionField{
		SourceIDs: []int{f.ID},
		FieldID:   1000,
		Name:      column + "_day",
		Transform: iceberg.DayTransform{},
	}), nil
}

// Table opens the table name of the catalog's namespace, creating it if missing at location (a
// URI such as file:///abs/dir/messages) with schema sc and partitioned by day(partitionColumn),
// format version 2. sc must carry field ids as FieldIDs returns them; timestamp[ms|us, UTC]
// columns become timestamptz. A table that exists with another schema, partition spec or
// location is ErrTableMismatch; in a catalog opened ReadOnly, a missing table is ErrNotFound.
func (c *Catalog) Table(ctx context.Context, name, location string, sc *arrow.Schema, partitionColumn string) (_ *Table, err error) {
	defer c.clean(&err)
	ident := append(table.Identifier{}, c.ns[0], name)
	full := strings.Join(ident, ".")
	ice, err := toIceberg(sc)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", full, err)
	}
	spec, err := daySpec(ice, partitionColumn)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", full, err)
	}
	location = strings.TrimRight(location, "/")
	if location == "" {
		return nil, fmt.Errorf("table %s: empty location", full)
	}

	tbl, err := c.cat.LoadTable(ctx, ident)
	if errors.Is(err, catalog.ErrNoSuchTable) && c.ro {
		return nil, fmt.Errorf("table %s in catalog %s: %w", full, c.where, ErrNotFound)
	}
	if errors.Is(err, catalog.ErrNoSuchTable) {
		tbl, err = c.cat.CreateTable(ctx, ident, ice,
			catalog.WithLocation(location),
			catalog.WithPartitionSpec(&spec),
			catalog.WithProperties(iceberg.Properties{
				table.PropertyFormatVersion:               "2",
				table.MetadataDeleteAfterCommitEnabledKey: "true",
				table.MetadataPreviousVersionsMaxKey:      metadataVersionsKept,
				// Merge small manifests (as Java does by default) so that reading a snapshot's
				// files costs a bounded number of manifest reads, not one per past commit.
				table.ManifestMergeEnabledKey: "true",
			}))
		if errors.Is(err, catalog.ErrTableAlreadyExists) { // another process created it first
			tbl, err = c.cat.LoadTable(ctx, ident)
		} else if err == nil {
			c.logger.Info("iceberg table created", "table", full, "location", location)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("table %s in catalog %s: %w", full, c.where, err)
	}
	if err := sameTable(tbl, ice, spec, location); err != nil {
		return nil, fmt.Errorf("table %s in catalog %s: %w", full, c.where, err)
	}
	return &Table{cat: c, ident: ident, name: full, tbl: tbl}, nil
}

// sameTable checks that tbl has the schema, partition spec and location asked for.
func sameTable(tbl *table.Table, sc *iceberg.Schema, spec iceberg.PartitionSpec, location string) error {
	if !tbl.Schema().Equals(sc) {
		return fmt.Errorf("%w: its schema is %s, want %s", ErrTableMismatch, tbl.Schema(), sc)
	}
	have := tbl.Spec()
	if have.NumFields() != spec.NumFields() {
		return fmt.Errorf("%w: its partition spec is %s, want %s", ErrTableMismatch, &have, &spec)
	}
	for i := range have.NumFields() {
		a, b := have.Field(i), spec.Field(i)
		if a.SourceID() != b.SourceID() || a.Name != b.Name || !a.Transform.Equals(b.Transform) {
			return fmt.Errorf("%w: its partition spec is %s, want %s", ErrTableMismatch, &have, &spec)
		}
	}
	if got := strings.TrimRight(tbl.Location(), "/"); got != location {
		return fmt.Errorf("%w: its location is %s, want %s", ErrTableMismatch, got, location)
	}
	return nil
}

// Name returns the table's namespace-qualified name.
func (t *Table) Name() string { return t.name }

// Location returns the table's location URI.
func (t *Table) Location() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tbl.Location()
}

// refresh reloads the table from the catalog. Callers hold t.mu.
func (t *Table) refresh(ctx context.Context) error {
	tbl, err := t.cat.cat.LoadTable(ctx, t.ident)
	if err != nil {
		return fmt.Errorf("reloading table %s: %w", t.name, err)
	}
	t.tbl = tbl
	return nil
}

// Refresh reloads the table's metadata from the catalog (Current then shows the latest commit).
func (t *Table) Refresh(ctx context.Context) (err error) {
	defer t.cat.clean(&err)
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.refresh(ctx)
}
