package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
	"github.com/chatlake/chatlake/sim"
)

// BenchmarkCloudExport (issue 19): one `chatlake export` child process of the simulator's 5,100
// users over its 14 days (seed 1, about 200k messages, as BenchmarkEndToEnd), at the default
// options but the rate limit, into a local directory and into each cloud store's emulator
// driven by its real client library: fake-gcs-server (in this process), moto's S3 server and
// Azurite (processes of their own). Reports the wall time of the export (wall_s) and its
// extraction and publishing (from its log), on moto and Azurite the requests the emulator
// logged (requests/op; their kinds in the log), the export's CPU (export_cpu_s) and the CPU the emulator spent (emulator_cpu_s/op: it
// shares the cores with the export), and checks the lake against the simulator's truth
// after each run (not timed).
//
//	go test -run '^$' -bench BenchmarkCloudExport -benchtime 1x -count 3 ./cmd/chatlake/
func BenchmarkCloudExport(b *testing.B) {
	for _, kind := range []string{"local", "gcs", "s3", "azure"} {
		b.Run(kind, func(b *testing.B) {
			var sum cloudRun
			for range b.N {
				r := cloudExport(b, kind)
				sum.wall, sum.extract, sum.publish = sum.wall+r.wall, sum.extract+r.extract, sum.publish+r.publish
				sum.emulatorCPU, sum.requests = sum.emulatorCPU+r.emulatorCPU, sum.requests+r.requests
				sum.exportCPU += r.exportCPU
			}
			n := float64(b.N)
			b.ReportMetric(sum.wall.Seconds()/n, "wall_s")
			b.ReportMetric(sum.extract.Seconds()/n, "extract_s")
			b.ReportMetric(sum.publish.Seconds()/n, "publish_s")
			b.ReportMetric(sum.exportCPU.Seconds()/n, "export_cpu_s")
			if kind == "s3" || kind == "azure" {
				b.ReportMetric(float64(sum.requests)/n, "requests/op")
				b.ReportMetric(sum.emulatorCPU.Seconds()/n, "emulator_cpu_s/op")
			}
		})
	}
}

// cloudRun is what one export cost: its wall time, its phases, and on moto or Azurite the
// requests the emulator logged and the CPU it spent (on the same cores as the export).
type cloudRun struct {
	wall, extract, publish time.Duration
	requests               int
	emulatorCPU            time.Duration
	exportCPU              time.Duration // user and system CPU of the export process
}

// cloudBenchLake is the lake of a kind as crashLakeOf makes it, but with the Emulator of moto
// or Azurite (nil for the others).
func cloudBenchLake(b *testing.B, kind string) (crashLake, *storagetest.Emulator) {
	switch kind {
	case "s3":
		endpoint, client, e := storagetest.StartMotoEmulator(b, "lake")
		return crashLake{url: "s3://lake/analytics/chat", env: s3Env(endpoint),
			store: storage.NewS3(client, "lake", "analytics/chat")}, e
	case "azure":
		cs, client, e := storagetest.StartAzuriteEmulator(b, "lake")
		return crashLake{url: "az://lake/analytics/chat", env: []string{storage.EnvAzureConnectionString + "=" + cs},
			store: storage.NewAzure(client, "lake", "analytics/chat")}, e
	}
	return crashLakeOf(b, kind), nil
}

func cloudExport(b *testing.B, kind string) (r cloudRun) {
	b.StopTimer()
	defer b.StartTimer()
	o := sim.DefaultOptions()
	o.Seed, o.Users = 1, 5100
	s := startBenchSim(b, o)
	from, to := o.From, o.To.AddDate(0, 0, -1)
	truth := s.Truth(nil, o.From, o.To, o.To.AddDate(1, 0, 0))
	lake, emu := cloudBenchLake(b, kind)
	env := append([]string{apiKeyEnv + "=" + o.APIKey}, lake.env...)
	args := []string{"export", "--api-url", s.url, "--customer", o.CustomerID, "--bot", o.BotKey, "--lake", lake.url,
		"--from", from.Format(time.DateOnly), "--to", to.Format(time.DateOnly), "--rate", "100000", "--log-format", "json"}
	for _, sel := range s.Selectors() {
		args = append(args, "--users-where", sel.String())
	}

	var reqs0 int
	var kinds0 map[string]int
	var cpu0 time.Duration
	if emu != nil {
		reqs0, kinds0 = emu.Requests()
		cpu0 = emulatorCPU(b, emu)
	}
	children0 := childrenCPU(b)
	b.StartTimer()
	start := time.Now()
	logs := runShards(b, env, 1, args)
	r.wall = time.Since(start)
	b.StopTimer()
	r.exportCPU = childrenCPU(b) - children0
	if emu != nil {
		r.emulatorCPU = emulatorCPU(b, emu) - cpu0
		var kinds map[string]int
		r.requests, kinds = emu.SettledRequests()
		r.requests -= reqs0
		logRequestKinds(b, kind, kinds, kinds0)
	}

	r.extract, r.publish = logPhases(b, logs)
	rows, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(b), lake.dir(b))
	if err != nil {
		b.Fatal(err)
	}
	if diff := lakecheck.Compare(rows, truth); diff != "" {
		b.Fatal(diff)
	}
	b.Logf("%s: %d messages, wall %s, extraction %s, publishing %s, %d requests, emulator CPU %s", kind, len(truth),
		r.wall.Round(time.Millisecond), r.extract.Round(time.Millisecond), r.publish.Round(time.Millisecond),
		r.requests, r.emulatorCPU.Round(time.Millisecond))
	return r
}

// childrenCPU is the user and system CPU of this process's children that ended and were
// waited for (the emulators, still running, are not among them).
func childrenCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func emulatorCPU(b *testing.B, e *storagetest.Emulator) time.Duration {
	b.Helper()
	d, err := e.CPU()
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// logRequestKinds logs the requests of one export by kind (those logged since before), most
// frequent first (go test shows the whole list with -v; without, a benchmark's log is cut at
// 10 lines).
func logRequestKinds(b *testing.B, store string, now, before map[string]int) {
	b.Helper()
	type kindCount struct {
		kind string
		n    int
	}
	var ks []kindCount
	for k, n := range now {
		if n -= before[k]; n > 0 {
			ks = append(ks, kindCount{k, n})
		}
	}
	slices.SortFunc(ks, func(a, b kindCount) int { return cmp.Or(b.n-a.n, strings.Compare(a.kind, b.kind)) })
	var sb strings.Builder
	for _, k := range ks {
		fmt.Fprintf(&sb, "\n%6d %s", k.n, k.kind)
	}
	b.Logf("%s: requests by kind:%s", store, sb.String())
}
