package load

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/schema"
	"github.com/chatlake/chatlake/sim"
	"github.com/chatlake/chatlake/transform"
)

// capturedPage is one Conversations API body as the simulator sent it, and its user.
type capturedPage struct {
	user *extract.User
	body []byte
}

// capturePages exports the simulator's range once through a real client and keeps every
// Conversations body it answered (setup, not measured).
func capturePages(b *testing.B, so sim.Options) (pages []capturedPage, jsonBytes int64, w extract.Window) {
	b.Helper()
	s, err := sim.New(so)
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	ts := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, r)
		if i := strings.Index(r.URL.EscapedPath(), "/channel-user/"); i >= 0 && rec.Code == 200 {
			id, _ := url.PathUnescape(strings.TrimSuffix(r.URL.EscapedPath()[i+len("/channel-user/"):], "/conversations"))
			mu.Lock()
			pages = append(pages, capturedPage{user: &extract.User{ID: id}, body: bytes.Clone(rec.Body.Bytes())})
			jsonBytes += int64(rec.Body.Len())
			mu.Unlock()
		}
		maps.Copy(rw.Header(), rec.Header())
		rw.WriteHeader(rec.Code)
		_, _ = rw.Write(rec.Body.Bytes())
	}))
	defer ts.Close()
	c, err := extract.New(extract.Options{BaseURL: ts.URL, CustomerID: so.CustomerID, BotKey: so.BotKey, APIKey: so.APIKey, Rate: 100000})
	if err != nil {
		b.Fatal(err)
	}
	var sels []extract.Selector
	for _, sel := range s.Selectors() {
		sels = append(sels, extract.Selector{Name: sel.Name, Value: sel.Value})
	}
	users, err := c.ListUsers(context.Background(), sels)
	if err != nil {
		b.Fatal(err)
	}
	channel := map[string]string{}
	for _, u := range users {
		channel[u.ID] = u.Channel
	}
	w = extract.Window{Start: so.From, End: so.To}
	for _, u := range users {
		if err := c.Conversations(context.Background(), u.ID, w, func(extract.Page) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	slices.SortFunc(pages, func(a, b capturedPage) int { return strings.Compare(a.user.ID, b.user.ID) })
	for i := range pages {
		pages[i].user.Channel = channel[pages[i].user.ID]
	}
	return pages, jsonBytes, w
}

// benchSizes are the sizes of the floor and end-to-end benchmarks: the simulator's seed-1 data
// over its default 14 days gives about 39.2 messages per user. Keep in step with
// endToEndSizes in endtoend_bench_test.go (the same runs, so that a ratio is one command).
var benchSizes = []struct {
	name  string
	users int
}{{"200k", 5100}, {"1M", 25500}}

// BenchmarkFloor is the floor an export is measured against: captured Conversations pages
// (no HTTP, no limiter, no staging, no orchestration) decoded, flattened and keyed, routed to
// their UTC day, and written as the lake's zstd Parquet (one file per day, the lake's writer
// and row groups, each day's rows buffered up to one row group) into a counting sink. The
// pages are captured once from the simulator (seed 1, 14 days) before the clock starts.
// Reports msgs/s, cpu-s/Mmsgs (user+system CPU of the process per million messages, by
// getrusage), sys-s/Mmsgs (its system part), allocs/msg, json-bytes/msg and lake/json (Parquet bytes over the API's JSON
// bytes).
//
//	go test -run '^$' -bench 'Floor|EndToEnd' -benchtime 1x -count 3 ./load/
func BenchmarkFloor(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			so := sim.DefaultOptions()
			so.Seed, so.Users = 1, size.users
			pages, jsonBytes, w := capturePages(b, so)
			src := transform.Source{CustomerID: so.CustomerID, BotKey: so.BotKey, RunID: "run-floor", ExtractedAt: time.Now()}
			mem := memory.NewGoAllocator()

			var messages, lakeBytes int64
			var cpu, sysT time.Duration
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c0, y0 := processCPU()
				n, size := floor(b, pages, src, w, mem)
				c1, y1 := processCPU()
				cpu, sysT = cpu+c1-c0, sysT+y1-y0
				messages += n
				lakeBytes = size
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			reportPerMessage(b, messages, cpu, after.Mallocs-before.Mallocs)
			b.ReportMetric(sysT.Seconds()/(float64(messages)/1e6), "sys-s/Mmsgs")
			b.ReportMetric(float64(jsonBytes)/float64(messages/int64(b.N)), "json-bytes/msg")
			b.ReportMetric(float64(lakeBytes)/float64(jsonBytes), "lake/json")
		})
	}
}

