package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/chatlake/chatlake/load/storage"
)

// Names of the lake's objects, relative to the store's root.
const (
	messagesTable   = "messages"
	usersTable      = "users"
	messagesPrefix  = "messages/"
	manifestsPrefix = "_chatlake/manifests/messages/"
	stagingPrefix   = "_chatlake/staging/"
	usersPrefix     = "users/"
	usersFileName   = "part-00000.parquet"
	maxShards       = 99999 // five digits in the file name
	dayLayout       = "2006-01-02"
)

// Lake is the chatlake data lake on one store. It is safe for concurrent use, but two Publish
// calls for the same day must not run at once (the second fails with ErrConcurrentWrite, or
// one of them fails on a staging file the other removed; the lake stays consistent).
type Lake struct {
	store storage.Store
	opts  Options
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
	return &Lake{store: store, opts: opts}, nil
}

// Store is the lake's store.
func (l *Lake) Store() storage.Store { return l.store }

// Manifest describes one published partition of the messages table. It is written after the
// partition's files; Complete is false while Publish is replacing them.
type Manifest struct {
	Table         string         `json:"table"`
	Dt            string         `json:"dt"`
	SchemaVersion string         `json:"schema_version"`
	RunID         string         `json:"run_id"`
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

// Manifest reads the manifest of day, or an error matching ErrNoManifest.
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
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, version, fmt.Errorf("read manifest of %s: %w", day, err)
	}
	return &m, version, nil
}

// Days returns the days that have a manifest, sorted.
func (l *Lake) Days(ctx context.Context) ([]string, error) {
	objs, err := l.store.List(ctx, manifestsPrefix)
	if err != nil {
		return nil, fmt.Errorf("list manifests: %w", err)
	}
	var days []string
	for _, o := range objs {
		name := strings.TrimPrefix(o.Name, manifestsPrefix)
		day, ok := strings.CutPrefix(name, "dt=")
		if !ok {
			continue
		}
		day, ok = strings.CutSuffix(day, ".json")
		if !ok || checkDay(day) != nil {
			continue
		}
		days = append(days, day)
	}
	sort.Strings(days)
	return days, nil
}

func dayOf(t time.Time) string { return t.UTC().Format(dayLayout) }

// checkDay validates a YYYY-MM-DD day.
func checkDay(day string) error {
	t, err := time.Parse(dayLayout, day)
	if err != nil || t.Format(dayLayout) != day {
		return fmt.Errorf("invalid day %q (want YYYY-MM-DD)", day)
	}
	return nil
}

// checkRunID refuses run ids that cannot be one path segment.
func checkRunID(runID string) error {
	if runID == "" || runID == "." || runID == ".." || len(runID) > 200 {
		return fmt.Errorf("invalid run id %q", runID)
	}
	for _, r := range runID {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_' || r == '.' || r == ':' || r == '+'
		if !ok {
			return fmt.Errorf("invalid run id %q: only letters, digits and -_.:+", runID)
		}
	}
	return nil
}

func partitionDir(day string) string { return messagesPrefix + "dt=" + day + "/" }
func manifestPath(day string) string { return manifestsPrefix + "dt=" + day + ".json" }
func shardName(i, p int) string      { return fmt.Sprintf("part-%05d-of-%05d.parquet", i, p) }

// stagingDir is where run runID stages the files of day.
func stagingDir(runID, day string) string {
	return stagingPrefix + runID + "/" + partitionDir(day)
}

// parseShardName returns the shard and shard count of a file name of the current layout.
func parseShardName(name string) (i, p int, ok bool) {
	var a, b int
	if n, err := fmt.Sscanf(name, "part-%05d-of-%05d.parquet", &a, &b); err != nil || n != 2 {
		return 0, 0, false
	}
	if b < 1 || a < 0 || a >= b || shardName(a, b) != name {
		return 0, 0, false
	}
	return a, b, true
}
