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
