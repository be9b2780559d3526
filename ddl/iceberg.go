package ddl

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/schema"
)

// An Iceberg lake's tables are not declared: their schema, partitioning and files are in the
// Iceberg metadata. Spark and Trino read them through the JDBC catalog, with the catalog
// configuration printed as comments; DuckDB, BigQuery and Snowflake read a table's metadata
// file. The views are the Hive lake's, over these tables.

// metadataPlaceholder stands for the file name of a table's current metadata file, which only
// the catalog knows (chatlake status shows it).
const metadataPlaceholder = "<NNNNN-UUID>.metadata.json"

// icebergTables prints how o.Engine reads the two Iceberg tables.
func (g *gen) icebergTables(b *bytes.Buffer, msgCols, userCols []column) {
	switch g.o.Engine {
	case DuckDB:
		g.icebergDuckDB(b, msgCols, userCols)
	case Spark:
		g.icebergSpark(b)
	case Trino:
		g.icebergTrino(b)
	case BigQuery:
		g.icebergBigQuery(b)
	case Snowflake:
		g.icebergSnowflake(b)
	case Athena:
		g.icebergAthena(b)
	}
}

// sparkFileIO is the io-impl line of a Spark Iceberg catalog over the lake's store (none for a
// local lake).
func (g *gen) sparkFileIO(pre string) []conf {
	switch {
	case strings.HasPrefix(g.lake.root, "gs://"):
		return []conf{{pre + ".io-impl", "org.apache.iceberg.gcp.gcs.GCSFileIO"}}
	case strings.HasPrefix(g.lake.root, "s3://"):
		return []conf{{pre + ".io-impl", "org.apache.iceberg.aws.s3.S3FileIO"}}
	}
	return nil
}

// trinoFileSystem is the line of a Trino catalog that enables the lake's file system.
func (g *gen) trinoFileSystem() conf {
	switch {
	case strings.HasPrefix(g.lake.root, "gs://"):
		return conf{"fs.native-gcs.enabled", "true"}
	case strings.HasPrefix(g.lake.root, "s3://"):
		return conf{"fs.native-s3.enabled", "true"}
	}
	return conf{"fs.hadoop.enabled", "true"}
}

// trinoLocalNote says how Trino reads a local lake's file:// paths.
func (g *gen) trinoLocalNote(b *bytes.Buffer) {
	if !strings.Contains(g.lake.root, "://") {
		b.WriteString("-- The lake's files are file:// paths, which Trino reads with fs.hadoop.enabled (its native local file\n" +
			"-- system reads local:// only); every Trino node must see the lake's directory at that path.\n")
	}
}

// metadataFile is where a table's current metadata file is, as a URL under the lake's root,
// its name a placeholder.
func (g *gen) metadataFile(table string) string {
	return g.dir(table) + "/metadata/" + metadataPlaceholder
}

// statusHint says where the current metadata file's name comes from.
func (g *gen) statusHint() string {
	lake := g.lake.location()
	if g.o.Engine == Snowflake { // the root in Snowflake's form (gcs://, azure://) is not a lake URL
		lake = strings.TrimSuffix(g.o.Lake, "/")
	}
	return "chatlake status --lake " + lake + " shows it"
}

// icebergDuckDB reads each table with iceberg_scan over the table's directory, letting DuckDB
// take the newest metadata file: an SQL catalog writes no version-hint.text.
func (g *gen) icebergDuckDB(b *bytes.Buffer, msgCols, userCols []column) {
	g.duckdbCloud(b)
	fmt.Fprintf(b, "-- DuckDB reads the Iceberg tables with its iceberg extension (installed once, from the network),\n"+
		"-- from their metadata files; it does not read the catalog. The catalog writes no version-hint.text, so each\n"+
		"-- scan takes the table's newest metadata file (unsafe_enable_version_guessing: the name that sorts last\n"+
		"-- under metadata/). That is the catalog's current one unless a commit failed, or was killed, after writing its\n"+
		"-- metadata file: then the scan may read a snapshot the catalog never committed. To read exactly the current\n"+
		"-- snapshot, scan the table's current metadata file instead of its directory (%s):\n"+
		"--   iceberg_scan(%s)\n"+
		"-- The SET lasts for the session: run it again in each new session that reads the views.\n",
		g.statusHint(), quote(g.metadataFile(schema.MessagesTable)))
	b.WriteString("\nINSTALL iceberg;\nLOAD iceberg;\nSET unsafe_enable_version_guessing = true;\n")
	if g.o.Schema != "" {
		fmt.Fprintf(b, "\nCREATE SCHEMA IF NOT EXISTS %s;\n", g.o.Schema)
	}
	view := func(table string, cols []column) {
		fmt.Fprintf(b, "\nCREATE OR REPLACE VIEW %s AS\nSELECT\n  %s\nFROM iceberg_scan(%s, allow_moved_paths = true);\n",
			g.table(table), strings.Join(names(cols), ",\n  "), quote(g.dir(table)))
	}
	view(schema.MessagesTable, msgCols)
	view(schema.UsersTable, userCols)
}

