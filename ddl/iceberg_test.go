package ddl

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/chatlake/chatlake/schema"
)

// iceberg is o on an Iceberg lake.
func iceberg(o Options) Options {
	o.TableFormat = Iceberg
	return o
}

// TestIcebergCatalogConfig: Spark's and Trino's catalog configuration names the catalog's
// database as the JDBC URL of its kind, the warehouse as the lake's URL and the file system
// of the lake's scheme; the views read the catalog's tables.
func TestIcebergCatalogConfig(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		want []string
		not  []string
	}{
		{"spark, local lake, default catalog", Options{Engine: Spark, Lake: "/data/lake"}, []string{
			"--   spark.sql.catalog.chatlake org.apache.iceberg.spark.SparkCatalog\n",
			"--   spark.sql.catalog.chatlake.type jdbc\n",
			"--   spark.sql.catalog.chatlake.uri jdbc:sqlite:/data/lake/_chatlake/catalog.db\n",
			"--   spark.sql.catalog.chatlake.warehouse file:///data/lake\n",
			"org.xerial:sqlite-jdbc",
			"CREATE DATABASE IF NOT EXISTS spark_catalog.chatlake;",
			"CREATE OR REPLACE VIEW spark_catalog.chatlake.sessions AS",
			"FROM chatlake.chatlake.messages\n",
			"FROM chatlake.chatlake.users u\n",
		}, []string{"jdbc.user", "jdbc.password", "io-impl"}},
		{"spark, s3 lake, postgres catalog", Options{Engine: Spark, Lake: "s3://acme/chat/", Schema: "analytics",
			Catalog: "postgres://lake_reader@pg.example.com:5433/lakecat?sslmode=verify-full"}, []string{
			"--   spark.sql.catalog.chatlake.uri jdbc:postgresql://pg.example.com:5433/lakecat?sslmode=verify-full\n",
			"--   spark.sql.catalog.chatlake.jdbc.user lake_reader\n",
			"--   spark.sql.catalog.chatlake.jdbc.password " + passwordPlaceholder + "\n",
			"--   spark.sql.catalog.chatlake.warehouse s3://acme/chat\n",
			"--   spark.sql.catalog.chatlake.io-impl org.apache.iceberg.aws.s3.S3FileIO\n",
			"org.postgresql:postgresql",
			"CREATE OR REPLACE VIEW spark_catalog.analytics.users_latest AS",
		}, []string{"query parameter"}},
		{"trino, gs lake, postgres catalog", Options{Engine: Trino, Lake: "gs://acme/chat", Schema: "lake.views",
			Catalog: "postgresql://pg:5432/cat?application_name=x&sslmode=require"}, []string{
			"-- etc/catalog/lake.properties:\n",
			"--   connector.name=iceberg\n",
			"--   iceberg.catalog.type=jdbc\n",
			"--   iceberg.jdbc-catalog.catalog-name=chatlake\n",
			"--   iceberg.jdbc-catalog.driver-class=org.postgresql.Driver\n",
			"--   iceberg.jdbc-catalog.connection-url=jdbc:postgresql://pg:5432/cat?sslmode=require\n",
			"--   iceberg.jdbc-catalog.connection-password=${ENV:CHATLAKE_CATALOG_PASSWORD}\n",
			"--   iceberg.jdbc-catalog.default-warehouse-dir=gs://acme/chat\n",
			"--   fs.native-gcs.enabled=true\n",
			"The catalog URI's 1 other query parameter(s) are left out",
			"CREATE SCHEMA IF NOT EXISTS lake.views;",
			"CREATE OR REPLACE VIEW lake.views.broadcasts AS",
			"FROM lake.chatlake.messages\n",
			"JOIN lake.chatlake.messages r\n",
			"date_diff('millisecond', TIMESTAMP '1970-01-01 00:00:00.000 UTC', sent_at)",
		}, []string{"connection-user", "application_name", "TIMESTAMP '1970-01-01 00:00:00.000',"}},
		{"trino, local lake", Options{Engine: Trino, Lake: "file:///data/lake"}, []string{
			"--   iceberg.jdbc-catalog.driver-class=org.sqlite.JDBC\n",
			"--   iceberg.jdbc-catalog.connection-url=jdbc:sqlite:/data/lake/_chatlake/catalog.db\n",
			"--   fs.hadoop.enabled=true\n",
			"plugin/iceberg/",
			"FROM chatlake.chatlake.users u\n",
		}, nil},
		{"duckdb, s3 lake", Options{Engine: DuckDB, Lake: "s3://acme/chat"}, []string{
			"FROM iceberg_scan('s3://acme/chat/messages', allow_moved_paths = true);",
			"FROM iceberg_scan('s3://acme/chat/users', allow_moved_paths = true);",
			"--   iceberg_scan('s3://acme/chat/messages/metadata/" + metadataPlaceholder + "')",
			"chatlake status --lake s3://acme/chat shows it",
			"CREATE SECRET (TYPE s3",
		}, []string{"read_parquet", "hive_partitioning"}},
		{"spark, s3 lake, glue catalog of another account", Options{Engine: Spark, Lake: "s3://acme/chat", Catalog: "glue://123456789012"}, []string{
			"--   spark.sql.catalog.chatlake org.apache.iceberg.spark.SparkCatalog\n",
			"--   spark.sql.catalog.chatlake.type glue\n",
			"--   spark.sql.catalog.chatlake.glue.id 123456789012\n",
			"--   spark.sql.catalog.chatlake.warehouse s3://acme/chat\n",
			"--   spark.sql.catalog.chatlake.io-impl org.apache.iceberg.aws.s3.S3FileIO\n",
			"iceberg-aws-bundle",
			"AWS Glue Data Catalog of account 123456789012, database chatlake",
			"FROM chatlake.chatlake.messages\n",
			"CREATE DATABASE IF NOT EXISTS spark_catalog.chatlake;",
		}, []string{".uri", "jdbc", "password"}},
		{"trino, s3 lake, glue catalog", Options{Engine: Trino, Lake: "s3://acme/chat", Schema: "lake.views", Catalog: "glue:"}, []string{
			"-- Trino, with etc/catalog/lake.properties:\n",
			"--   connector.name=iceberg\n",
			"--   iceberg.catalog.type=glue\n",
			"--   hive.metastore.glue.region=" + glueRegionPlaceholder + "\n",
			"--   hive.metastore.glue.default-warehouse-dir=s3://acme/chat\n",
			"--   fs.native-s3.enabled=true\n",
			"CREATE SCHEMA IF NOT EXISTS lake.views;",
			"FROM lake.chatlake.messages\n",
		}, []string{"jdbc", "catalogid", "password", "Trino 453"}},
		{"athena, glue catalog", Options{Engine: Athena, Lake: "s3://acme/chat", Catalog: "glue:"}, []string{
			"awsdatacatalog.chatlake.messages and awsdatacatalog.chatlake.users",
			"CREATE DATABASE IF NOT EXISTS chatlake;",
			"CREATE OR REPLACE VIEW chatlake.sessions AS",
			"FROM awsdatacatalog.chatlake.messages\n",
			"FROM awsdatacatalog.chatlake.users u\n",
			"date_diff('millisecond', TIMESTAMP '1970-01-01 00:00:00.000 UTC', sent_at)",
		}, []string{"CREATE EXTERNAL TABLE", "projection", "create-data-catalog"}},
		{"athena, glue catalog of another account", Options{Engine: Athena, Lake: "s3://acme/chat", Schema: "views", Catalog: "glue://210987654321"}, []string{
			"--   aws athena create-data-catalog --name chatlake_glue --type GLUE --parameters catalog-id=210987654321\n",
			"FROM chatlake_glue.chatlake.messages\n",
			"CREATE OR REPLACE VIEW views.broadcasts AS",
		}, []string{"awsdatacatalog"}},
		{"bigquery", Options{Engine: BigQuery, Lake: "gs://acme/chat/", Schema: "proj-123456.chat"}, []string{
			"CREATE OR REPLACE EXTERNAL TABLE `proj-123456.chat.messages`\nWITH CONNECTION `<PROJECT>.<LOCATION>.<CONNECTION>`\nOPTIONS (\n  format = 'ICEBERG',\n" +
				"  uris = ['gs://acme/chat/messages/metadata/" + metadataPlaceholder + "']\n);",
			"DATE(u.extracted_at, 'UTC') AS snapshot_date",
		}, []string{"hive_partition", "PARTITION COLUMNS"}},
		{"snowflake on azure", Options{Engine: Snowflake, Lake: "az://acme.blob.core.windows.net/lake/chat"}, []string{
			"STORAGE_PROVIDER = 'AZURE'",
			"STORAGE_BASE_URL = 'azure://acme.blob.core.windows.net/lake/chat/'",
			"CREATE OR REPLACE ICEBERG TABLE chatlake.public.users\n  EXTERNAL_VOLUME = 'chatlake_lake'\n  CATALOG = 'chatlake_iceberg_files'\n" +
				"  METADATA_FILE_PATH = 'users/metadata/" + metadataPlaceholder + "';",
			"chatlake status --lake az://acme.blob.core.windows.net/lake/chat shows it",
		}, []string{"CREATE STAGE", "EXTERNAL TABLE"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, iceberg(tc.o)); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("the output lacks %q", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("the output has %q", n)
				}
			}
		})
	}
}

