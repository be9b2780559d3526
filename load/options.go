package load

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/chatlake/chatlake/load/icetable"
)

// Defaults of Options.
const (
	DefaultTargetFileSize = 128 << 20
	DefaultRowGroupRows   = 64 << 10
	DefaultStageMemory    = 16 << 20

	// MaxTargetFileSize is the bound beyond which a value is a typo: a larger TargetFileSize
	// overflows the shard count's arithmetic. The command checks its flag against it.
	MaxTargetFileSize = 1 << 40
	// maxRowGroupRows: a larger row group would hold gigabytes in memory.
	maxRowGroupRows = 16 << 20
)

// OptionError is an invalid field of Options, returned by NewLake.
type OptionError struct {
	Field  string // the field of Options, e.g. "TargetFileSize"
	Reason string // what is wrong, with the value
}

func (e *OptionError) Error() string { return "load options: " + e.Field + " " + e.Reason }

func optErr(field, format string, args ...any) error {
	return &OptionError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Options tune a Lake. The zero value (or nil) means the defaults.
type Options struct {
	// TargetFileSize is the Parquet file size aimed at when a day is first published: the day
	// gets max(1, ceil(estimated bytes / TargetFileSize)) shards. Default 128 MiB.
	TargetFileSize int64
	// RowGroupRows is the number of rows of one Parquet row group, and the unit of memory:
	// writing a shard holds one row group's rows in the record batches they were read in and
	// once more as the row group's record, about 2 x RowGroupRows x the average row size (about
	// 64 MiB for 64Ki rows of 500 bytes), plus 48 bytes a row to sort them.
	// Rows are sorted by (channel_user_id, sent_at, message_key) within each row group.
	// Default 65536.
	RowGroupRows int
	// TempDir holds the local spill files of stages and of Verify. Default os.TempDir().
	TempDir string
	// StageMemory is how many bytes of rows (as Arrow record batches) the lake's stages hold in
	// memory together before a stage that adds rows spills them to TempDir (Stage). Default
	// 16 MiB (the batches in flight of a 1M-message run, about 10k messages each, stay in
	// memory); -1 spills every stage's rows.
	StageMemory int64
	// Allocator allocates Arrow memory. Default memory.DefaultAllocator.
	Allocator memory.Allocator
	// Logger receives one line per published day and per repaired leftover. Default: discard.
	Logger *slog.Logger
	// Catalog, if not nil, makes the lake an Iceberg lake (TableFormatIceberg): its tables are
	// Iceberg tables in this catalog (opened on first use, closed by Lake.Close), and a plan's
	// publishing is one commit (Publication). nil: the Hive layout, with the lake's own
	// manifests. On a cloud store NewLake adds the FileIO properties of the store's own
	// settings to its Props (the caller's win) and the store's redaction of their secrets to
	// its Redact (see the package doc, Iceberg tables).
	Catalog *icetable.Config
	// SnapshotRetention is how long an Iceberg lake keeps the snapshots that later commits
	// replaced (time travel); every commit expires older ones and deletes the files only they
	// referenced. Default DefaultSnapshotRetention (7 days).
	SnapshotRetention time.Duration
}

// withDefaults validates o and fills in the defaults.
func (o *Options) withDefaults() (Options, error) {
	var r Options
	if o != nil {
		r = *o
	}
	switch {
	case r.TargetFileSize < 0 || r.TargetFileSize > MaxTargetFileSize:
		return r, optErr("TargetFileSize", "%d must be between 0 (the default) and %d", r.TargetFileSize, int64(MaxTargetFileSize))
	case r.TargetFileSize == 0:
		r.TargetFileSize = DefaultTargetFileSize
	}
	switch {
	case r.RowGroupRows < 0 || r.RowGroupRows > maxRowGroupRows:
		return r, optErr("RowGroupRows", "%d must be between 0 (the default) and %d", r.RowGroupRows, maxRowGroupRows)
	case r.RowGroupRows == 0:
		r.RowGroupRows = DefaultRowGroupRows
	}
	switch {
	case r.StageMemory < -1:
		return r, optErr("StageMemory", "%d must be -1 (spill every row), 0 (the default) or more", r.StageMemory)
	case r.StageMemory == 0:
		r.StageMemory = DefaultStageMemory
	case r.StageMemory == -1:
		r.StageMemory = 0
	}
	if r.TempDir == "" {
		r.TempDir = os.TempDir()
	}
	if fi, err := os.Stat(r.TempDir); err != nil {
		return r, &OptionError{Field: "TempDir", Reason: err.Error()}
	} else if !fi.IsDir() {
		return r, optErr("TempDir", "%s is not a directory", r.TempDir)
	}
	if r.Allocator == nil {
		r.Allocator = memory.DefaultAllocator
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case r.SnapshotRetention < 0:
		return r, optErr("SnapshotRetention", "%s must not be negative", r.SnapshotRetention)
	case r.SnapshotRetention == 0:
		r.SnapshotRetention = DefaultSnapshotRetention
	}
	return r, nil
}
