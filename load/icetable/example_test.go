package icetable_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/chatlake/chatlake/load/icetable"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "icetable-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	cat, err := icetable.Open(ctx, icetable.Config{URI: "sqlite:" + filepath.Join(dir, "catalog.db"), Logger: quietLogger()})
	if err != nil {
		log.Fatal(err)
	}
	defer cat.Close()

	// The schema the data files are written with: field ids, microsecond timestamps.
	sc, err := icetable.FieldIDs(arrow.NewSchema([]arrow.Field{
		{Name: "message_key", Type: arrow.BinaryTypes.String},
		{Name: "sent_at", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
	}, nil))
	if err != nil {
		log.Fatal(err)
	}
	tbl, err := cat.Table(ctx, "messages", "file://"+filepath.Join(dir, "messages"), sc, "sent_at")
	if err != nil {
		log.Fatal(err)
	}

	// The caller has written this Parquet file (Commit reads only what it is told about it).
	file := icetable.File{Path: "file://" + filepath.Join(dir, "messages", "data", "a.parquet"), Day: "2024-03-01", Rows: 10, Bytes: 1234}
	plan := map[string]string{"chatlake.plan": "plan-1@1"}
	if done, err := tbl.Committed(ctx, "chatlake.plan", "plan-1@1"); err != nil || done {
		log.Fatal(done, err)
	}
	if err := tbl.Commit(ctx, nil, []icetable.File{file}, plan); err != nil {
		log.Fatal(err)
	}
	cur, _ := tbl.Current()
	fmt.Println(tbl.Name(), cur.Operation, cur.DataFiles, "file,", cur.Records, "rows, plan", cur.Summary["chatlake.plan"])
	// Output: chatlake.messages append 1 file, 10 rows, plan plan-1@1
}
