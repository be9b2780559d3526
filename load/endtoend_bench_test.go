package load_test

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/icetable"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/pipelines"
	"github.com/chatlake/chatlake/sim"
)

// endToEndSizes are BenchmarkFloor's sizes (benchSizes in floor_bench_test.go): the same
// simulator users, so the same messages.
var endToEndSizes = []struct {
	name  string
	users int
}{{"200k", 5100}, {"1M", 25500}}

// e2eBatchSize sets BenchmarkEndToEnd's users per batch (0: the pipeline's default, users/40),
// to measure what batching costs: go test -bench EndToEnd ./load/ -args -e2e.batch-size 204
var e2eBatchSize = flag.Int("e2e.batch-size", 0, "users per batch in BenchmarkEndToEnd (0: the default)")

// e2eTableFormat sets BenchmarkEndToEnd's table format: hive, or iceberg (a SQLite catalog
// beside the lake), to measure what Iceberg tables cost: -args -e2e.table-format iceberg
var e2eTableFormat = flag.String("e2e.table-format", load.TableFormatHive, "table format of BenchmarkEndToEnd's lake: hive or iceberg")

// BenchmarkEndToEnd is the export BenchmarkFloor is the floor of: `chatlake sim` runs as a
// child process (so its CPU and allocations are not counted), and the whole pipeline exports
// its 14 days over loopback HTTP with the rate limit off and default options but the batch
// size of -e2e.batch-size (real client, flatten, keys, stage, staged batches, merge
// publishing, manifests, state) into a local lake. Reports msgs/s, ns/msg, cpu-s/Mmsgs
// (user+system CPU of this process, by getrusage), sys-s/Mmsgs (its system part: file and
// socket calls, page faults), sim-cpu-s/Mmsgs, allocs/msg, lake-bytes/msg
// and staged-bytes/msg (the bytes of the staged objects, written and removed during the run).
//
//	go test -run '^$' -bench 'Floor|EndToEnd' -benchtime 1x -count 3 ./load/
func BenchmarkEndToEnd(b *testing.B) {
	bin := buildChatlake(b)
	for _, size := range endToEndSizes {
		b.Run(size.name, func(b *testing.B) {
			so := sim.DefaultOptions()
			so.Seed, so.Users = 1, size.users
			now := so.To.AddDate(0, 0, 30)
			url, sels, simCPU := startSim(b, bin, so, now)
			co := extract.Options{BaseURL: url, CustomerID: so.CustomerID, BotKey: so.BotKey, APIKey: so.APIKey, Rate: 100000}
			po := pipelines.Options{CustomerID: so.CustomerID, BotKey: so.BotKey, Selectors: sels, Clock: func() time.Time { return now },
				BatchSize: *e2eBatchSize}

			var messages, lakeBytes, stagedBytes int64
			var snapshots int
			var mallocs uint64
			var cpu, simCPUTotal, sysT time.Duration
			var before, after runtime.MemStats
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				dir := b.TempDir()
				local, err := storage.NewLocal(filepath.Join(dir, "lake"))
				if err != nil {
					b.Fatal(err)
				}
				store := &stagedCounter{Local: local}
				lo := &load.Options{TempDir: dir}
				if *e2eTableFormat == load.TableFormatIceberg {
					lo.Catalog = &icetable.Config{URI: "sqlite:" + filepath.Join(dir, "catalog.db")}
				}
				lake, err := load.NewLake(store, lo)
				if err != nil {
					b.Fatal(err)
				}
				c, err := extract.New(co)
				if err != nil {
					b.Fatal(err)
				}
				p, err := pipelines.New(c, lake, po)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&before)
				b.StartTimer()
				s0 := simCPU()
				c0, y0 := load.ProcessCPU()
				sum, err := p.Export(context.Background(), so.From, so.To.AddDate(0, 0, -1))
				c1, y1 := load.ProcessCPU()
				cpu, sysT = cpu+c1-c0, sysT+y1-y0
				simCPUTotal += simCPU() - s0
				b.StopTimer()
				runtime.ReadMemStats(&after)
				if err != nil {
					b.Fatal(err)
				}
				messages += sum.Messages
				stagedBytes += store.bytes.Load()
				lakeBytes = parquetBytes(b, filepath.Join(dir, "lake", "messages"))
				// An Iceberg table's snapshot has a manifest list of its own: snap-*.avro.
				lists, _ := filepath.Glob(filepath.Join(dir, "lake", "messages", "metadata", "snap-*.avro"))
				snapshots += len(lists)
				if err := lake.Close(); err != nil {
					b.Fatal(err)
				}
				mallocs += after.Mallocs - before.Mallocs
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(float64(messages)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(messages), "ns/msg")
			b.ReportMetric(cpu.Seconds()/(float64(messages)/1e6), "cpu-s/Mmsgs")
			b.ReportMetric(sysT.Seconds()/(float64(messages)/1e6), "sys-s/Mmsgs")
			// The simulator's share of the machine: on 2 cores, what it burns is not the export's.
			b.ReportMetric(simCPUTotal.Seconds()/(float64(messages)/1e6), "sim-cpu-s/Mmsgs")
			b.ReportMetric(float64(mallocs)/float64(messages), "allocs/msg")
			b.ReportMetric(float64(messages)/float64(b.N), "msgs/op")
			b.ReportMetric(float64(lakeBytes)/float64(messages/int64(b.N)), "lake-bytes/msg")
			b.ReportMetric(float64(stagedBytes)/float64(messages), "staged-bytes/msg")
			if *e2eTableFormat == load.TableFormatIceberg {
				b.ReportMetric(float64(snapshots)/float64(b.N), "snapshots/op")
			}
		})
	}
}

