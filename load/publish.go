package load

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// spillToParquetRatio estimates Parquet bytes from spill bytes (zstd, dictionaries): the first
// publish of a day gets ceil(spill bytes / ratio / TargetFileSize) shards.
const spillToParquetRatio = 4

// shardSplitBuffer is the write buffer of one local shard file while a day is split.
const shardSplitBuffer = 16 << 10

// PublishStats counts what Publish wrote.
type PublishStats struct {
	Days  int   // partitions replaced
	Files int   // Parquet files written
	Rows  int64 // rows written
	Bytes int64 // Parquet bytes written
}

// shardFile is one shard file written to staging.
type shardFile struct {
	shard    int
	name     string // base name in the partition
	rows     int64
	bytes    int64
	min, max time.Time
}

// Publish replaces, for every day of days, the partition messages/dt=day with exactly the rows
// of s staged under that day; a day of days with no staged rows becomes an empty partition
// (no files, a manifest with rows 0). Rows staged under a day not in days are an error
// (ErrDayOutOfRange) and nothing is written. A message_key twice within a day is an error
// (ErrDuplicateKey) and leaves that day's partition as it was. Days are published one after
// the other, in order; on an error the days before it are published, the day of the error is
// left as doc.go describes, and the later days are untouched.
//
// Publish must not run concurrently with s.Add or s.Close. The stage is not consumed: a failed
// Publish can be retried with the same stage.
func (l *Lake) Publish(ctx context.Context, s *Stage, days []string, runID string) (PublishStats, error) {
	var stats PublishStats
	if s == nil {
		return stats, errors.New("publish: nil stage")
	}
	if err := checkRunID(runID); err != nil {
		return stats, fmt.Errorf("publish: %w", err)
	}
	want := make(map[string]bool, len(days))
	for _, d := range days {
		if err := checkDay(d); err != nil {
			return stats, fmt.Errorf("publish: %w", err)
		}
		want[d] = true
	}
	var outside []string
	for _, d := range s.sortedDays() {
		if !want[d] {
			outside = append(outside, d)
		}
	}
	if len(outside) > 0 {
		return stats, fmt.Errorf("publish: rows staged for %s: %w", strings.Join(outside, ", "), ErrDayOutOfRange)
	}
	if err := s.flush(); err != nil {
		return stats, fmt.Errorf("publish: %w", err)
	}
	sorted := make([]string, 0, len(want))
	for d := range want {
		sorted = append(sorted, d)
	}
	sort.Strings(sorted)
	for _, day := range sorted {
		files, err := l.publishDay(ctx, s, day, runID)
		if err != nil {
			return stats, fmt.Errorf("publish day %s: %w", day, err)
		}
		stats.Days++
		for _, f := range files {
			stats.Files++
			stats.Rows += f.rows
			stats.Bytes += f.bytes
		}
	}
	return stats, nil
}

