package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/chatlake/chatlake/load/icetable"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// Lake is the chatlake data lake on one store. It is safe for concurrent use, but two Publish
// calls for the same day must not run at once (the second fails with ErrConcurrentWrite, or
// one of them fails on a staging file the other removed; the lake stays consistent).
type Lake struct {
	store    storage.Store
	opts     Options
	stages   *stageBudget // the memory its stages hold, together
	builders *builderPool // empty row builders, reused by its stages' days
	sortBufs sortBuffers  // buffers of row references, to sort a row group (shard.go)
	// shardKeys is the number of keys of the shard written last, the size a shard writer's set
	// of keys starts at (shard.go).
	shardKeys atomic.Int64
	headers   sync.Map     // staged part name -> its header (stagedHeader)
	frames    frameReaders // readers of format 2 segments' streams (staged.go)
	columns   sync.Map     // staged part name -> its *stagedColumns (partColumns)
	// staleStaging holds, per run id, what other runs left in staging (cleanStaging).
	staleStaging sync.Map
	// doneRecords holds the done records this process wrote: done object -> the record's
	// JSON; doneSizes the sizes of the done objects BatchesDone listed (done.go).
	doneRecords sync.Map
	doneSizes   sync.Map
	doneBufs    sync.Pool // *bytes.Buffer of done objects, reused (doneBuffer)
	// batchUsers holds the users objects this process wrote or read (name -> *usersPart),
	// batchUsersBytes of them, at most keptBatchUsersBytes; usersReads makes one read of an
	// object that several batches ask for at once.
	batchUsers      sync.Map
	batchUsersBytes atomic.Int64
	usersReads      singleflight.Group
	// copies are local copies of the staged parts this process wrote, when the store's objects
	// are not local files (nil then).
	copies *stagedCopies
	// partBytes is about the largest staged object (stagedPartBytes; tests make it smaller).
	partBytes int64
	// stagedFormat is the format stageBatch writes (stagedFormatFramed; tests stage as the
	// binaries before did).
	stagedFormat int

	catMu sync.Mutex
	cat   *icetable.Catalog // an Iceberg lake's catalog, once opened (catalog)
	root  string            // the URI of the store's root in an Iceberg lake's metadata (objectURI)
}

// NewLake returns the lake on store; o may be nil for the defaults.
func NewLake(store storage.Store, o *Options) (*Lake, error) {
	if store == nil {
		return nil, errors.New("new lake: nil store")
	}
	opts, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	l := &Lake{store: store, opts: opts, stages: &stageBudget{limit: opts.StageMemory},
		builders: &builderPool{mem: opts.Allocator}, partBytes: stagedPartBytes, stagedFormat: stagedFormatFramed}
	if _, local := store.(localFiles); !local {
		l.copies = &stagedCopies{tempDir: opts.TempDir, budget: stagedCopyBudget}
	}
	if err := l.icebergIO(); err != nil {
		return nil, err
	}
	return l, nil
}

// Close releases what the lake holds beyond its store: an Iceberg lake's catalog, the local
// copies of the staged parts it wrote. The store is the caller's to close; the lake is not to be
// used after.
func (l *Lake) Close() error {
	var err error
	if l.copies != nil {
		err = l.copies.close()
	}
	l.catMu.Lock()
	defer l.catMu.Unlock()
	if l.cat != nil {
		err = errors.Join(err, l.cat.Close())
		l.cat = nil
	}
	return err
}

// LocalDir is the directory of a lake on a local disk, and false for a lake on a cloud store.
func (l *Lake) LocalDir() (string, bool) {
	if d, ok := l.store.(*storage.Local); ok {
		return d.URL(), true
	}
	return "", false
}

// URL is the lake's location, as its store names it (gs://BUCKET/PREFIX, file:///DIR).
func (l *Lake) URL() string { return l.store.URL() }

// SweepTemporary removes what killed writes left in the store (the temporary files of a local
// directory's unfinished writes) older than olderThan, when the store has such a thing, and
// returns how many.
func (l *Lake) SweepTemporary(ctx context.Context, olderThan time.Duration) (int, error) {
	sw, ok := l.store.(temporarySweeper)
	if !ok {
		return 0, nil
	}
	return sw.SweepTemporary(ctx, olderThan)
}

