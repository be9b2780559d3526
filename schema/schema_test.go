package schema

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ (review the diff before committing)")

// render is a readable, stable rendering of a schema: every field's position, name, type and
// nullability, then the schema metadata sorted by key.
func render(s *arrow.Schema) string {
	var b strings.Builder
	b.WriteString("columns:\n")
	for i, f := range s.Fields() {
		null := "NOT NULL"
		if f.Nullable {
			null = "NULL"
		}
		fmt.Fprintf(&b, "  %2d  %-18s  %-24s  %s\n", i+1, f.Name, f.Type, null)
	}
	b.WriteString("metadata:\n")
	md := s.Metadata()
	keys := append([]string(nil), md.Keys()...)
	sort.Strings(keys)
	for _, k := range keys {
		v, _ := md.GetValue(k)
		fmt.Fprintf(&b, "  %s = %s\n", k, v)
	}
	return b.String()
}

func TestSchemaGolden(t *testing.T) {
	tests := []struct {
		name   string
		schema *arrow.Schema
	}{
		{"messages", Messages()},
		{"users", Users()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(tt.schema)
			path := filepath.Join("testdata", tt.name+".schema.golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("schema %s changed; if intended, bump its version, update docs/schema.md and run go test -update.\ngot:\n%s\nwant:\n%s", tt.name, got, want)
			}
		})
	}
}

func TestSchemaMetadata(t *testing.T) {
	tests := []struct {
		schema         *arrow.Schema
		table, version string
	}{
		{Messages(), "messages", MessagesVersion},
		{Users(), "users", UsersVersion},
	}
	for _, tt := range tests {
		t.Run(tt.table, func(t *testing.T) {
			md := tt.schema.Metadata()
			if v, ok := md.GetValue(MetaTable); !ok || v != tt.table {
				t.Errorf("%s = %q, %v; want %q", MetaTable, v, ok, tt.table)
			}
			if v, ok := md.GetValue(MetaSchemaVersion); !ok || v != tt.version {
				t.Errorf("%s = %q, %v; want %q", MetaSchemaVersion, v, ok, tt.version)
			}
		})
	}
}

// docColumn is one row of a column table of docs/schema.md.
type docColumn struct {
	name, arrowType, nullable string
}

// docTables parses docs/schema.md: for each "## Table `NAME`" heading, the first Markdown table
// after it, whose first cells are column, Arrow type, DuckDB, BigQuery, nullable.
func docTables(t *testing.T) map[string][]docColumn {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "docs", "schema.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tables := map[string][]docColumn{}
	var (
		current string // table whose column table is being looked for or read
		inTable bool
		header  bool
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if name, ok := strings.CutPrefix(line, "## Table `"); ok {
			current, _, _ = strings.Cut(name, "`")
			inTable, header = false, false
			continue
		}
		if current == "" {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			if inTable { // the table ended
				current, inTable = "", false
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		switch {
		case !inTable:
			inTable, header = true, true
			want := []string{"column", "Arrow type", "DuckDB", "BigQuery", "nullable"}
			if len(cells) < len(want) {
				t.Fatalf("table %s: header %q, want it to start with %q", current, cells, want)
			}
			for i, w := range want {
				if cells[i] != w {
					t.Fatalf("table %s: header %q, want it to start with %q", current, cells, want)
				}
			}
		case header: // the |---|---| line
			header = false
		default:
			tables[current] = append(tables[current], docColumn{name: cells[0], arrowType: cells[1], nullable: cells[4]})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return tables
}

// TestDocDescribesEveryColumn keeps docs/schema.md in step with the schemas: same columns, same
// order, same Arrow types and nullability.
func TestDocDescribesEveryColumn(t *testing.T) {
	tables := docTables(t)
	for _, s := range []*arrow.Schema{Messages(), Users()} {
		name, _ := s.Metadata().GetValue(MetaTable)
		t.Run(name, func(t *testing.T) {
			doc, ok := tables[name]
			if !ok {
				t.Fatalf("docs/schema.md has no column table under \"## Table `%s`\"", name)
			}
			fields := s.Fields()
			if len(doc) != len(fields) {
				t.Errorf("docs/schema.md lists %d columns of %s, the schema has %d", len(doc), name, len(fields))
			}
			for i := range min(len(doc), len(fields)) {
				f, d := fields[i], doc[i]
				if d.name != f.Name {
					t.Errorf("column %d: doc says %q, schema has %q", i+1, d.name, f.Name)
					continue
				}
				if d.arrowType != f.Type.String() {
					t.Errorf("column %s: doc type %q, schema type %q", f.Name, d.arrowType, f.Type)
				}
				wantNull := "no"
				if f.Nullable {
					wantNull = "yes"
				}
				if d.nullable != wantNull {
					t.Errorf("column %s: doc nullable %q, want %q", f.Name, d.nullable, wantNull)
				}
			}
		})
	}
}