// reportPerMessage reports what the floor and the end-to-end benchmarks have in common.
func reportPerMessage(b *testing.B, messages int64, cpu time.Duration, mallocs uint64) {
	b.ReportMetric(float64(messages)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(messages), "ns/msg")
	b.ReportMetric(cpu.Seconds()/(float64(messages)/1e6), "cpu-s/Mmsgs")
	b.ReportMetric(float64(mallocs)/float64(messages), "allocs/msg")
	b.ReportMetric(float64(messages)/float64(b.N), "msgs/op")
}

// floorDay is one day's open Parquet file of the floor and its rows not yet written.
type floorDay struct {
	cw   *countingWriter
	fw   *messageFileWriter
	rows []schema.Message
}

// floor runs the floor once and returns the messages written and the Parquet bytes.
func floor(b *testing.B, pages []capturedPage, src transform.Source, w extract.Window, mem memory.Allocator) (int64, int64) {
	days := map[string]*floorDay{}
	flush := func(d *floorDay) {
		if err := d.fw.write(d.rows); err != nil {
			b.Fatal(err)
		}
		d.rows = d.rows[:0]
	}
	n := floorRows(b, pages, src, w, func(day string, m *schema.Message) {
		d := days[day]
		if d == nil {
			d = &floorDay{cw: &countingWriter{w: io.Discard}}
			var err error
			if d.fw, err = newMessageFileWriter(d.cw, mem, DefaultRowGroupRows, src.RunID); err != nil {
				b.Fatal(err)
			}
			days[day] = d
		}
		d.rows = append(d.rows, *m)
		if len(d.rows) == DefaultRowGroupRows {
			flush(d)
		}
	})
	var size int64
	for _, day := range slices.Sorted(maps.Keys(days)) {
		d := days[day]
		if len(d.rows) > 0 {
			flush(d)
		}
		if err := d.fw.close(); err != nil {
			b.Fatal(err)
		}
		size += d.cw.n
	}
	return n, size
}

// floorRows decodes, flattens and keys the rows of pages (pages of a user in a row, as the
// keyer of package pipelines sees them), drops those outside w, and hands each to emit with
// its UTC day. It returns the number of rows emitted.
func floorRows(b *testing.B, pages []capturedPage, src transform.Source, w extract.Window, emit func(day string, m *schema.Message)) int64 {
	var seen map[transform.Identity]int
	var user string
	var n int64
	for _, pg := range pages {
		p, err := extract.DecodeConversations(bytes.NewReader(pg.body))
		if err != nil {
			b.Fatal(err)
		}
		if pg.user.ID != user {
			user, seen = pg.user.ID, map[transform.Identity]int{}
		}
		for _, raw := range p.Messages {
			m, err := transform.Flatten(src, pg.user, raw)
			if err != nil {
				b.Fatal(err)
			}
			if m.SentAt.Before(w.Start) || !m.SentAt.Before(w.End) {
				continue
			}
			id := transform.IdentityOf(&m)
			m.MessageKey = transform.MessageKey(id, seen[id])
			seen[id]++
			emit(schema.DayOf(m.SentAt), &m)
			n++
		}
	}
	return n
}

// processCPU is the CPU time this process has used so far (not its children's): user and
// system together, and the system part alone (getrusage); zero if unknown.
func processCPU() (total, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), time.Duration(ru.Stime.Nano())
}

// cpuTime is processCPU's total.
func cpuTime() time.Duration {
	t, _ := processCPU()
	return t
}