// temporarySweeper is the optional ability of a store to remove what killed writes left.
type temporarySweeper interface {
	SweepTemporary(ctx context.Context, olderThan time.Duration) (int, error)
}

// MessageFiles lists the data files of the messages table (every partition's), sorted by name.
func (l *Lake) MessageFiles(ctx context.Context) ([]storage.Object, error) {
	objs, err := l.store.List(ctx, messagesPrefix)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	files := objs[:0]
	for _, o := range objs {
		if _, ok := parsePartitionDay(o.Name); ok && isDataFile(o.Name) {
			files = append(files, o)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, nil
}

// Manifest describes one published partition of the messages table. It is written after the
// partition's files; Complete is false while Publish is replacing them.
type Manifest struct {
	Table         string         `json:"table"`
	Dt            string         `json:"dt"`
	SchemaVersion string         `json:"schema_version"`
	RunID         string         `json:"run_id"`
	Plan          string         `json:"plan,omitempty"` // the instance of the run plan whose publish wrote it
	WrittenAt     time.Time      `json:"written_at"`
	Complete      bool           `json:"complete"`
	Shards        int            `json:"shards"`
	Rows          int64          `json:"rows"`
	MinSentAt     *time.Time     `json:"min_sent_at,omitempty"`
	MaxSentAt     *time.Time     `json:"max_sent_at,omitempty"`
	Files         []ManifestFile `json:"files"`
}

// ManifestFile is one file of a partition. Name is the file's base name in the partition
// directory; Version is the store's version of the object once moved into place ("" in an
// incomplete manifest).
type ManifestFile struct {
	Name      string    `json:"name"`
	Rows      int64     `json:"rows"`
	Bytes     int64     `json:"bytes"`
	Version   string    `json:"version"`
	MinSentAt time.Time `json:"min_sent_at"`
	MaxSentAt time.Time `json:"max_sent_at"`
}

// Manifest reads the manifest of day, or an error matching ErrNoManifest (none) or
// ErrCorruptManifest (it does not decode).
func (l *Lake) Manifest(ctx context.Context, day string) (*Manifest, error) {
	if err := checkDay(day); err != nil {
		return nil, err
	}
	m, _, err := l.readManifest(ctx, day)
	return m, err
}

// readManifest reads day's manifest and its version.
func (l *Lake) readManifest(ctx context.Context, day string) (*Manifest, string, error) {
	data, version, err := l.store.Get(ctx, manifestPath(day))
	if errors.Is(err, storage.ErrNotExist) {
		return nil, "", fmt.Errorf("day %s: %w", day, ErrNoManifest)
	}
	if err != nil {
		return nil, "", fmt.Errorf("read manifest of %s: %w", day, err)
	}
	m, err := decodeManifest(data)
	if err != nil {
		return nil, version, fmt.Errorf("read manifest of %s: %w", day, err)
	}
	return m, version, nil
}

// decodeManifest is the one decoder of a stored manifest; its error matches ErrCorruptManifest.
func decodeManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorruptManifest, err)
	}
	return &m, nil
}

// Days returns the days that have a manifest, sorted; on an Iceberg lake, the days that have
// data files in the messages table's current snapshot.
func (l *Lake) Days(ctx context.Context) ([]string, error) {
	if l.iceberg() {
		pub, err := l.BeginPublication(ctx, "", "", "days")
		if err != nil {
			return nil, err
		}
		return pub.Days(), nil
	}
	objs, err := l.store.List(ctx, manifestsPrefix)
	if err != nil {
		return nil, fmt.Errorf("list manifests: %w", err)
	}
	var days []string
	for _, o := range objs {
		if day, ok := parseManifestPath(o.Name); ok {
			days = append(days, day)
		}
	}
	sort.Strings(days)
	return days, nil
}

func dayOf(t time.Time) string { return schema.DayOf(t) }

// SpillDir makes a local directory under Options.TempDir for a spill of kind (one of the
// package's kinds: "users" for package pipelines), named so that SweepSpill removes it if this
// process is killed. The caller removes it when done.
func (l *Lake) SpillDir(kind string) (string, error) {
	if !slices.Contains(spillKinds(), kind) {
		return "", fmt.Errorf("local spill: unknown kind %q", kind)
	}
	dir, err := os.MkdirTemp(l.opts.TempDir, spillPrefix(kind))
	if err != nil {
		return "", fmt.Errorf("local spill: %w", err)
	}
	return dir, nil
}