// conf is one configuration line of an engine's catalog: a key and its value.
type conf struct{ key, value string }

// writeConf prints lines as comments, "key<sep>value" each.
func writeConf(b *bytes.Buffer, lines []conf, sep string) {
	for _, l := range lines {
		fmt.Fprintf(b, "--   %s%s%s\n", l.key, sep, l.value)
	}
}

// droppedParams says that the catalog URI's other parameters are not in the JDBC URL.
func (g *gen) droppedParams(b *bytes.Buffer) {
	if g.cat.dropped > 0 {
		fmt.Fprintf(b, "-- The catalog URI's %d other query parameter(s) are left out of the JDBC URL (they may hold secrets):\n"+
			"-- set them as JDBC properties of the catalog if it needs them.\n", g.cat.dropped)
	}
}

// icebergSpark prints the Spark configuration of an Iceberg catalog named chatlake (the
// JDBC catalog lists the tables of its own name) and puts the views in a database of the
// session catalog, spark_catalog.
func (g *gen) icebergSpark(b *bytes.Buffer) {
	if g.cat.kind == "glue" {
		g.icebergSparkGlue(b)
		return
	}
	pre := "spark.sql.catalog." + IcebergCatalogName
	lines := []conf{
		{pre, "org.apache.iceberg.spark.SparkCatalog"},
		{pre + ".type", "jdbc"},
		{pre + ".uri", g.cat.jdbcURL},
		{pre + ".jdbc.schema-version", "V1"},
		{pre + ".warehouse", g.lake.location()},
	}
	if g.cat.user != "" {
		lines = append(lines, conf{pre + ".jdbc.user", g.cat.user})
	}
	if g.cat.kind == "postgres" {
		lines = append(lines, conf{pre + ".jdbc.password", passwordPlaceholder})
	}
	lines = append(lines, g.sparkFileIO(pre)...)
	fmt.Fprintf(b, "-- The tables are Iceberg tables in the JDBC catalog %s (namespace %s). Spark reads them through an\n"+
		"-- Iceberg catalog named %s (the JDBC catalog lists the tables of its own name): %s.%s.messages and\n"+
		"-- %s.%s.users. Its configuration, for spark-defaults.conf or as --conf KEY=VALUE each, with the packages\n"+
		"-- org.apache.iceberg:iceberg-spark-runtime-<spark>_<scala> and %s (and iceberg-gcp-bundle for\n"+
		"-- gs://, iceberg-aws-bundle for s3://):\n",
		IcebergCatalogName, IcebergNamespace, IcebergCatalogName, IcebergCatalogName, IcebergNamespace,
		IcebergCatalogName, IcebergNamespace, g.cat.driverPackage())
	writeConf(b, lines, " ")
	g.droppedParams(b)
	if g.cat.kind == "sqlite" {
		b.WriteString("-- A SQLite catalog is a file: the Spark driver must read it at that path.\n")
	}
	b.WriteString("-- The views go in the session catalog (spark_catalog). Spark reads the timestamps as instants and shows them in\n" +
		"-- spark.sql.session.timeZone: SET spark.sql.session.timeZone = UTC; to see them in UTC.\n")
	fmt.Fprintf(b, "\nCREATE DATABASE IF NOT EXISTS spark_catalog.%s;\n", g.o.Schema)
}

// icebergTrino prints a Trino catalog properties file of the Iceberg connector over the JDBC
// catalog; the views go in a schema of that catalog (views in a JDBC catalog need Trino 453
// or later and the catalog's V1 schema, which the export creates).
func (g *gen) icebergTrino(b *bytes.Buffer) {
	if g.cat.kind == "glue" {
		g.icebergTrinoGlue(b)
		return
	}
	trinoCatalog, _, _ := strings.Cut(g.o.Schema, ".")
	pre := "iceberg.jdbc-catalog."
	lines := []conf{
		{"connector.name", "iceberg"},
		{"iceberg.catalog.type", "jdbc"},
		{pre + "catalog-name", IcebergCatalogName},
		{pre + "driver-class", g.cat.driverClass()},
		{pre + "connection-url", g.cat.jdbcURL},
	}
	if g.cat.user != "" {
		lines = append(lines, conf{pre + "connection-user", g.cat.user})
	}
	if g.cat.kind == "postgres" {
		lines = append(lines, conf{pre + "connection-password", "${ENV:CHATLAKE_CATALOG_PASSWORD}"})
	}
	lines = append(lines, conf{pre + "default-warehouse-dir", g.lake.location()})
	lines = append(lines, g.trinoFileSystem())
	fmt.Fprintf(b, "-- The tables are Iceberg tables in the JDBC catalog %s: %s.%s.messages and .users in Trino, with\n"+
		"-- etc/catalog/%s.properties:\n", IcebergCatalogName, trinoCatalog, IcebergNamespace, trinoCatalog)
	writeConf(b, lines, "=")
	if g.cat.kind == "postgres" {
		b.WriteString("-- Trino reads the password from its environment: set CHATLAKE_CATALOG_PASSWORD to the catalog database's password.\n")
	}
	g.droppedParams(b)
	if g.cat.kind == "sqlite" {
		b.WriteString("-- Trino ships the PostgreSQL driver only: put the SQLite JDBC driver's jar (org.xerial:sqlite-jdbc) in\n" +
			"-- plugin/iceberg/ of the coordinator, which must read the catalog file at that path. A Trino cluster\n" +
			"-- shared by analysts is better served by a postgres:// catalog.\n")
	}
	g.trinoLocalNote(b)
	b.WriteString("-- Timestamps are timestamp(6) with time zone. Views in a JDBC catalog need Trino 453 or later.\n")
	fmt.Fprintf(b, "\nCREATE SCHEMA IF NOT EXISTS %s;\n", g.o.Schema)
}

