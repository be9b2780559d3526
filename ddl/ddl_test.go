package ddl

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/chatlake/chatlake/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestGolden: the definitions for BigQuery, Spark, Trino, Athena, Snowflake (and DuckDB on
// GCS, and every engine on an Iceberg lake) are the files under testdata/. They cannot be run
// here, so a change to them is seen in review; go test ./ddl -update rewrites them.
func TestGolden(t *testing.T) {
	cases := []struct {
		name string
		o    Options
	}{
		{"bigquery", Options{Engine: BigQuery, Lake: "gs://acme-lake/chat"}},
		{"bigquery-require-partition-filter", Options{Engine: BigQuery, Lake: "gs://acme-lake/chat/", Schema: "acme-analytics.chat", RequirePartitionFilter: true}},
		{"spark", Options{Engine: Spark, Lake: "gs://acme-lake/chat"}},
		{"trino", Options{Engine: Trino, Lake: "gs://acme-lake/chat", SessionGap: 45 * time.Minute, ReplyWindow: 48 * time.Hour}},
		{"duckdb-gcs", Options{Engine: DuckDB, Lake: "gs://acme-lake/chat", Schema: "chat"}},
		{"athena", Options{Engine: Athena, Lake: "s3://acme-lake/chat/", FirstDay: "2024-01-01"}},
		{"snowflake-azure", Options{Engine: Snowflake, Lake: "az://acmelake.blob.core.windows.net/chat-lake/chat"}},
		{"snowflake-s3", Options{Engine: Snowflake, Lake: "s3://acme-lake/chat/", Schema: "analytics.chat", StorageIntegration: "acme_s3"}},
		// An Iceberg lake: one per engine (Athena's on a Glue catalog), and Spark's and Trino's on Glue.
		{"iceberg-duckdb", Options{Engine: DuckDB, Lake: "/data/chat-lake", TableFormat: Iceberg}},
		{"iceberg-spark", Options{Engine: Spark, Lake: "gs://acme-lake/chat", TableFormat: Iceberg,
			Catalog: "postgres://lake_reader:not-printed@pg.internal:5432/lakecat?sslmode=require"}},
		{"iceberg-trino", Options{Engine: Trino, Lake: "s3://acme-lake/chat", TableFormat: Iceberg, Schema: "lake.chat",
			Catalog: "postgres://lake_reader@pg.internal:5432/lakecat", SessionGap: 45 * time.Minute}},
		{"iceberg-bigquery", Options{Engine: BigQuery, Lake: "gs://acme-lake/chat", TableFormat: Iceberg}},
		{"iceberg-snowflake", Options{Engine: Snowflake, Lake: "gs://acme-lake/chat", TableFormat: Iceberg}},
		{"iceberg-athena", Options{Engine: Athena, Lake: "s3://acme-lake/chat", TableFormat: Iceberg, Catalog: "glue:"}},
		{"iceberg-spark-glue", Options{Engine: Spark, Lake: "s3://acme-lake/chat", TableFormat: Iceberg, Catalog: "glue://123456789012"}},
		{"iceberg-trino-glue", Options{Engine: Trino, Lake: "s3://acme-lake/chat", TableFormat: Iceberg, Schema: "lake.chat", Catalog: "glue:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, tc.o); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.name+".sql")
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./ddl -update to create it)", err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("%s differs from %s (go test ./ddl -update rewrites it):\n%s", tc.name, path, firstDiff(got, string(want)))
			}
		})
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got  %s\n want %s", i+1, gl, wl)
		}
	}
	return ""
}

