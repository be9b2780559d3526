package load_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// Stage the rows of a unit of work, then publish its days: each day's partition is replaced by
// exactly the staged rows.
func ExampleLake_Merge() {
	dir, err := os.MkdirTemp("", "lake-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := storage.NewLocal(dir)
	if err != nil {
		log.Fatal(err)
	}
	lake, err := load.NewLake(store, nil)
	if err != nil {
		log.Fatal(err)
	}
	stage, err := lake.NewStage()
	if err != nil {
		log.Fatal(err)
	}
	defer stage.Close()

	sent := time.Date(2024, 5, 2, 10, 15, 32, 123e6, time.UTC)
	err = stage.Add([]schema.Message{
		{ChannelUserID: "919565428256", Sender: "user", MessageType: "TEXT", SentAt: sent, MessageKey: "k1", RunID: "run-1"},
		{ChannelUserID: "919565428256", Sender: "bot", MessageType: "TEXT", SentAt: sent.Add(time.Second), MessageKey: "k2", RunID: "run-1"},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	// The stage is the first (and only) batch of plan "plan-1": finishing it commits its rows
	// and its record (which indexes them) as one object. Publishing reads the record back and
	// merges the batch's rows into each day, replacing the rows of the plan's user.
	if _, err := lake.FinishBatch(ctx, "plan-1", "a1", 0, stage, &load.BatchDone{RunID: "run-1"}); err != nil {
		log.Fatal(err)
	}
	rec, err := lake.ReadBatchDone(ctx, "plan-1", "a1", 0)
	if err != nil {
		log.Fatal(err)
	}
	idx := rec.Staged
	replace := func(user string) bool { return user == "919565428256" }
	var rows int64
	for _, day := range []string{"2024-05-01", "2024-05-02"} {
		stats, err := lake.Merge(ctx, day, load.MergeInput{Plan: "plan-1", Attempt: "a1", Replace: replace, RunID: "run-1", Staged: []*load.StagedBatch{idx}})
		if err != nil {
			log.Fatal(err)
		}
		rows += stats.Rows
	}
	if err := lake.RemoveRun(ctx, "plan-1"); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d rows\n", rows)

	report, err := lake.Verify(ctx, "2024-05-01", "2024-05-02")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ok:", report.OK())
	files, _ := store.List(ctx, "messages/")
	for _, f := range files {
		fmt.Println(f.Name)
	}
	// Output:
	// 2 rows
	// ok: true
	// messages/dt=2024-05-02/part-00000-of-00001.parquet
}
