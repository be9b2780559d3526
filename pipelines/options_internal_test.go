package pipelines

import (
	"math"
	"runtime"
	"testing"
)

// TestDefaultParallelPublish: as many merges as the cores (at most 4) and the memory limit
// allow, at least one.
func TestDefaultParallelPublish(t *testing.T) {
	cores := min(runtime.GOMAXPROCS(0), defaultMaxParallelPublish)
	for _, tc := range []struct {
		limit int64
		want  int
	}{
		{math.MaxInt64, cores},
		{1 << 40, cores},
		{160 << 20, 1}, // the command's default limit
		{200 << 20, 1},
		{260 << 20, min(cores, 2)},
		{460 << 20, min(cores, 4)},
		{1 << 20, 1},
		{0, 1},
	} {
		if got := defaultParallelPublish(tc.limit); got != tc.want {
			t.Errorf("limit %d MiB: %d days at once, want %d", tc.limit>>20, got, tc.want)
		}
	}
}