// TestEveryColumnInEveryEngine: each engine's table definition lists every column of the
// schemas, in order, with the engine's type for its Arrow type, and the partition column last.
func TestEveryColumnInEveryEngine(t *testing.T) {
	want := map[Engine]map[string]string{ // Arrow type -> the engine's type, written out again here
		DuckDB:    {"utf8": "VARCHAR", "timestamp[ms, tz=UTC]": "TIMESTAMP WITH TIME ZONE", "list<item: utf8, nullable>": "VARCHAR[]"},
		BigQuery:  {"utf8": "STRING", "timestamp[ms, tz=UTC]": "TIMESTAMP", "list<item: utf8, nullable>": "ARRAY<STRING>"},
		Spark:     {"utf8": "STRING", "timestamp[ms, tz=UTC]": "TIMESTAMP", "list<item: utf8, nullable>": "ARRAY<STRING>"},
		Trino:     {"utf8": "varchar", "timestamp[ms, tz=UTC]": "timestamp(3)", "list<item: utf8, nullable>": "array(varchar)"},
		Snowflake: {"utf8": "VARCHAR", "timestamp[ms, tz=UTC]": "TIMESTAMP_LTZ", "list<item: utf8, nullable>": "ARRAY"},
		Athena:    {"utf8": "STRING", "timestamp[ms, tz=UTC]": "TIMESTAMP", "list<item: utf8, nullable>": "ARRAY<STRING>"},
	}
	for _, e := range Engines() {
		t.Run(string(e), func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, Options{Engine: e, Lake: lakeFor(e)}); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, s := range []*arrow.Schema{schema.Messages(), schema.Users()} {
				table, _ := s.Metadata().GetValue(schema.MetaTable)
				part := map[string]string{"messages": "dt", "users": "snapshot_date"}[table]
				pos := 0
				for _, f := range s.Fields() {
					line := "  " + f.Name
					if e != DuckDB { // DuckDB's views select the columns; the others declare them
						typ, ok := want[e][listNullable(f.Type.String())]
						if !ok {
							t.Fatalf("test has no %s type for %s", e, f.Type)
						}
						line += " " + typ
						if e == Snowflake { // each column is an expression on the file's row
							line += " AS (VALUE:" + f.Name + "::" + typ + ")"
						}
					}
					i := strings.Index(out[pos:], "\n"+line+",\n")
					if j := strings.Index(out[pos:], "\n"+line+"\n"); i < 0 || (j >= 0 && j < i) {
						i = j
					}
					if i < 0 {
						t.Fatalf("%s.%s: no line %q after offset %d", table, f.Name, line, pos)
					}
					pos += i + 1 + len(line)
				}
				rest := out[pos:]
				next := map[Engine]string{
					BigQuery: "WITH PARTITION COLUMNS (" + part + " DATE)",
					Athena:   "PARTITIONED BY (" + part + " STRING)",
				}[e]
				if next == "" {
					next = ",\n  " + part
				}
				if !strings.HasPrefix(rest, next) && !strings.HasPrefix(rest, "\n)\n"+next) {
					t.Errorf("%s: %q does not follow the last column: %.60q", table, next, rest)
				}
			}
		})
	}
}

// lakeFor is a lake that engine e reads: Athena reads only s3://.
func lakeFor(e Engine) string {
	if e == Athena {
		return "s3://b/p"
	}
	return "gs://b/p"
}

// listNullable names list types the way the test's table does, whatever arrow-go prints for
// non-nullable items.
func listNullable(s string) string {
	if strings.HasPrefix(s, "list<") {
		return "list<item: utf8, nullable>"
	}
	return s
}

