package load

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// BenchmarkSegmentCost: 196k rows over 14 days staged as B batches, then every day merged.
func BenchmarkSegmentCost(b *testing.B) {
	const total, days = 196_000, 14
	for _, batches := range []int{100, 25} {
		b.Run(fmt.Sprint(batches), func(b *testing.B) {
			per := total / batches / days
			rows := make([][]schema.Message, batches)
			for bi := range batches {
				for d := range days {
					day := fmt.Sprintf("2024-05-%02d", 1+d)
					rows[bi] = append(rows[bi], testDay(day, bi*per, (bi+1)*per)...)
				}
			}
			b.ReportAllocs()
			var fin, mrg float64
			for b.Loop() {
				b.StopTimer()
				dir := b.TempDir()
				st, err := storage.NewLocal(filepath.Join(dir, "lake"))
				if err != nil {
					b.Fatal(err)
				}
				l, err := NewLake(st, &Options{TempDir: dir})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				c0 := cpuTime()
				var idx []*StagedBatch
				for bi := range batches {
					s, err := l.NewStage()
					if err != nil {
						b.Fatal(err)
					}
					for i := 0; i < len(rows[bi]); i += 500 {
						if err := s.Add(rows[bi][i:min(i+500, len(rows[bi]))]); err != nil {
							b.Fatal(err)
						}
					}
					rec := &BatchDone{RunID: "run-1"}
					if _, err := l.FinishBatch(context.Background(), "plan-1", "a1", bi, s, rec); err != nil {
						b.Fatal(err)
					}
					s.Close()
					idx = append(idx, rec.Staged)
				}
				c1 := cpuTime()
				for d := range days {
					day := fmt.Sprintf("2024-05-%02d", 1+d)
					in := MergeInput{Plan: "plan-1", Attempt: "a1", Replace: func(string) bool { return true }, RunID: "run-1", Staged: idx}
					if _, err := l.Merge(context.Background(), day, in); err != nil {
						b.Fatal(err)
					}
				}
				c2 := cpuTime()
				fin += (c1 - c0).Seconds()
				mrg += (c2 - c1).Seconds()
				b.StopTimer()
				l.Close()
				b.StartTimer()
			}
			b.ReportMetric(fin/float64(b.N), "finish-cpu-s")
			b.ReportMetric(mrg/float64(b.N), "merge-cpu-s")
		})
	}
}