// icebergBigQuery prints a BigLake Iceberg external table over each table's metadata file:
// it reads the snapshot of that file, so it is pinned to it until replaced.
func (g *gen) icebergBigQuery(b *bytes.Buffer) {
	fmt.Fprintf(b, "-- Create the dataset first, in the bucket's location: CREATE SCHEMA `%s` OPTIONS (location = '...');\n", g.o.Schema)
	fmt.Fprintf(b, "-- Each table is a BigLake Iceberg external table over one metadata file of the Iceberg table, through a\n"+
		"-- Cloud resource connection allowed to read the bucket: replace <PROJECT>.<LOCATION>.<CONNECTION> with it, and\n"+
		"-- %s with the table's current metadata file\n-- (%s).\n"+
		"-- The table is pinned to that snapshot: after each export, run its CREATE OR REPLACE again with the new\n"+
		"-- current file. (The BigLake metastore, an Iceberg REST catalog, would follow the commits instead; the export\n"+
		"-- does not write to it.)\n", metadataPlaceholder, g.statusHint())
	for _, table := range []string{schema.MessagesTable, schema.UsersTable} {
		fmt.Fprintf(b, "\nCREATE OR REPLACE EXTERNAL TABLE %s\nWITH CONNECTION `<PROJECT>.<LOCATION>.<CONNECTION>`\nOPTIONS (\n"+
			"  format = 'ICEBERG',\n  uris = [%s]\n);\n", g.table(table), quote(g.metadataFile(table)))
	}
}

// icebergSnowflake prints an Iceberg table over each table's metadata file, through an
// external volume over the lake and a catalog integration for Iceberg files in object storage.
func (g *gen) icebergSnowflake(b *bytes.Buffer) {
	const volume, integration = "chatlake_lake", "chatlake_iceberg_files"
	fmt.Fprintf(b, "-- Each table is a Snowflake Iceberg table over one metadata file of the Iceberg table. An administrator\n"+
		"-- creates, once, an external volume over the lake and a catalog integration for Iceberg files in object storage:\n"+
		"--   CREATE EXTERNAL VOLUME %s STORAGE_LOCATIONS = ((NAME = 'lake' STORAGE_PROVIDER = '%s'\n"+
		"--     STORAGE_BASE_URL = '%s/' ...)) ALLOW_WRITES = FALSE;\n"+
		"--   CREATE CATALOG INTEGRATION %s CATALOG_SOURCE = OBJECT_STORE TABLE_FORMAT = ICEBERG ENABLED = TRUE;\n"+
		"-- Replace %s with each table's current metadata file\n-- (%s).\n"+
		"-- The table reads that snapshot until refreshed: after each export, run\n"+
		"--   ALTER ICEBERG TABLE %s REFRESH '%s/metadata/<the new current file>';\n",
		volume, storageProvider(g.lake.root), g.lake.root, integration, metadataPlaceholder, g.statusHint(), g.table(schema.MessagesTable), load.TableDir(schema.MessagesTable))
	b.WriteString("-- Timestamps are TIMESTAMP_LTZ(6), shown in the session's TIMEZONE: ALTER SESSION SET TIMEZONE = 'UTC'; to see UTC.\n")
	fmt.Fprintf(b, "\nCREATE SCHEMA IF NOT EXISTS %s;\n", g.o.Schema)
	for _, table := range []string{schema.MessagesTable, schema.UsersTable} {
		fmt.Fprintf(b, "\nCREATE OR REPLACE ICEBERG TABLE %s\n  EXTERNAL_VOLUME = '%s'\n  CATALOG = '%s'\n  METADATA_FILE_PATH = %s;\n",
			g.table(table), volume, integration, quote(load.TableDir(table)+"/metadata/"+metadataPlaceholder))
	}
}
