package ddl

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/schema"
)

// Partition columns: path columns of the lake (package load names them), not columns of the
// files.
const (
	messagesPartition = load.MessagesPartition
	usersPartition    = load.UsersPartition
)

// View names.
const (
	UsersLatestView = "users_latest"
	SessionsView    = "sessions"
	BroadcastsView  = "broadcasts"
)

// Write prints the definitions of the tables messages and users and of the views
// users_latest, sessions and broadcasts for o.Engine over the lake o.Lake: one script of
// statements, each ending with ";", that can be run as it is and run again. Nothing is
// written when o is refused (an *OptionError) or a column has no type in the engine.
func Write(w io.Writer, o Options) error {
	o, l, err := o.check()
	if err != nil {
		return err
	}
	g := &gen{o: o, lake: l, d: dialectOf(o.Engine, o.TableFormat)}
	if o.TableFormat == Iceberg {
		if g.cat, err = o.icebergCatalog(l); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	if err := g.write(&buf); err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// gen is one Write.
type gen struct {
	o    Options
	lake lake
	d    dialect
	cat  catalog // an Iceberg lake's catalog, for the engines that read it
}

func (g *gen) write(b *bytes.Buffer) error {
	msgCols, err := g.d.columns(schema.Messages())
	if err != nil {
		return fmt.Errorf("messages: %w", err)
	}
	userCols, err := g.d.columns(schema.Users())
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	format := ""
	if g.o.TableFormat == Iceberg {
		format = " --table-format " + string(Iceberg)
	}
	fmt.Fprintf(b, "-- chatlake ddl --engine %s --lake %s%s\n", g.o.Engine, g.lake.root, format)
	fmt.Fprintf(b, "-- Tables from schema.Messages() (version %s) and schema.Users() (version %s);\n",
		schema.MessagesVersion, schema.UsersVersion)
	fmt.Fprintf(b, "-- sessions end after a gap longer than %s; a reply comes within %s of a template message.\n",
		g.o.SessionGap, g.o.ReplyWindow)
	switch {
	case g.o.TableFormat == Iceberg:
		g.icebergTables(b, msgCols, userCols)
	case g.o.Engine == DuckDB:
		g.duckdb(b, msgCols, userCols)
	case g.o.Engine == BigQuery:
		g.bigquery(b, msgCols, userCols)
	case g.o.Engine == Spark:
		g.spark(b, msgCols, userCols)
	case g.o.Engine == Trino:
		g.trino(b, msgCols, userCols)
	case g.o.Engine == Athena:
		g.athena(b, msgCols, userCols)
	case g.o.Engine == Snowflake:
		g.snowflake(b, msgCols, userCols)
	}
	b.WriteString("\n" + g.usersLatest(names(userCols)) + ";\n")
	b.WriteString("\n" + g.sessions() + ";\n")
	b.WriteString("\n" + g.broadcasts() + ";\n")
	return nil
}

// table is the qualified name of a table or view that the definitions create. On an Iceberg
// lake, Spark's go in the session catalog: a name starting with the Iceberg catalog's name
// would be looked up in that catalog.
func (g *gen) table(name string) string {
	q := name
	if g.o.Schema != "" {
		q = g.o.Schema + "." + name
	}
	switch {
	case g.o.Engine == BigQuery:
		return "`" + q + "`"
	case g.o.Engine == Spark && g.o.TableFormat == Iceberg:
		return "spark_catalog." + q
	}
	return q
}

// source is the qualified name of a table the views read: one the definitions create, or on
// an Iceberg lake, for Spark and Trino, the table in the Iceberg catalog.
func (g *gen) source(table string) string {
	if g.o.TableFormat != Iceberg {
		return g.table(table)
	}
	switch g.o.Engine {
	case Spark:
		return IcebergCatalogName + "." + IcebergNamespace + "." + table
	case Trino:
		trinoCatalog, _, _ := strings.Cut(g.o.Schema, ".")
		return trinoCatalog + "." + IcebergNamespace + "." + table
	case Athena:
		return g.athenaCatalog() + "." + IcebergNamespace + "." + table
	}
	return g.table(table)
}

// dir is the directory of a table under the lake's root.
func (g *gen) dir(table string) string {
	return strings.TrimSuffix(g.lake.root, "/") + "/" + load.TableDir(table)
}

// glob matches every data file of a table under the lake's root.
func (g *gen) glob(table string) string {
	return strings.TrimSuffix(g.lake.root, "/") + "/" + load.TableGlob(table)
}

func (g *gen) duckdb(b *bytes.Buffer, msgCols, userCols []column) {
	g.duckdbCloud(b)
	if g.o.Schema != "" {
		fmt.Fprintf(b, "\nCREATE SCHEMA IF NOT EXISTS %s;\n", g.o.Schema)
	}
	view := func(table, part string, cols []column) {
		fmt.Fprintf(b, "\nCREATE OR REPLACE VIEW %s AS\nSELECT\n  %s,\n  %s\nFROM read_parquet(%s, hive_partitioning = true, hive_types = {'%s': DATE});\n",
			g.table(table), strings.Join(names(cols), ",\n  "), part,
			quote(g.glob(table)), part)
	}
	view(schema.MessagesTable, messagesPartition, msgCols)
	view(schema.UsersTable, usersPartition, userCols)
}

// duckdbCloud says what DuckDB needs to read a lake in cloud storage.
func (g *gen) duckdbCloud(b *bytes.Buffer) {
	if strings.HasPrefix(g.lake.root, "gs://") {
		b.WriteString("-- gs:// needs DuckDB's httpfs extension and a GCS secret, e.g.\n" +
			"--   INSTALL httpfs; LOAD httpfs; CREATE SECRET (TYPE gcs, KEY_ID '...', SECRET '...');\n")
	}
	if strings.HasPrefix(g.lake.root, "s3://") {
		b.WriteString("-- s3:// needs DuckDB's httpfs (or aws) extension and an S3 secret, e.g.\n" +
			"--   INSTALL httpfs; LOAD httpfs; CREATE SECRET (TYPE s3, PROVIDER credential_chain);\n")
	}
}

func (g *gen) bigquery(b *bytes.Buffer, msgCols, userCols []column) {
	fmt.Fprintf(b, "-- Create the dataset first, in the bucket's location: CREATE SCHEMA `%s` OPTIONS (location = '...');\n", g.o.Schema)
	table := func(table, part string, cols []column, requireFilter bool) {
		fmt.Fprintf(b, "\nCREATE OR REPLACE EXTERNAL TABLE %s (\n  %s\n)\nWITH PARTITION COLUMNS (%s DATE)\nOPTIONS (\n"+
			"  format = 'PARQUET',\n  uris = [%s],\n  hive_partition_uri_prefix = %s,\n"+
			"  require_hive_partition_filter = %t,\n  enable_list_inference = true\n);\n",
			g.table(table), colDefs(cols, " "), part,
			quote(g.dir(table)+"/*"), quote(g.dir(table)), requireFilter)
	}
	table(schema.MessagesTable, messagesPartition, msgCols, g.o.RequirePartitionFilter)
	table(schema.UsersTable, usersPartition, userCols, false)
}

func (g *gen) spark(b *bytes.Buffer, msgCols, userCols []column) {
	b.WriteString("-- Spark reads the timestamps as instants and shows them in spark.sql.session.timeZone:\n" +
		"-- SET spark.sql.session.timeZone = UTC; to see them in UTC.\n")
	fmt.Fprintf(b, "\nCREATE DATABASE IF NOT EXISTS %s;\n", g.o.Schema)
	table := func(table, part string, cols []column) {
		fmt.Fprintf(b, "\nCREATE TABLE IF NOT EXISTS %s (\n  %s,\n  %s DATE\n)\nUSING PARQUET\nPARTITIONED BY (%s)\nLOCATION %s;\n",
			g.table(table), colDefs(cols, " "), part, part, quote(g.lakeLocation(table)))
		fmt.Fprintf(b, "\n-- Registers the partitions (days) found in the files; run it again after every export.\nMSCK REPAIR TABLE %s;\n", g.table(table))
	}
	table(schema.MessagesTable, messagesPartition, msgCols)
	table(schema.UsersTable, usersPartition, userCols)
}

func (g *gen) trino(b *bytes.Buffer, msgCols, userCols []column) {
	catalog, sch, _ := strings.Cut(g.o.Schema, ".")
	b.WriteString("-- Hive connector catalog; timestamps are timestamp(3) holding UTC (see docs/schema.md).\n")
	fmt.Fprintf(b, "\nCREATE SCHEMA IF NOT EXISTS %s;\n", g.o.Schema)
	table := func(table, part string, cols []column) {
		fmt.Fprintf(b, "\nCREATE TABLE IF NOT EXISTS %s (\n  %s,\n  %s date\n)\nWITH (\n  external_location = %s,\n  format = 'PARQUET',\n  partitioned_by = ARRAY['%s']\n);\n",
			g.table(table), colDefs(cols, " "), part, quote(g.lakeLocation(table)), part)
		fmt.Fprintf(b, "\n-- Registers the partitions (days) found in the files; run it again after every export.\nCALL %s.system.sync_partition_metadata('%s', '%s', 'FULL');\n", catalog, sch, table)
	}
	table(schema.MessagesTable, messagesPartition, msgCols)
	table(schema.UsersTable, usersPartition, userCols)
}

func (g *gen) lakeLocation(table string) string {
	return strings.TrimSuffix(g.lake.location(), "/") + "/" + load.TableDir(table)
}

func colDefs(cols []column, sep string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c.name + sep + c.typ
	}
	return strings.Join(parts, ",\n  ")
}

// athena prints Hive DDL (what Athena's CREATE EXTERNAL TABLE takes) with partition projection
// on the partition column: Athena computes the day directories from the table's properties,
// so no crawler, MSCK REPAIR or ALTER TABLE ADD PARTITION is ever needed. The partition
// columns are strings 'YYYY-MM-DD': a projected date column is compared as a string in that
// format (dt >= '2024-05-01'), and the views, which read every day, do not filter on it.
func (g *gen) athena(b *bytes.Buffer, msgCols, userCols []column) {
	b.WriteString("-- Athena (engine version 3): tables in the AWS Glue Data Catalog with partition projection on the\n" +
		"-- day column, so new days need no crawler and no MSCK REPAIR; the views are Trino SQL.\n" +
		"-- dt and snapshot_date are strings 'YYYY-MM-DD': filter with dt >= '2024-05-01', not with a DATE.\n" +
		"-- Athena runs one statement per query: run these one after the other, in this order.\n")
	fmt.Fprintf(b, "\nCREATE DATABASE IF NOT EXISTS %s;\n", g.o.Schema)
	table := func(table, part string, cols []column) {
		dir := g.dir(table)
		fmt.Fprintf(b, "\nCREATE EXTERNAL TABLE IF NOT EXISTS %s (\n  %s\n)\nPARTITIONED BY (%s STRING)\nSTORED AS PARQUET\nLOCATION %s\nTBLPROPERTIES (\n",
			g.table(table), colDefs(cols, " "), part, quote(dir+"/"))
		props := [][2]string{
			{"projection.enabled", "true"},
			{"projection." + part + ".type", "date"},
			{"projection." + part + ".format", "yyyy-MM-dd"},
			{"projection." + part + ".range", g.o.FirstDay + ",NOW"},
			{"projection." + part + ".interval", "1"},
			{"projection." + part + ".interval.unit", "DAYS"},
			{"storage.location.template", dir + "/" + part + "=${" + part + "}/"},
		}
		for i, p := range props {
			sep := ","
			if i == len(props)-1 {
				sep = ""
			}
			fmt.Fprintf(b, "  %s = %s%s\n", quote(p[0]), quote(p[1]), sep)
		}
		b.WriteString(");\n")
	}
	table(schema.MessagesTable, messagesPartition, msgCols)
	table(schema.UsersTable, usersPartition, userCols)
}
