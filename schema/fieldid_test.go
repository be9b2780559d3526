package schema_test

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/chatlake/chatlake/schema"
)

func TestWithFieldIDs(t *testing.T) {
	id := func(f arrow.Field) string {
		v, _ := f.Metadata.GetValue(schema.FieldIDKey)
		return v
	}
	for _, tc := range []struct {
		sc              *arrow.Schema
		column, want    string
		element, elemID string
	}{
		{sc: schema.Messages(), column: "customer_id", want: "1"},
		{sc: schema.Messages(), column: "sent_at", want: "9"},
		{sc: schema.Messages(), column: "options", want: "15", elemID: "16"},
		{sc: schema.Messages(), column: "extracted_at", want: "23"},
		{sc: schema.Users(), column: "selectors", want: "8", elemID: "9"},
		{sc: schema.Users(), column: "extracted_at", want: "12"},
	} {
		sc := schema.WithFieldIDs(tc.sc)
		if !sc.Metadata().Equal(tc.sc.Metadata()) {
			t.Errorf("schema metadata changed: %v", sc.Metadata())
		}
		f, ok := sc.FieldsByName(tc.column)
		if !ok {
			t.Fatalf("no column %s", tc.column)
		}
		if got := id(f[0]); got != tc.want {
			t.Errorf("%s: field id %q, want %q", tc.column, got, tc.want)
		}
		if tc.elemID != "" {
			if got := id(f[0].Type.(*arrow.ListType).ElemField()); got != tc.elemID {
				t.Errorf("%s element: field id %q, want %q", tc.column, got, tc.elemID)
			}
		}
		seen := map[string]bool{}
		for _, f := range sc.Fields() {
			if seen[id(f)] || id(f) == "" {
				t.Errorf("column %s: field id %q missing or not unique", f.Name, id(f))
			}
			seen[id(f)] = true
		}
	}
	// The schema itself is untouched: Hive files carry no ids.
	for _, f := range schema.Messages().Fields() {
		if f.HasMetadata() {
			t.Errorf("Messages() column %s has metadata %v", f.Name, f.Metadata)
		}
	}
}