// TestIcebergViewsReadNoPartitionColumn: an Iceberg table has no dt or snapshot_date column
// (its partitions are hidden): no engine's views read one, and users_latest computes
// snapshot_date from extracted_at.
func TestIcebergViewsReadNoPartitionColumn(t *testing.T) {
	for _, e := range Engines() {
		t.Run(string(e), func(t *testing.T) {
			var b bytes.Buffer
			cat := "sqlite:/c.db"
			if e == Athena {
				cat = "glue:"
			}
			if err := Write(&b, iceberg(Options{Engine: e, Lake: lakeFor(e), Catalog: cat})); err != nil {
				t.Fatal(err)
			}
			var sql []string // the statements, without comments
			for _, line := range strings.Split(b.String(), "\n") {
				if !strings.HasPrefix(line, "--") {
					sql = append(sql, line)
				}
			}
			s := strings.Join(sql, "\n")
			if strings.Contains(s, messagesPartition) {
				t.Errorf("the statements name %s", messagesPartition)
			}
			if n := strings.Count(s, usersPartition); n != 2 || !strings.Contains(s, " AS "+usersPartition+", ROW_NUMBER()") {
				t.Errorf("the statements name %s %d times, want twice: computed and selected by users_latest", usersPartition, n)
			}
		})
	}
}