// publishDay replaces one partition; the steps and their failure modes are in doc.go.
func (l *Lake) publishDay(ctx context.Context, s *Stage, day, runID string) ([]shardFile, error) {
	if err := l.cleanStaging(ctx, day); err != nil {
		return nil, err
	}

	// The old manifest: its version guards the manifest writes, its shard count is kept.
	oldData, oldVersion, err := l.store.Get(ctx, manifestPath(day))
	if err != nil && !errors.Is(err, storage.ErrNotExist) {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var old *Manifest
	if oldVersion != "" {
		old = new(Manifest)
		if err := json.Unmarshal(oldData, old); err != nil {
			l.opts.Logger.Warn("unreadable manifest, replacing it", "dt", day, "err", err)
			old = nil
		}
	}
	existing, err := l.store.List(ctx, partitionDir(day))
	if err != nil {
		return nil, fmt.Errorf("list partition: %w", err)
	}

	p, err := l.shardCount(s, day, old, existing)
	if err != nil {
		return nil, err
	}

	files, err := l.writeShards(ctx, s, day, runID, p)
	if err != nil {
		l.removeStaging(ctx, runID, day)
		return nil, err
	}

	// An incomplete manifest first: it claims the partition (a concurrent writer fails here,
	// before it touches a file) and tells readers of manifests that the files are in flux.
	m := newManifest(day, runID, p, files)
	m.Complete = false
	version, err := l.putManifest(ctx, day, m, oldVersion)
	if err != nil {
		l.removeStaging(ctx, runID, day)
		return nil, err
	}
	rollback := func(cause error) error {
		l.removeStaging(ctx, runID, day)
		var rerr error
		if oldVersion == "" {
			rerr = l.store.DeleteIf(ctx, manifestPath(day), version)
		} else {
			_, rerr = l.store.PutIf(ctx, manifestPath(day), oldData, version)
		}
		if rerr != nil {
			return errors.Join(cause, fmt.Errorf("restore previous manifest: %w", rerr))
		}
		return cause
	}

	newNames := make(map[string]bool, len(files))
	for _, f := range files {
		newNames[f.name] = true
	}
	dir := partitionDir(day)

	// Files of another layout (another shard count, foreign names) may hold keys that the new
	// shards hold too: they go before the new shards come in, so no glob sees a key twice.
	changed := false
	for _, o := range existing {
		base := strings.TrimPrefix(o.Name, dir)
		if _, q, ok := parseShardName(base); ok && q == p {
			continue
		}
		if err := l.store.Delete(ctx, o.Name); err != nil {
			err = fmt.Errorf("delete foreign file %s: %w", o.Name, err)
			if !changed {
				return nil, rollback(err)
			}
			l.removeStaging(ctx, runID, day)
			return nil, err
		}
		changed = true
		l.opts.Logger.Info("deleted foreign file", "dt", day, "file", o.Name)
	}

	// Each new shard replaces its old version in one atomic step.
	for i := range files {
		f := &files[i]
		if err := l.store.Move(ctx, stagingDir(runID, day)+f.name, dir+f.name); err != nil {
			err = fmt.Errorf("move %s into place: %w", f.name, err)
			if !changed {
				return nil, rollback(err)
			}
			l.removeStaging(ctx, runID, day)
			return nil, err
		}
		changed = true
		obj, err := l.store.Stat(ctx, dir+f.name)
		if err != nil {
			l.removeStaging(ctx, runID, day)
			return nil, fmt.Errorf("stat %s: %w", f.name, err)
		}
		m.Files[i].Version = obj.Version
		m.Files[i].Bytes = obj.Size
		f.bytes = obj.Size
	}

	// Old shards that are empty now.
	for _, o := range existing {
		base := strings.TrimPrefix(o.Name, dir)
		if _, q, ok := parseShardName(base); !ok || q != p || newNames[base] {
			continue
		}
		if err := l.store.Delete(ctx, o.Name); err != nil {
			return nil, fmt.Errorf("delete stale shard %s: %w", o.Name, err)
		}
	}

	m.Complete = true
	m.WrittenAt = time.Now().UTC()
	if _, err := l.putManifest(ctx, day, m, version); err != nil {
		return nil, err
	}
	l.removeStaging(ctx, runID, day)
	l.opts.Logger.Info("published partition", "dt", day, "files", len(files), "rows", m.Rows, "shards", p)
	return files, nil
}

// shardCount is the day's number of shards: kept from the partition's files when it has any
// (from its manifest, or else from the file names if they agree), else chosen from the size.
func (l *Lake) shardCount(s *Stage, day string, old *Manifest, existing []storage.Object) (int, error) {
	if old != nil && len(old.Files) > 0 && old.Shards >= 1 && old.Shards <= maxShards {
		return old.Shards, nil
	}
	p := 0
	for _, o := range existing {
		_, q, ok := parseShardName(strings.TrimPrefix(o.Name, partitionDir(day)))
		if !ok || (p != 0 && q != p) {
			p = 0
			break
		}
		p = q
	}
	if p != 0 {
		return p, nil
	}
	f, size, _, ok, err := s.open(day)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 1, nil
	}
	f.Close()
	est := size / spillToParquetRatio
	p = int((est + l.opts.TargetFileSize - 1) / l.opts.TargetFileSize)
	return min(max(p, 1), maxShards), nil
}

