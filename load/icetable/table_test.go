package icetable_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/chatlake/chatlake/load/icetable"
)

func TestFieldIDs(t *testing.T) {
	sc := fieldSchema(t)
	want := map[string]string{"message_key": "1", "user_id": "2", "sent_at": "3", "options": "4"}
	for _, f := range sc.Fields() {
		id, ok := f.Metadata.GetValue("PARQUET:field_id")
		if !ok || id != want[f.Name] {
			t.Errorf("field %s: field id %q, want %q", f.Name, id, want[f.Name])
		}
	}
	ts := sc.Field(2).Type.(*arrow.TimestampType)
	if ts.Unit != arrow.Microsecond || ts.TimeZone != "UTC" {
		t.Errorf("sent_at is %s, want timestamp[us, tz=UTC]", ts)
	}
	elem := sc.Field(3).Type.(*arrow.ListType).ElemField()
	if id, _ := elem.Metadata.GetValue("PARQUET:field_id"); id != strconv.Itoa(5) || elem.Nullable {
		t.Errorf("options element: field id %q nullable %v, want 5, not nullable", id, elem.Nullable)
	}
	if sc.Field(0).Nullable || !sc.Field(1).Nullable {
		t.Errorf("nullability lost: %s", sc)
	}
}

func TestTableIsCreatedOnceAndRefusesAnotherShape(t *testing.T) {
	forEachCatalog(t, testTableIsCreatedOnceAndRefusesAnotherShape)
}

func testTableIsCreatedOnceAndRefusesAnotherShape(t *testing.T, newLake func(*testing.T) lake) {
	l := newLake(t)
	c := l.open(t)
	ctx := context.Background()
	first := l.table(t, c, "messages")
	if _, ok := first.Current(); ok {
		t.Error("a new table has a current snapshot")
	}
	if files, err := first.Files(ctx); err != nil || len(files) != 0 {
		t.Errorf("Files of a new table = %v, %v", files, err)
	}
	second := l.table(t, l.open(t), "messages") // idempotent, also from another catalog handle
	if second.Location() != first.Location() {
		t.Errorf("locations differ: %s, %s", second.Location(), first.Location())
	}

	extra := arrow.Field{Name: "extra", Type: arrow.BinaryTypes.String, Nullable: true}
	cases := []struct {
		name      string
		sc        *arrow.Schema
		location  string
		partition string
		want      error // nil: any error
	}{
		{"another schema", fieldSchema(t, extra), l.location("messages"), "sent_at", icetable.ErrTableMismatch},
		{"another location", fieldSchema(t), l.location("elsewhere"), "sent_at", icetable.ErrTableMismatch},
		{"no field ids", rawSchema(), l.location("messages"), "sent_at", icetable.ErrFieldIDs},
		{"field ids out of order", reversed(fieldSchema(t)), l.location("messages"), "sent_at", icetable.ErrFieldIDs},
		{"partition column missing", fieldSchema(t), l.location("messages"), "nope", nil},
		{"partition column not a time", fieldSchema(t), l.location("messages"), "user_id", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Table(ctx, "messages", tc.location, tc.sc, tc.partition)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Table = %v, want %v", err, tc.want)
			}
		})
	}
	// Another partition column on an existing table: a mismatch too.
	other := arrow.Field{Name: "received_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}}
	if _, err := c.Table(ctx, "t2", l.location("t2"), fieldSchema(t, other), "sent_at"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Table(ctx, "t2", l.location("t2"), fieldSchema(t, other), "received_at"); !errors.Is(err, icetable.ErrTableMismatch) {
		t.Fatalf("another partition column: %v, want ErrTableMismatch", err)
	}
}

// reversed returns sc's fields in reverse order (their field ids go with them).
func reversed(sc *arrow.Schema) *arrow.Schema {
	fs := sc.Fields()
	for i, j := 0, len(fs)-1; i < j; i, j = i+1, j-1 {
		fs[i], fs[j] = fs[j], fs[i]
	}
	return arrow.NewSchema(fs, nil)
}

// WithFieldIDs numbers the columns as FieldIDs (iceberg-go) does, keeps their types
// (milliseconds stay milliseconds), and makes a schema Table takes.
func TestWithFieldIDs(t *testing.T) {
	raw := rawSchema()
	got, err := icetable.WithFieldIDs(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := fieldSchema(t)
	id := func(f arrow.Field) string {
		v, _ := f.Metadata.GetValue("PARQUET:field_id")
		return v
	}
	lists := 0
	for i, f := range got.Fields() {
		w := want.Field(i)
		if id(f) == "" || id(f) != id(w) {
			t.Errorf("%s: field id %q, FieldIDs says %q", f.Name, id(f), id(w))
		}
		if lt, ok := f.Type.(*arrow.ListType); ok {
			lists++
			if a, b := id(lt.ElemField()), id(w.Type.(*arrow.ListType).ElemField()); a == "" || a != b {
				t.Errorf("%s element: field id %q, FieldIDs says %q", f.Name, a, b)
			}
			continue
		}
		if !arrow.TypeEqual(f.Type, raw.Field(i).Type) {
			t.Errorf("%s: type %s, want %s kept", f.Name, f.Type, raw.Field(i).Type)
		}
	}
	if lists == 0 {
		t.Error("the test schema has no list column: the element ids are not tested")
	}
	l := newLake(t)
	if _, err := l.open(t).Table(context.Background(), "messages", l.location("messages"), got, "sent_at"); err != nil {
		t.Errorf("Table refuses WithFieldIDs' schema: %v", err)
	}
}
