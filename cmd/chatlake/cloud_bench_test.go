package main

import (
	"context"
	"testing"
	"time"

	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/sim"
)

// BenchmarkCloudExport (issue 19): one `chatlake export` child process of the simulator's 5,100
// users over its 14 days (seed 1, about 200k messages, as BenchmarkEndToEnd), at the default
// options but the rate limit, into a local directory and into each cloud store's emulator
// driven by its real client library: fake-gcs-server (in this process), moto's S3 server and
// Azurite (processes of their own). Reports the wall time of the export (wall_s) and its
// extraction and publishing (from its log), and checks the lake against the simulator's truth
// after each run (not timed).
//
//	go test -run '^$' -bench BenchmarkCloudExport -benchtime 1x -count 3 ./cmd/chatlake/
func BenchmarkCloudExport(b *testing.B) {
	for _, kind := range []string{"local", "gcs", "s3", "azure"} {
		b.Run(kind, func(b *testing.B) {
			var wall, extract, publish time.Duration
			for range b.N {
				w, e, p := cloudExport(b, kind)
				wall, extract, publish = wall+w, extract+e, publish+p
			}
			n := float64(b.N)
			b.ReportMetric(wall.Seconds()/n, "wall_s")
			b.ReportMetric(extract.Seconds()/n, "extract_s")
			b.ReportMetric(publish.Seconds()/n, "publish_s")
		})
	}
}

func cloudExport(b *testing.B, kind string) (wall, extract, publish time.Duration) {
	b.StopTimer()
	defer b.StartTimer()
	o := sim.DefaultOptions()
	o.Seed, o.Users = 1, 5100
	s := startBenchSim(b, o)
	from, to := o.From, o.To.AddDate(0, 0, -1)
	truth := s.Truth(nil, o.From, o.To, o.To.AddDate(1, 0, 0))
	lake := crashLakeOf(b, kind)
	env := append([]string{apiKeyEnv + "=" + o.APIKey}, lake.env...)
	args := []string{"export", "--api-url", s.url, "--customer", o.CustomerID, "--bot", o.BotKey, "--lake", lake.url,
		"--from", from.Format(time.DateOnly), "--to", to.Format(time.DateOnly), "--rate", "100000", "--log-format", "json"}
	for _, sel := range s.Selectors() {
		args = append(args, "--users-where", sel.String())
	}

	b.StartTimer()
	start := time.Now()
	logs := runShards(b, env, 1, args)
	wall = time.Since(start)
	b.StopTimer()

	extract, publish = logPhases(b, logs)
	rows, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(b), lake.dir(b))
	if err != nil {
		b.Fatal(err)
	}
	if diff := lakecheck.Compare(rows, truth); diff != "" {
		b.Fatal(diff)
	}
	b.Logf("%s: %d messages, wall %s, extraction %s, publishing %s", kind, len(truth),
		wall.Round(time.Millisecond), extract.Round(time.Millisecond), publish.Round(time.Millisecond))
	return wall, extract, publish
}