// stagedCounter is a local store that counts the bytes of the staged objects (names with
// "/staged/") and of the done objects, which hold the rows of most batches (names with
// "/done/"), whose writes complete, for BenchmarkEndToEnd's staged-bytes/msg. It is the local
// store otherwise: its other methods, LocalPath among them, are the store's own.
type stagedCounter struct {
	*storage.Local
	bytes atomic.Int64
}

func (s *stagedCounter) Create(ctx context.Context, name string) (storage.Writer, error) {
	w, err := s.Local.Create(ctx, name)
	if err != nil || !strings.Contains(name, "/staged/") {
		return w, err
	}
	return &countedWriter{Writer: w, total: &s.bytes}, nil
}

func (s *stagedCounter) PutIf(ctx context.Context, name string, data []byte, ifVersion string) (string, error) {
	v, err := s.Local.PutIf(ctx, name, data, ifVersion)
	if err == nil && strings.Contains(name, "/done/") {
		s.bytes.Add(int64(len(data)))
	}
	return v, err
}

// countedWriter adds what was written to total when Close succeeds.
type countedWriter struct {
	storage.Writer
	n     int64
	total *atomic.Int64
}

func (w *countedWriter) Write(p []byte) (int, error) {
	n, err := w.Writer.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *countedWriter) Close() error {
	err := w.Writer.Close()
	if err == nil {
		w.total.Add(w.n)
	}
	return err
}

// buildChatlake builds the command into a temporary directory (setup, not measured).
func buildChatlake(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "chatlake")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/chatlake/chatlake/cmd/chatlake")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startSim runs `chatlake sim` with so's seed and users on a free loopback port, its clock at
// now, and returns its URL, the selectors that cover every user and a function that reads the
// CPU time the process has used so far. The process is killed at the end of the benchmark.
func startSim(b *testing.B, bin string, so sim.Options, now time.Time) (string, []extract.Selector, func() time.Duration) {
	b.Helper()
	cmd := exec.Command(bin, "sim", "--addr", "127.0.0.1:0",
		"--seed", strconv.FormatInt(so.Seed, 10), "--users", strconv.Itoa(so.Users),
		"--now", now.Format(time.RFC3339))
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr bytes.Buffer // its last words ("interrupted by SIGTERM") are no news
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	// "Technowiz simulator on http://ADDR ...", then the export line, then the selectors.
	sc := bufio.NewScanner(out)
	var url string
	var sels []extract.Selector
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "Technowiz simulator on "); ok {
			url, _, _ = strings.Cut(rest, " ")
		}
		if rest, ok := strings.CutPrefix(line, "Selectors covering every user:"); ok {
			for _, f := range strings.Fields(rest) {
				if name, value, ok := strings.Cut(f, "="); ok && f != "--users-where" {
					sels = append(sels, extract.Selector{Name: name, Value: value})
				}
			}
			break
		}
	}
	if url == "" || len(sels) == 0 {
		b.Fatalf("chatlake sim printed no address or selectors (%v): %s", sc.Err(), stderr.String())
	}
	go func() { // keep the pipe drained
		for sc.Scan() {
		}
	}()
	pid := cmd.Process.Pid
	return url, sels, func() time.Duration { return processCPU(b, pid) }
}

// processCPU is the user and system CPU time of the live process pid, from /proc/PID/stat
// (fields 14 and 15, in clock ticks of 1/100 s, USER_HZ on Linux).
func processCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatalf("simulator's CPU time: %v", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces: count from after it.
	_, rest, ok := strings.Cut(string(data), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 13 {
		b.Fatalf("simulator's CPU time: cannot read /proc/%d/stat: %q", pid, data)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("simulator's CPU time: cannot read /proc/%d/stat: %q", pid, data)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// parquetBytes is the size of the Parquet files under dir.
func parquetBytes(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".parquet" {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n += fi.Size()
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
