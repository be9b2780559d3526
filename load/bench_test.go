package load

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/chatlake/chatlake/schema"
)

// BenchmarkPublish publishes 200k rows of one day into an in-memory store: rows/s, allocations,
// and Parquet bytes per row.
func BenchmarkPublish(b *testing.B) {
	const day, n = "2024-05-02", 200_000
	rows := testDay(day, 0, n)
	l, err := NewLake(newMemStore(), &Options{TempDir: b.TempDir(), Allocator: memory.NewGoAllocator()})
	if err != nil {
		b.Fatal(err)
	}
	s := stage(b, l, rows)
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	var st PublishStats
	for b.Loop() {
		if st, err = publishStage(l, context.Background(), s, []string{day}, "run-bench"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(n*b.N), "alloc-bytes/row")
	b.ReportMetric(float64(st.Bytes)/n, "parquet-bytes/row")
}

// BenchmarkStageAdd stages batches of 500 rows spread over three days.
func BenchmarkStageAdd(b *testing.B) {
	days := []string{"2024-05-01", "2024-05-02", "2024-05-03"}
	batch := make([]schema.Message, 500)
	for i := range batch {
		batch[i] = testMessage(days[i%3], i)
	}
	l, err := NewLake(newMemStore(), &Options{TempDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	s := stage(b, l)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := s.Add(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(batch)*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkStageRoundTrip stages 100k rows over 14 days in batches of 500 (as pages come in),
// then reads every day back as FinishBatch does: the cost of the spill format alone.
func BenchmarkStageRoundTrip(b *testing.B) {
	const n, days = 100_000, 14
	rows := make([]schema.Message, n)
	for i := range rows {
		rows[i] = testMessage(fmt.Sprintf("2024-05-%02d", 1+i%days), i)
	}
	l, err := NewLake(newMemStore(), &Options{TempDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := l.NewStage()
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < n; i += 500 {
			if err := s.Add(rows[i:min(i+500, n)]); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.flush(); err != nil {
			b.Fatal(err)
		}
		read := 0
		for _, day := range s.sortedDays() {
			r, _, closeDay, _, err := s.open(day)
			if err != nil {
				b.Fatal(err)
			}
			var m schema.Message
			for err = r.next(&m); err == nil; err = r.next(&m) {
				read++
			}
			closeDay()
			if err != io.EOF {
				b.Fatal(err)
			}
		}
		if read != n {
			b.Fatalf("read %d rows, staged %d", read, n)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/row")
}
