package metrics_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chatlake/chatlake/metrics"
)

// A nightly run writes its metrics where node_exporter's textfile collector reads them
// (--collector.textfile.directory); a push to a Pushgateway is the same call with Push.
func ExampleWriteTextfile() {
	dir, _ := os.MkdirTemp("", "textfile")
	defer os.RemoveAll(dir)
	start := time.Date(2024, 5, 21, 2, 0, 0, 0, time.UTC)
	run := metrics.Run{
		Bot: "0123456789abcdef", Customer: "1001", Kind: "nightly",
		Outcome: "ok", ExitCode: 0, Started: start, Finished: start.Add(90 * time.Second),
		LastSuccess: start.Add(90 * time.Second), MessagesPublished: 5120,
	}
	if err := metrics.WriteTextfile(filepath.Join(dir, "chatlake.prom"), run); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(filepath.Join(dir, "chatlake.prom"))
	lines := strings.SplitAfterN(string(b), "\n", 4)
	fmt.Print(strings.Join(lines[:3], ""))
	// Output:
	// # HELP chatlake_last_run_duration_seconds How long the last run took, in seconds.
	// # TYPE chatlake_last_run_duration_seconds gauge
	// chatlake_last_run_duration_seconds{bot="0123456789abcdef",customer="1001",kind="nightly"} 90
}