// writeShards writes the day's non-empty shards to the run's staging directory.
func (l *Lake) writeShards(ctx context.Context, s *Stage, day, runID string, p int) ([]shardFile, error) {
	f, _, _, ok, err := s.open(day)
	if err != nil || !ok {
		return nil, err
	}
	defer f.Close()
	if p == 1 {
		sf, err := l.writeShard(ctx, newSpillReader(f), day, runID, 0, 1)
		if err != nil || sf.rows == 0 {
			return nil, err
		}
		return []shardFile{sf}, nil
	}

	tmp, err := os.MkdirTemp(l.opts.TempDir, spillPrefix("shards"))
	if err != nil {
		return nil, fmt.Errorf("split into shards: %w", err)
	}
	defer os.RemoveAll(tmp)
	present, err := splitShards(ctx, f, tmp, p)
	if err != nil {
		return nil, err
	}
	var files []shardFile
	for i := range p {
		if !present[i] {
			continue
		}
		path := filepath.Join(tmp, fmt.Sprint(i))
		sf, err := l.writeShardFile(ctx, path, day, runID, i, p)
		if err != nil {
			return nil, err
		}
		os.Remove(path) // free the disk early; the directory goes at the end anyway
		files = append(files, sf)
	}
	return files, nil
}

func (l *Lake) writeShardFile(ctx context.Context, path, day, runID string, i, p int) (shardFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return shardFile{}, fmt.Errorf("shard %d: %w", i, err)
	}
	defer f.Close()
	return l.writeShard(ctx, newSpillReader(f), day, runID, i, p)
}

// splitShards copies the records of a day's spill into one local file per non-empty shard.
func splitShards(ctx context.Context, day io.Reader, dir string, p int) ([]bool, error) {
	files := make([]*os.File, p)
	writers := make([]*bufio.Writer, p)
	closeAll := func() error {
		var errs []error
		for i, f := range files {
			if f == nil {
				continue
			}
			if err := writers[i].Flush(); err != nil {
				errs = append(errs, err)
			}
			if err := f.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	r := newSpillReader(day)
	var m schema.Message
	var buf, scratch []byte
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			closeAll()
			return nil, ctx.Err()
		}
		err := r.next(&m)
		if err == io.EOF {
			break
		}
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("read stage: %w", err)
		}
		i := shardOf(m.MessageKey, p)
		if files[i] == nil {
			f, err := os.Create(filepath.Join(dir, fmt.Sprint(i)))
			if err != nil {
				closeAll()
				return nil, fmt.Errorf("split into shards: %w", err)
			}
			files[i], writers[i] = f, bufio.NewWriterSize(f, shardSplitBuffer)
		}
		buf, scratch = appendRecord(buf[:0], scratch, &m)
		if _, err := writers[i].Write(buf); err != nil {
			closeAll()
			return nil, fmt.Errorf("split into shards: %w", err)
		}
	}
	if err := closeAll(); err != nil {
		return nil, fmt.Errorf("split into shards: %w", err)
	}
	present := make([]bool, p)
	for i, f := range files {
		present[i] = f != nil
	}
	return present, nil
}

// shardOf is the shard of a message key: fnv-1a-64(key) mod p.
func shardOf(key string, p int) int {
	h := fnv.New64a()
	h.Write([]byte(key))
	return int(h.Sum64() % uint64(p))
}

// writeShard streams the rows of r into staging as shard i of p, one sorted row group at a
// time. A shard without rows writes nothing and returns rows 0.
func (l *Lake) writeShard(ctx context.Context, r *spillReader, day, runID string, i, p int) (sf shardFile, err error) {
	sf = shardFile{shard: i, name: shardName(i, p)}
	dst := stagingDir(runID, day) + sf.name
	keys := make(map[string]struct{})
	batch := make([]schema.Message, 0, min(l.opts.RowGroupRows, 4096))

	var w storage.Writer
	var pw *messageFileWriter
	defer func() {
		if err != nil && pw != nil {
			pw.abort()
		}
		if err != nil && w != nil {
			_ = w.Abort() // the staging object is not visible; a later run cleans what is left
		}
	}()

	for eof := false; !eof; {
		if err := ctx.Err(); err != nil {
			return sf, err
		}
		batch = batch[:0]
		for len(batch) < l.opts.RowGroupRows {
			batch = append(batch, schema.Message{})
			m := &batch[len(batch)-1]
			err := r.next(m)
			if err == io.EOF {
				batch = batch[:len(batch)-1]
				eof = true
				break
			}
			if err != nil {
				return sf, fmt.Errorf("read stage: %w", err)
			}
			if got := dayOf(m.SentAt); got != day {
				return sf, fmt.Errorf("message %s sent at %s staged under %s", m.MessageKey, m.SentAt, day)
			}
			if _, dup := keys[m.MessageKey]; dup {
				return sf, fmt.Errorf("message_key %q: %w", m.MessageKey, ErrDuplicateKey)
			}
			keys[m.MessageKey] = struct{}{}
			if sf.rows == 0 || m.SentAt.Before(sf.min) {
				sf.min = m.SentAt
			}
			if sf.rows == 0 || m.SentAt.After(sf.max) {
				sf.max = m.SentAt
			}
			sf.rows++
		}
		if len(batch) == 0 {
			break
		}
		if w == nil {
			if w, err = l.store.Create(ctx, dst); err != nil {
				w = nil
				return sf, fmt.Errorf("create %s: %w", dst, err)
			}
			if pw, err = newMessageFileWriter(w, l.opts.Allocator, l.opts.RowGroupRows, runID); err != nil {
				pw = nil
				return sf, err
			}
		}
		if err := pw.writeRowGroup(batch); err != nil {
			return sf, fmt.Errorf("%s: %w", dst, err)
		}
	}
	if w == nil {
		return sf, nil
	}
	if err := pw.close(); err != nil {
		return sf, fmt.Errorf("%s: %w", dst, err)
	}
	sf.bytes = pw.cw.n
	pw = nil
	if err := w.Close(); err != nil {
		w = nil // a failed Close leaves nothing to abort
		return sf, fmt.Errorf("close %s: %w", dst, err)
	}
	w = nil
	return sf, nil
}