// TestIcebergDuckDBColumns: DuckDB's views over the Iceberg tables select every column of the
// schemas, in order, and nothing else.
func TestIcebergDuckDBColumns(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, iceberg(Options{Engine: DuckDB, Lake: "/data/lake"})); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		table  string
		fields []arrow.Field
	}{{schema.MessagesTable, schema.Messages().Fields()}, {schema.UsersTable, schema.Users().Fields()}} {
		cols := make([]string, len(s.fields))
		for i, f := range s.fields {
			cols[i] = f.Name
		}
		want := fmt.Sprintf("CREATE OR REPLACE VIEW %s AS\nSELECT\n  %s\nFROM iceberg_scan('/data/lake/%s', allow_moved_paths = true);",
			s.table, strings.Join(cols, ",\n  "), s.table)
		if !strings.Contains(b.String(), want) {
			t.Errorf("the output lacks\n%s", want)
		}
	}
}

// TestIcebergCatalogSecret: a password in a postgres catalog URI is in no engine's output,
// nor in the error about a URI that is refused, whole or in part.
func TestIcebergCatalogSecret(t *testing.T) {
	const secret = "Sup3r-s3cret_pw"
	for _, e := range Engines() {
		if e == Athena {
			continue
		}
		for _, cat := range []string{
			"postgres://reader:" + secret + "@pg.example.com:5432/lakecat",
			"postgresql://reader:" + secret + "@pg.example.com/lakecat?sslmode=require&password=" + secret,
			"postgres://pg.example.com/lakecat?password=" + secret,
			"postgres://pg.example.com/lakecat?" + secret,
		} {
			var b bytes.Buffer
			if err := Write(&b, iceberg(Options{Engine: e, Lake: lakeFor(e), Catalog: cat})); err != nil {
				t.Fatalf("%s: %v", e, err)
			}
			if leaks(b.String(), secret) {
				t.Errorf("%s: the output for catalog %s shows the password", e, strings.ReplaceAll(cat, secret, "SECRET"))
			}
		}
	}
	for _, cat := range []string{
		"postgres://reader:" + secret + "@pg.example.com:badport/lakecat",
		"postgres://reader:" + secret + "@pg.example.com:5432/",
		"postgres://reader:" + secret + "@/lakecat",
		"postgres://reader:" + secret + "@pg.example.com/lake'cat",
		"postgres://reader:" + secret + "@pg.example.com/lakecat#" + secret,
		"postgres://reader:" + secret + "@pg.example.com/lakecat\n",
		"rest+https://reader:" + secret + "@catalog.example.com/v1",
		"https://catalog.example.com/v1?token=" + secret,
		"mysql://reader:" + secret + "@db:3306/c%zz",
		"jdbc:postgresql://db/c?password=" + secret,
		"glue://reader:" + secret + "@123456789012",
		"glue:" + secret,
		"glue://123456789012?token=" + secret,
	} {
		var b bytes.Buffer
		err := Write(&b, iceberg(Options{Engine: Spark, Lake: "gs://b/p", Catalog: cat}))
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Field != "Catalog" {
			t.Errorf("catalog %s: err = %v, want an *OptionError on Catalog", strings.ReplaceAll(cat, secret, "SECRET"), err)
			continue
		}
		if leaks(err.Error(), secret) {
			t.Errorf("the error about catalog %s shows the password: %v", strings.ReplaceAll(cat, secret, "SECRET"), err)
		}
	}
}