func TestOptionErrors(t *testing.T) {
	cases := []struct {
		name  string
		o     Options
		field string
		want  string
	}{
		{"no engine", Options{Lake: "lake"}, "Engine", "required"},
		{"unknown engine", Options{Engine: "postgres", Lake: "lake"}, "Engine", `"postgres"`},
		{"no lake", Options{Engine: DuckDB}, "Lake", "required"},
		{"blank lake", Options{Engine: DuckDB, Lake: "  "}, "Lake", "required"},
		{"s3 lake", Options{Engine: Spark, Lake: "s3://b/p"}, "Lake", "unsupported scheme"},
		{"gs without bucket", Options{Engine: BigQuery, Lake: "gs:///p"}, "Lake", "gs://BUCKET/PREFIX"},
		{"relative file URL", Options{Engine: DuckDB, Lake: "file://lake"}, "Lake", "file:///"},
		{"quote in lake", Options{Engine: DuckDB, Lake: "/tmp/o'brien"}, "Lake", `"'"`},
		{"glob in lake", Options{Engine: DuckDB, Lake: "/tmp/l*"}, "Lake", `"*"`},
		{"local lake for bigquery", Options{Engine: BigQuery, Lake: "/data/lake"}, "Lake", "gs://"},
		{"s3 lake for bigquery", Options{Engine: BigQuery, Lake: "s3://b/p"}, "Lake", "unsupported scheme"},
		{"local lake for athena", Options{Engine: Athena, Lake: "/data/lake"}, "Lake", "s3://"},
		{"gs lake for athena", Options{Engine: Athena, Lake: "gs://b/p"}, "Lake", "s3://"},
		{"s3 without bucket", Options{Engine: Athena, Lake: "s3:///p"}, "Lake", "s3://BUCKET/PREFIX"},
		{"first day on trino", Options{Engine: Trino, Lake: "lake", Schema: "hive.c", FirstDay: "2024-01-01"}, "FirstDay", "Athena"},
		{"bad first day", Options{Engine: Athena, Lake: "s3://b", FirstDay: "2024-13-01"}, "FirstDay", `"2024-13-01"`},
		{"first day not padded", Options{Engine: Athena, Lake: "s3://b", FirstDay: "2024-1-01"}, "FirstDay", "YYYY-MM-DD"},
		{"negative gap", Options{Engine: DuckDB, Lake: "lake", SessionGap: -time.Minute}, "SessionGap", "-1m0s"},
		{"sub-millisecond gap", Options{Engine: DuckDB, Lake: "lake", SessionGap: 1500 * time.Microsecond}, "SessionGap", "milliseconds"},
		{"negative window", Options{Engine: DuckDB, Lake: "lake", ReplyWindow: -time.Hour}, "ReplyWindow", "-1h0m0s"},
		{"partition filter on spark", Options{Engine: Spark, Lake: "lake", RequirePartitionFilter: true}, "RequirePartitionFilter", "BigQuery"},
		{"bad schema", Options{Engine: Spark, Lake: "lake", Schema: "a b"}, "Schema", `"a b"`},
		{"trino schema without catalog", Options{Engine: Trino, Lake: "lake", Schema: "chatlake"}, "Schema", "CATALOG.SCHEMA"},
		{"bigquery schema with three parts", Options{Engine: BigQuery, Lake: "gs://b", Schema: "a.b.c"}, "Schema", "PROJECT.DATASET"},
		{"local lake for snowflake", Options{Engine: Snowflake, Lake: "/data/lake"}, "Lake", "cloud storage"},
		{"az lake without account for snowflake", Options{Engine: Snowflake, Lake: "az://chat-lake/chat"}, "Lake", "names the storage account"},
		{"az account without container for snowflake", Options{Engine: Snowflake, Lake: "az://acme.blob.core.windows.net/"}, "Lake", "no container"},
		{"snowflake schema without database", Options{Engine: Snowflake, Lake: "s3://b/p", Schema: "chat"}, "Schema", "DATABASE.SCHEMA"},
		{"storage integration on spark", Options{Engine: Spark, Lake: "lake", StorageIntegration: "x"}, "StorageIntegration", "Snowflake"},
		{"bad storage integration", Options{Engine: Snowflake, Lake: "s3://b/p", StorageIntegration: "a-b"}, "StorageIntegration", `"a-b"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := Write(&b, tc.o)
			var oe *OptionError
			if !errors.As(err, &oe) {
				t.Fatalf("err = %v, want an *OptionError", err)
			}
			if oe.Field != tc.field || !strings.Contains(oe.Msg, tc.want) {
				t.Errorf("err = %q (field %s), want field %s and %q", err, oe.Field, tc.field, tc.want)
			}
			if b.Len() != 0 {
				t.Errorf("wrote %d bytes on error", b.Len())
			}
		})
	}
}

// TestLakeForms: every lake form the export accepts gives the same root in the definitions;
// a relative directory is made absolute for every engine, DuckDB's views included (they must
// work from any other directory).
func TestLakeForms(t *testing.T) {
	abs, err := filepath.Abs("lake")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		engine Engine
		lake   string
		want   string // in the output
	}{
		{DuckDB, "lake", "read_parquet('" + filepath.ToSlash(abs) + "/messages/dt=*/*.parquet'"},
		{DuckDB, "./lake/", "read_parquet('" + filepath.ToSlash(abs) + "/messages/dt=*/*.parquet'"},
		{DuckDB, "/data/my lake", "read_parquet('/data/my lake/messages/dt=*/*.parquet'"},
		{DuckDB, "file:///data/lake", "read_parquet('/data/lake/users/snapshot_date=*/*.parquet'"},
		{DuckDB, "gs://b/p/", "read_parquet('gs://b/p/messages/dt=*/*.parquet'"},
		{Spark, "lake", "LOCATION 'file://" + filepath.ToSlash(abs) + "/messages'"},
		{Spark, "file:///data/lake", "LOCATION 'file:///data/lake/messages'"},
		{Trino, "/data/lake", "external_location = 'file:///data/lake/users'"},
		{Trino, "gs://b", "external_location = 'gs://b/messages'"},
		{BigQuery, "gs://b/p", "uris = ['gs://b/p/messages/*']"},
		{DuckDB, "s3://b/p/", "read_parquet('s3://b/p/messages/dt=*/*.parquet'"},
		{Trino, "s3://b/p", "external_location = 's3://b/p/messages'"},
		{Athena, "s3://b/p/", "LOCATION 's3://b/p/messages/'"},
		{Athena, "s3://b", "'storage.location.template' = 's3://b/users/snapshot_date=${snapshot_date}/'"},
		{Snowflake, "gs://b/p/", "URL = 'gcs://b/p/'"},
		{Snowflake, "s3://b", "URL = 's3://b/'"},
		{Snowflake, "azure://acme.blob.core.windows.net/c/p", "URL = 'azure://acme.blob.core.windows.net/c/p/'"},
		{Snowflake, "az://acme.blob.core.windows.net/c", "LOCATION = @chatlake.public.chatlake_lake/messages/"},
	}
	for _, tc := range cases {
		var b bytes.Buffer
		if err := Write(&b, Options{Engine: tc.engine, Lake: tc.lake}); err != nil {
			t.Fatalf("%s %s: %v", tc.engine, tc.lake, err)
		}
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("%s --lake %s: output lacks %q", tc.engine, tc.lake, tc.want)
		}
	}
}
