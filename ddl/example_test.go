package ddl_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/chatlake/chatlake/ddl"
)

func ExampleWrite() {
	var b strings.Builder
	err := ddl.Write(&b, ddl.Options{Engine: ddl.BigQuery, Lake: "gs://acme-lake/chat", RequirePartitionFilter: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.Contains(l, "EXTERNAL TABLE") || strings.Contains(l, "hive_partition_uri_prefix") {
			fmt.Println(l)
		}
	}
	// Output:
	// CREATE OR REPLACE EXTERNAL TABLE `chatlake.messages` (
	//   hive_partition_uri_prefix = 'gs://acme-lake/chat/messages',
	// CREATE OR REPLACE EXTERNAL TABLE `chatlake.users` (
	//   hive_partition_uri_prefix = 'gs://acme-lake/chat/users',
}

// An Iceberg lake in a Postgres catalog, for Trino: the catalog file as comments (no password,
// which Trino reads from its environment), then the views over the catalog's tables.
func ExampleWrite_iceberg() {
	var b strings.Builder
	err := ddl.Write(&b, ddl.Options{Engine: ddl.Trino, Lake: "s3://acme-lake/chat", TableFormat: ddl.Iceberg,
		Catalog: "postgres://lake_reader@pg.internal:5432/lakecat"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.Contains(l, "jdbc-catalog.connection") || strings.HasPrefix(l, "CREATE OR REPLACE VIEW") {
			fmt.Println(l)
		}
	}
	// Output:
	// --   iceberg.jdbc-catalog.connection-url=jdbc:postgresql://pg.internal:5432/lakecat
	// --   iceberg.jdbc-catalog.connection-user=lake_reader
	// --   iceberg.jdbc-catalog.connection-password=${ENV:CHATLAKE_CATALOG_PASSWORD}
	// CREATE OR REPLACE VIEW chatlake.chatlake.users_latest AS
	// CREATE OR REPLACE VIEW chatlake.chatlake.sessions AS
	// CREATE OR REPLACE VIEW chatlake.chatlake.broadcasts AS
}
