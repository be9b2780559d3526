package ddl

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docOptions reads the options tables of docs/schema.md: for each heading "### ... (`--engine
// NAME`)" (a Hive lake) or "### ... (`--engine NAME --table-format iceberg`)" (an Iceberg lake),
// the first cells of the first table after it.
func docOptions(t *testing.T, format TableFormat) map[Engine][]string {
	t.Helper()
	if format == Iceberg {
		return docOptionsAfter(t, " --table-format iceberg")
	}
	return docOptionsAfter(t, "")
}

// docOptionsAfter is docOptions for the headings "### ... (`--engine NAME` + suffix + "`)".
func docOptionsAfter(t *testing.T, suffix string) map[Engine][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "docs", "schema.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	heading := regexp.MustCompile("^### .*\\(`--engine ([a-z]+)" + suffix + "`\\)")
	out := map[Engine][]string{}
	var cur Engine
	rows := 0 // table lines read under cur
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := heading.FindStringSubmatch(line); m != nil {
			cur, rows = Engine(m[1]), 0
			continue
		}
		if cur == "" {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			if rows > 0 {
				cur = ""
			}
			continue
		}
		rows++
		if rows <= 2 { // the header and the |---| line
			continue
		}
		cell := strings.TrimSpace(strings.Split(strings.Trim(line, "|"), "|")[0])
		out[cur] = append(out[cur], strings.Trim(cell, "`"))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDocumentedOptions: every option that docs/schema.md documents for an engine is in that
// engine's output, and the documentation covers the options this test requires.
func TestDocumentedOptions(t *testing.T) {
	required := map[Engine][]string{
		DuckDB:    {"read_parquet", "hive_partitioning = true", "hive_types"},
		BigQuery:  {"WITH PARTITION COLUMNS", "uris", "hive_partition_uri_prefix", "require_hive_partition_filter", "enable_list_inference"},
		Spark:     {"USING PARQUET", "PARTITIONED BY", "LOCATION", "MSCK REPAIR TABLE"},
		Trino:     {"external_location", "partitioned_by", "sync_partition_metadata"},
		Snowflake: {"CREATE STAGE", "STORAGE_INTEGRATION", "CREATE OR REPLACE EXTERNAL TABLE", "PARTITION BY", "PATTERN", "USE_LOGICAL_TYPE = TRUE", "REFRESH"},
		Athena: {"CREATE EXTERNAL TABLE", "PARTITIONED BY", "STORED AS PARQUET", "LOCATION", "projection.enabled",
			"projection.dt.type", "projection.dt.format", "projection.dt.range", "storage.location.template"},
	}
	doc := docOptions(t, Hive)
	for _, e := range Engines() {
		t.Run(string(e), func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, Options{Engine: e, Lake: strings.Replace(lakeFor(e), "b/p", "acme-lake/chat", 1), RequirePartitionFilter: e == BigQuery}); err != nil {
				t.Fatal(err)
			}
			if len(doc[e]) == 0 {
				t.Fatalf("docs/schema.md has no options table under a heading with (`--engine %s`)", e)
			}
			for _, opt := range doc[e] {
				if !strings.Contains(b.String(), opt) {
					t.Errorf("docs/schema.md documents %q, which the %s output lacks", opt, e)
				}
			}
			for _, opt := range required[e] {
				found := false
				for _, d := range doc[e] {
					found = found || strings.HasPrefix(d, strings.SplitN(opt, " ", 2)[0])
				}
				if !found {
					t.Errorf("docs/schema.md does not document %s's %q", e, opt)
				}
				if !strings.Contains(b.String(), opt) {
					t.Errorf("the %s output lacks %q", e, opt)
				}
			}
		})
	}
}

// TestDocumentedIcebergOptions: the same for an Iceberg lake, whose sections' headings end in
// "--table-format iceberg`)".
func TestDocumentedIcebergOptions(t *testing.T) {
	required := map[Engine][]string{
		DuckDB: {"INSTALL iceberg", "iceberg_scan", "allow_moved_paths = true", "unsafe_enable_version_guessing"},
		Spark: {"spark.sql.catalog.chatlake", "spark.sql.catalog.chatlake.type", "spark.sql.catalog.chatlake.uri",
			"spark.sql.catalog.chatlake.warehouse", "spark.sql.catalog.chatlake.jdbc.password"},
		Trino: {"connector.name=iceberg", "iceberg.catalog.type=jdbc", "iceberg.jdbc-catalog.catalog-name=chatlake",
			"iceberg.jdbc-catalog.driver-class", "iceberg.jdbc-catalog.connection-url", "iceberg.jdbc-catalog.default-warehouse-dir"},
		BigQuery:  {"CREATE OR REPLACE EXTERNAL TABLE", "WITH CONNECTION", "format = 'ICEBERG'", "uris"},
		Snowflake: {"CREATE OR REPLACE ICEBERG TABLE", "EXTERNAL_VOLUME", "CATALOG", "METADATA_FILE_PATH", "REFRESH"},
	}
	checkDocumented(t, docOptions(t, Iceberg), " --table-format iceberg", required, "postgres://lake_reader@pg.internal:5432/lakecat")
}

// TestDocumentedGlueOptions: the same for an Iceberg lake in a Glue catalog, whose sections'
// headings end in "--table-format iceberg --catalog glue:`)".
func TestDocumentedGlueOptions(t *testing.T) {
	required := map[Engine][]string{
		Spark:  {"spark.sql.catalog.chatlake.type glue", "spark.sql.catalog.chatlake.glue.id", "spark.sql.catalog.chatlake.warehouse"},
		Trino:  {"iceberg.catalog.type=glue", "hive.metastore.glue.region", "hive.metastore.glue.catalogid", "hive.metastore.glue.default-warehouse-dir"},
		Athena: {"CREATE DATABASE IF NOT EXISTS", "chatlake_glue.chatlake.messages"},
	}
	checkDocumented(t, docOptionsAfter(t, " --table-format iceberg --catalog glue:"), " --table-format iceberg --catalog glue:", required, "glue://123456789012")
}

// checkDocumented checks doc, the options tables of the headings ending in suffix, against each
// required engine's output for an Iceberg lake with catalog cat.
func checkDocumented(t *testing.T, doc map[Engine][]string, suffix string, required map[Engine][]string, cat string) {
	t.Helper()
	for e, req := range required {
		t.Run(string(e), func(t *testing.T) {
			var b bytes.Buffer
			o := iceberg(Options{Engine: e, Lake: "gs://acme-lake/chat", Catalog: cat})
			if e == Athena {
				o.Lake = "s3://acme-lake/chat"
			}
			if err := Write(&b, o); err != nil {
				t.Fatal(err)
			}
			if len(doc[e]) == 0 {
				t.Fatalf("docs/schema.md has no options table under a heading with (`--engine %s%s`)", e, suffix)
			}
			for _, opt := range doc[e] {
				if !strings.Contains(b.String(), opt) {
					t.Errorf("docs/schema.md documents %q, which the %s output lacks", opt, e)
				}
			}
			for _, opt := range req {
				found := false
				for _, d := range doc[e] {
					found = found || strings.HasPrefix(d, strings.SplitN(opt, " ", 2)[0])
				}
				if !found {
					t.Errorf("docs/schema.md does not document %s's %q", e, opt)
				}
				if !strings.Contains(b.String(), opt) {
					t.Errorf("the %s output lacks %q", e, opt)
				}
			}
		})
	}
}