// leaks reports whether s holds secret or a part of it of 6 characters or more.
func leaks(s, secret string) bool {
	for i := 0; i+6 <= len(secret); i++ {
		if strings.Contains(s, secret[i:i+6]) {
			return true
		}
	}
	return false
}

// TestIcebergOptionErrors: what an Iceberg lake refuses, as an *OptionError naming the field.
func TestIcebergOptionErrors(t *testing.T) {
	cases := []struct {
		name  string
		o     Options
		field string
		want  string
	}{
		{"unknown table format", Options{Engine: DuckDB, Lake: "lake", TableFormat: "delta"}, "TableFormat", `"delta"`},
		{"catalog on a hive lake", Options{Engine: Spark, Lake: "lake", Catalog: "sqlite:c.db"}, "Catalog", "Iceberg"},
		{"athena without a catalog", iceberg(Options{Engine: Athena, Lake: "s3://b/p"}), "Catalog", "AWS Glue"},
		{"athena on a jdbc catalog", iceberg(Options{Engine: Athena, Lake: "s3://b/p", Catalog: "postgres://u@pg/db"}), "Catalog", "AWS Glue"},
		{"athena on a gs lake", iceberg(Options{Engine: Athena, Lake: "gs://b/p", Catalog: "glue:"}), "Lake", "s3://"},
		{"glue with a short account", iceberg(Options{Engine: Spark, Lake: "s3://b/p", Catalog: "glue://1234"}), "Catalog", "glue://ACCOUNT_ID"},
		{"glue with a region", iceberg(Options{Engine: Trino, Lake: "s3://b/p", Catalog: "glue:eu-west-1"}), "Catalog", "glue://ACCOUNT_ID"},
		{"glue with a path", iceberg(Options{Engine: Athena, Lake: "s3://b/p", Catalog: "glue://123456789012/chatlake"}), "Catalog", "glue://ACCOUNT_ID"},
		{"partition filter", iceberg(Options{Engine: BigQuery, Lake: "gs://b/p", RequirePartitionFilter: true}), "RequirePartitionFilter", "Hive lake"},
		{"storage integration", iceberg(Options{Engine: Snowflake, Lake: "s3://b/p", StorageIntegration: "x"}), "StorageIntegration", "external volume"},
		{"no catalog for spark on gs", iceberg(Options{Engine: Spark, Lake: "gs://b/p"}), "Catalog", "required for a lake in cloud storage"},
		{"no catalog for trino on s3", iceberg(Options{Engine: Trino, Lake: "s3://b/p"}), "Catalog", "required"},
		{"rest catalog", iceberg(Options{Engine: Trino, Lake: "lake", Catalog: "https://polaris.example.com/api/catalog"}), "Catalog", "JDBC catalog"},
		{"sqlite without a file", iceberg(Options{Engine: Spark, Lake: "lake", Catalog: "sqlite:"}), "Catalog", "names no file"},
		{"sqlite directory", iceberg(Options{Engine: Spark, Lake: "lake", Catalog: "sqlite:/tmp/"}), "Catalog", "names no file"},
		{"sqlite with a quote", iceberg(Options{Engine: Spark, Lake: "lake", Catalog: "sqlite:/tmp/o'c.db"}), "Catalog", "quote"},
		{"sqlite URL with a host", iceberg(Options{Engine: Spark, Lake: "lake", Catalog: "sqlite://host/c.db"}), "Catalog", "sqlite:///ABSOLUTE/PATH"},
		{"postgres without a database", iceberg(Options{Engine: Trino, Lake: "lake", Catalog: "postgres://u@pg:5432"}), "Catalog", "postgres://USER@HOST:PORT/DB"},
		{"postgres without a host", iceberg(Options{Engine: Trino, Lake: "lake", Catalog: "postgres:///db"}), "Catalog", "postgres://USER@HOST:PORT/DB"},
		{"bad catalog for duckdb", iceberg(Options{Engine: DuckDB, Lake: "lake", Catalog: "postgres://pg"}), "Catalog", "postgres://"},
		{"local lake for bigquery", iceberg(Options{Engine: BigQuery, Lake: "/data/lake"}), "Lake", "gs://"},
		{"local lake for snowflake", iceberg(Options{Engine: Snowflake, Lake: "/data/lake"}), "Lake", "cloud storage"},
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

// TestIcebergLakeForms: Spark reads an s3:// Iceberg lake (through S3FileIO), not an s3://
// Hive lake; a relative sqlite catalog is made absolute.
func TestIcebergLakeForms(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, iceberg(Options{Engine: Spark, Lake: "s3://b/p", Catalog: "sqlite:/var/lib/chatlake/c.db"})); err != nil {
		t.Fatal(err)
	}
	if err := Write(&b, Options{Engine: Spark, Lake: "s3://b/p"}); err == nil {
		t.Error("Spark takes an s3:// Hive lake")
	}
	b.Reset()
	if err := Write(&b, iceberg(Options{Engine: Spark, Lake: "/data/lake", Catalog: "sqlite:rel/c.db"})); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "jdbc:sqlite:rel/") || !strings.Contains(b.String(), "/rel/c.db\n") {
		t.Errorf("the relative sqlite catalog is not made absolute:\n%.1500s", b.String())
	}
}