// newManifest describes the partition of day made of files.
func newManifest(day, runID string, p int, files []shardFile) *Manifest {
	m := &Manifest{
		Table:         messagesTable,
		Dt:            day,
		SchemaVersion: schema.MessagesVersion,
		RunID:         runID,
		WrittenAt:     time.Now().UTC(),
		Shards:        p,
		Files:         make([]ManifestFile, 0, len(files)),
	}
	for _, f := range files {
		m.Rows += f.rows
		if m.MinSentAt == nil || f.min.Before(*m.MinSentAt) {
			t := f.min
			m.MinSentAt = &t
		}
		if m.MaxSentAt == nil || f.max.After(*m.MaxSentAt) {
			t := f.max
			m.MaxSentAt = &t
		}
		m.Files = append(m.Files, ManifestFile{
			Name: f.name, Rows: f.rows, Bytes: f.bytes, MinSentAt: f.min, MaxSentAt: f.max,
		})
	}
	return m
}

// putManifest writes m if the manifest's version is still ifVersion.
func (l *Lake) putManifest(ctx context.Context, day string, m *Manifest, ifVersion string) (string, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode manifest: %w", err)
	}
	v, err := l.store.PutIf(ctx, manifestPath(day), append(data, '\n'), ifVersion)
	if errors.Is(err, storage.ErrPrecondition) {
		return "", fmt.Errorf("write manifest: %w (%w)", ErrConcurrentWrite, err)
	}
	if err != nil {
		return "", fmt.Errorf("write manifest: %w", err)
	}
	return v, nil
}

// cleanStaging removes what earlier runs left in staging for day (a run that failed after its
// uploads and before its moves).
func (l *Lake) cleanStaging(ctx context.Context, day string) error {
	return l.cleanStagingOf(ctx, partitionDir(day))
}

// cleanStagingOf removes every run's staging objects under dir (a partition directory).
func (l *Lake) cleanStagingOf(ctx context.Context, dir string) error {
	objs, err := l.store.List(ctx, stagingPrefix)
	if err != nil {
		return fmt.Errorf("list staging: %w", err)
	}
	suffix := "/" + dir
	for _, o := range objs {
		rest := strings.TrimPrefix(o.Name, stagingPrefix)
		slash := strings.IndexByte(rest, '/')
		if slash < 0 || !strings.HasPrefix(rest[slash:], suffix) {
			continue
		}
		if err := l.store.Delete(ctx, o.Name); err != nil {
			return fmt.Errorf("clean staging: %w", err)
		}
		l.opts.Logger.Info("removed leftover staging file", "file", o.Name)
	}
	return nil
}

// removeStaging removes this run's staging files of day, best effort: what it misses, the next
// Publish of the day removes.
func (l *Lake) removeStaging(ctx context.Context, runID, day string) {
	objs, err := l.store.List(ctx, stagingDir(runID, day))
	if err != nil {
		l.opts.Logger.Warn("list staging", "dt", day, "err", err)
		return
	}
	for _, o := range objs {
		if err := l.store.Delete(ctx, o.Name); err != nil {
			l.opts.Logger.Warn("remove staging file", "file", o.Name, "err", err)
		}
	}
}

// sortedKeys is used by tests and Verify's report.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
