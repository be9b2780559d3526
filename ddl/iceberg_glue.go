package ddl

import (
	"bytes"
	"fmt"
	"strings"
)

// An Iceberg lake whose catalog is AWS Glue (glue: or glue://ACCOUNT_ID): each table is a Glue
// table of type ICEBERG in the database IcebergNamespace, pointing at its current metadata file.
// Spark and Trino read it through their Glue catalog implementations, Athena directly. Region
// and credentials are the reader's AWS configuration: nothing secret is printed.

// glueRegionPlaceholder stands for the Glue catalog's AWS region, which only the export's AWS
// configuration knows.
const glueRegionPlaceholder = "<the AWS region of the Glue catalog>"

// athenaCrossAccountCatalog is the Athena data catalog the definitions read another account's
// Glue catalog through: Athena's own AwsDataCatalog is the querying account's.
const athenaCrossAccountCatalog = "chatlake_glue"

// glueWhere names the Glue catalog for the comments.
func (g *gen) glueWhere() string {
	if g.cat.account != "" {
		return "the AWS Glue Data Catalog of account " + g.cat.account
	}
	return "the AWS Glue Data Catalog"
}

// icebergSparkGlue prints the Spark configuration of an Iceberg catalog named chatlake of type
// glue, and puts the views in the session catalog, as over a JDBC catalog.
func (g *gen) icebergSparkGlue(b *bytes.Buffer) {
	pre := "spark.sql.catalog." + IcebergCatalogName
	lines := []conf{
		{pre, "org.apache.iceberg.spark.SparkCatalog"},
		{pre + ".type", "glue"},
	}
	if g.cat.account != "" {
		lines = append(lines, conf{pre + ".glue.id", g.cat.account})
	}
	lines = append(lines, conf{pre + ".warehouse", g.lake.location()})
	lines = append(lines, g.sparkFileIO(pre)...)
	fmt.Fprintf(b, "-- The tables are Iceberg tables in %s, database %s.\n"+
		"-- Spark reads them through an Iceberg catalog named %s of type glue: %s.%s.messages and %s.%s.users.\n"+
		"-- Its configuration, for spark-defaults.conf or as --conf KEY=VALUE each, with the packages\n"+
		"-- org.apache.iceberg:iceberg-spark-runtime-<spark>_<scala> and org.apache.iceberg:iceberg-aws-bundle (and\n"+
		"-- iceberg-gcp-bundle for gs://); Glue's region and credentials come from the AWS configuration of the Spark\n"+
		"-- driver and executors (AWS_REGION, AWS_PROFILE, an instance role):\n",
		g.glueWhere(), IcebergNamespace, IcebergCatalogName, IcebergCatalogName, IcebergNamespace,
		IcebergCatalogName, IcebergNamespace)
	writeConf(b, lines, " ")
	b.WriteString("-- The views go in the session catalog (spark_catalog). Spark reads the timestamps as instants and shows them in\n" +
		"-- spark.sql.session.timeZone: SET spark.sql.session.timeZone = UTC; to see them in UTC.\n")
	fmt.Fprintf(b, "\nCREATE DATABASE IF NOT EXISTS spark_catalog.%s;\n", g.o.Schema)
}

// icebergTrinoGlue prints a Trino catalog properties file of the Iceberg connector over Glue;
// the views go in a schema of that catalog (Trino keeps them in Glue).
func (g *gen) icebergTrinoGlue(b *bytes.Buffer) {
	trinoCatalog, _, _ := strings.Cut(g.o.Schema, ".")
	lines := []conf{
		{"connector.name", "iceberg"},
		{"iceberg.catalog.type", "glue"},
		{"hive.metastore.glue.region", glueRegionPlaceholder},
	}
	if g.cat.account != "" {
		lines = append(lines, conf{"hive.metastore.glue.catalogid", g.cat.account})
	}
	lines = append(lines, conf{"hive.metastore.glue.default-warehouse-dir", g.lake.location()})
	lines = append(lines, g.trinoFileSystem())
	fmt.Fprintf(b, "-- The tables are Iceberg tables in %s, database %s: %s.%s.messages and .users in\n"+
		"-- Trino, with etc/catalog/%s.properties:\n", g.glueWhere(), IcebergNamespace, trinoCatalog, IcebergNamespace, trinoCatalog)
	writeConf(b, lines, "=")
	b.WriteString("-- Replace the region placeholder with the catalog's region (the export's AWS_REGION). Trino takes Glue's\n" +
		"-- credentials from its AWS configuration (an instance role, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).\n")
	g.trinoLocalNote(b)
	b.WriteString("-- Timestamps are timestamp(6) with time zone. The views are kept in Glue too.\n")
	fmt.Fprintf(b, "\nCREATE SCHEMA IF NOT EXISTS %s;\n", g.o.Schema)
}

// athenaCatalog is the Athena data catalog that holds the Glue catalog's tables: Athena's own
// (awsdatacatalog) for the querying account's Glue catalog, athenaCrossAccountCatalog for
// another account's.
func (g *gen) athenaCatalog() string {
	if g.cat.account != "" {
		return athenaCrossAccountCatalog
	}
	return "awsdatacatalog"
}

// icebergAthena prints the views over the Glue catalog's tables, which Athena reads as they
// are: nothing declares them.
func (g *gen) icebergAthena(b *bytes.Buffer) {
	src := g.athenaCatalog() + "." + IcebergNamespace
	fmt.Fprintf(b, "-- Athena (engine version 3) reads the Iceberg tables from %s, where the export\n"+
		"-- keeps them: %s.messages and %s.users, always at their current\n"+
		"-- snapshot. Nothing declares them.\n",
		g.glueWhere(), src, src)
	if g.cat.account != "" {
		fmt.Fprintf(b, "-- Another account's catalog is an Athena data catalog of its own: register it once (the account must\n"+
			"-- share its catalog with this one), e.g. with the AWS CLI:\n"+
			"--   aws athena create-data-catalog --name %s --type GLUE --parameters catalog-id=%s\n",
			athenaCrossAccountCatalog, g.cat.account)
	}
	b.WriteString("-- Timestamps are timestamp(6) with time zone; filter on sent_at and Athena prunes the days itself.\n" +
		"-- Athena runs one statement per query: run these one after the other, in this order.\n")
	fmt.Fprintf(b, "\nCREATE DATABASE IF NOT EXISTS %s;\n", g.o.Schema)
}
