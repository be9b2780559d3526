package pipelines_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/pipelines"
)

// TestNewValidatesOptions: every option that cannot be right is an error of New that names the
// field and matches ErrBadInput; none panics (a negative LockLease or ProgressEvery once reached
// time.NewTicker inside a goroutine).
func TestNewValidatesOptions(t *testing.T) {
	store, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	lake, err := load.NewLake(store, &load.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field string // "" means valid
		mod   func(*pipelines.Options)
	}{
		{"", func(*pipelines.Options) {}},
		{"", func(o *pipelines.Options) {
			o.Concurrency, o.BatchSize, o.ParallelBatches, o.ShardCount, o.ShardIndex = 10000, 1000000, 10000, 10000, 9999
			o.ParallelPublish = 64
			o.Lookback, o.Settle, o.LockLease, o.ProgressEvery = 3660, 100*365*24*time.Hour, 30*24*time.Hour, time.Millisecond
		}},
		{"Concurrency", func(o *pipelines.Options) { o.Concurrency = -1 }},
		{"Concurrency", func(o *pipelines.Options) { o.Concurrency = math.MaxInt }},
		{"BatchSize", func(o *pipelines.Options) { o.BatchSize = -1 }},
		{"BatchSize", func(o *pipelines.Options) { o.BatchSize = math.MaxInt }},
		{"ParallelBatches", func(o *pipelines.Options) { o.ParallelBatches = -1 }},
		{"ParallelBatches", func(o *pipelines.Options) { o.ParallelBatches = math.MaxInt }},
		{"ParallelPublish", func(o *pipelines.Options) { o.ParallelPublish = -1 }},
		{"ParallelPublish", func(o *pipelines.Options) { o.ParallelPublish = 65 }},
		{"Lookback", func(o *pipelines.Options) { o.Lookback = -1 }},
		{"Lookback", func(o *pipelines.Options) { o.Lookback = math.MaxInt }},
		{"Settle", func(o *pipelines.Options) { o.Settle = -time.Second }},
		{"Settle", func(o *pipelines.Options) { o.Settle = math.MaxInt64 }},
		{"LockLease", func(o *pipelines.Options) { o.LockLease = -time.Second }},
		{"LockLease", func(o *pipelines.Options) { o.LockLease = time.Second }},
		{"LockLease", func(o *pipelines.Options) { o.LockLease = math.MaxInt64 }},
		{"ProgressEvery", func(o *pipelines.Options) { o.ProgressEvery = -time.Second }},
		{"ProgressEvery", func(o *pipelines.Options) { o.ProgressEvery = 1 }},
		{"ShardCount", func(o *pipelines.Options) { o.ShardCount = -1 }},
		{"ShardCount", func(o *pipelines.Options) { o.ShardCount = math.MaxInt }},
		{"ShardIndex", func(o *pipelines.Options) { o.ShardIndex = -1 }},
		{"ShardIndex", func(o *pipelines.Options) { o.ShardIndex, o.ShardCount = 2, 2 }},
		{"ShardIndex", func(o *pipelines.Options) { o.ShardIndex = 1 }},
	} {
		var o pipelines.Options
		tc.mod(&o)
		p, err := pipelines.New(nil, lake, o)
		if tc.field == "" {
			if err != nil || p == nil {
				t.Errorf("valid options %+v: %v", o, err)
			}
			continue
		}
		var oe *pipelines.OptionError
		if !errors.As(err, &oe) || oe.Field != tc.field || !errors.Is(err, pipelines.ErrBadInput) ||
			!strings.Contains(err.Error(), "Options."+tc.field+" ") {
			t.Errorf("%s: error %v, want an *OptionError matching ErrBadInput naming Options.%s", tc.field, err, tc.field)
		}
	}
	if _, err := pipelines.New(nil, nil, pipelines.Options{}); err == nil {
		t.Error("a nil lake is accepted")
	}
}
