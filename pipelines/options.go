package pipelines

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/transform"
)

// Options configure a Pipeline. Zero values take the defaults documented on each field.
type Options struct {
	CustomerID string             // required to export
	BotKey     string             // required to export
	Selectors  []extract.Selector // required to export: the union of their users is exported

	Concurrency     int           // users fetched at once; default DefaultConcurrency
	BatchSize       int           // users per batch; default about users/40, within 10..10000
	ParallelBatches int           // batches alive beyond those the users in flight need (finishing, staging); default DefaultParallelBatches
	ParallelPublish int           // days merged at once when publishing; default: as many as the cores (at most 4) and the memory limit allow
	Settle          time.Duration // a day is closed this long after its end; default DefaultSettle
	Lookback        int           // nightly: days already exported that are read again (late messages); 0 = none
	LockLease       time.Duration // lease of the lake's lock, renewed every third of it; default DefaultLockLease, at least MinLockLease

	// ShardIndex and ShardCount split a run's batches across processes: shard i takes the
	// batches b with b % ShardCount == i. Default 0 and 1 (one process does everything).
	ShardIndex int
	ShardCount int

	Clock         func() time.Time // default time.Now
	Logger        *slog.Logger     // default: discard
	Progress      io.Writer        // where progress lines go; nil: none
	ProgressEvery time.Duration    // default DefaultProgressEvery
	Terminal      bool             // Progress is a terminal: redraw one line
	RunID         string           // default: time-based and random

	// Pseudonymizer, when set, pseudonymises user ids and PII attributes (pseudonym.go);
	// RedactText redacts e-mail addresses, phone numbers and card numbers in text.
	Pseudonymizer *transform.Pseudonymizer
	RedactText    bool
}

// defaultMaxParallelPublish caps the default of ParallelPublish: a merge is CPU-bound (Parquet
// encoding and zstd), so more days at once than cores only add memory.
const defaultMaxParallelPublish = 4

// mergeMemory is about what one day being merged holds at the default row group of 64Ki rows,
// and publishMemory what the rest of a run holds meanwhile (heap profiles of a 1M-message
// export, docs/benchmarks.md: the row group as Go values and as Arrow data, the Parquet
// writer's pages and zstd windows). The default of ParallelPublish keeps that many merges
// within the Go runtime's memory limit: with the command's default limit, one.
const (
	mergeMemory   = 100 << 20
	publishMemory = 60 << 20
)

// defaultParallelPublish is ParallelPublish's default under the memory limit limit (bytes;
// math.MaxInt64 for none): the cores, at most defaultMaxParallelPublish, and no more merges
// than the limit holds, at least one.
func defaultParallelPublish(limit int64) int {
	n := min(runtime.GOMAXPROCS(0), defaultMaxParallelPublish)
	if limit < math.MaxInt64 {
		n = min(n, max(1, int((limit-publishMemory)/mergeMemory)))
	}
	return n
}

// Defaults of Options: the one place they are written (the command's flags show these).
const (
	DefaultConcurrency     = 8
	DefaultParallelBatches = 2
	DefaultSettle          = time.Hour
	DefaultLockLease       = 2 * time.Minute
	DefaultProgressEvery   = 10 * time.Second
)

// Bounds of Options beyond which a value is a typo (and could exhaust memory: Concurrency
// sizes a channel). The command checks its flags against these before it creates anything.
const (
	MaxConcurrency = 10000
	// MaxParallelPublish: each day merged at once holds up to about two row groups of rows
	// (load.Options.RowGroupRows), tens of MiB.
	MaxParallelPublish = 64
	MaxBatchSize       = 1000000
	MaxShards          = 10000
	MaxLookback        = 3660 // days
	MinLockLease       = 3 * time.Second
	MaxLockLease       = 30 * 24 * time.Hour
	// MaxSettle is a century: tests and replays of old data set a settle of years.
	MaxSettle = 100 * 365 * 24 * time.Hour
)

// setDefaults validates o and fills in the defaults; an error names the field.
func (o *Options) setDefaults() error {
	switch {
	case o.Concurrency < 0 || o.Concurrency > MaxConcurrency:
		return optErr("Concurrency", "%d must be between 0 (the default) and %d", o.Concurrency, MaxConcurrency)
	case o.BatchSize < 0 || o.BatchSize > MaxBatchSize:
		return optErr("BatchSize", "%d must be between 0 (the default) and %d", o.BatchSize, MaxBatchSize)
	case o.ParallelBatches < 0 || o.ParallelBatches > MaxConcurrency:
		return optErr("ParallelBatches", "%d must be between 0 (the default) and %d", o.ParallelBatches, MaxConcurrency)
	case o.ParallelPublish < 0 || o.ParallelPublish > MaxParallelPublish:
		return optErr("ParallelPublish", "%d must be between 0 (the default) and %d", o.ParallelPublish, MaxParallelPublish)
	case o.Lookback < 0 || o.Lookback > MaxLookback:
		return optErr("Lookback", "%d must be between 0 and %d days", o.Lookback, MaxLookback)
	case o.Settle < 0 || o.Settle > MaxSettle:
		return optErr("Settle", "%s must be between 0 (the default) and %s", o.Settle, MaxSettle)
	case o.LockLease < 0 || (o.LockLease > 0 && o.LockLease < MinLockLease) || o.LockLease > MaxLockLease:
		return optErr("LockLease", "%s must be between %s and %s (0: the default)", o.LockLease, MinLockLease, MaxLockLease)
	case o.ProgressEvery < 0 || (o.ProgressEvery > 0 && o.ProgressEvery < time.Millisecond):
		return optErr("ProgressEvery", "%s must be at least 1ms (0: the default)", o.ProgressEvery)
	case o.ShardCount < 0 || o.ShardCount > MaxShards:
		return optErr("ShardCount", "%d must be between 0 (the default, 1) and %d", o.ShardCount, MaxShards)
	case o.ShardIndex < 0 || (o.ShardIndex > 0 && o.ShardIndex >= max(o.ShardCount, 1)):
		return optErr("ShardIndex", "%d is not below the shard count %d", o.ShardIndex, max(o.ShardCount, 1))
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.ParallelBatches == 0 {
		o.ParallelBatches = DefaultParallelBatches
	}
	if o.ParallelPublish == 0 {
		o.ParallelPublish = defaultParallelPublish(debug.SetMemoryLimit(-1))
	}
	if o.ShardCount == 0 {
		o.ShardCount = 1
	}
	if o.Settle == 0 {
		o.Settle = DefaultSettle
	}
	if o.LockLease == 0 {
		o.LockLease = DefaultLockLease
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ProgressEvery == 0 {
		o.ProgressEvery = DefaultProgressEvery
	}
	if o.RunID == "" {
		o.RunID = NewRunID(o.Clock())
	}
	return nil
}

// NewRunID makes a run id that sorts by time: 20240502T101532Z-9f3c1a2b.
func NewRunID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
