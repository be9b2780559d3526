package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// PublishStats counts what Merge wrote.
type PublishStats struct {
	Days     int   // partitions written
	Skipped  int   // partitions this plan had published already
	Files    int   // Parquet files written
	Rows     int64 // rows in the partitions written
	Replaced int64 // rows of replaced users that were removed (an old copy, or an erased user)
	Staged   int64 // staged rows published
	// Added are the staged rows whose message_key the partition did not have (of the users
	// MergeInput.CountNew accepts): new to the lake. Keys are compared by a 64-bit hash.
	Added int64
	Bytes int64 // Parquet bytes written
}

func (s *PublishStats) add(o PublishStats) {
	s.Days += o.Days
	s.Skipped += o.Skipped
	s.Files += o.Files
	s.Rows += o.Rows
	s.Replaced += o.Replaced
	s.Staged += o.Staged
	s.Added += o.Added
	s.Bytes += o.Bytes
}

// MergeInput says what Merge does to one day's partition.
type MergeInput struct {
	// Plan is the run plan whose staged rows of the day come in ("" for none: an erasure).
	Plan string
	// Replace tells the users (by channel_user_id) whose rows in the partition are replaced by
	// the staged ones: their old rows go, whether or not the plan staged rows of theirs. Every
	// other user's rows stay as they are. Staged rows of a user that Replace refuses are an
	// error. Replace is called from one goroutine.
	Replace func(channelUserID string) bool
	// Attempt names the instance of the plan whose staged rows come in (the planner's run id
	// that the plan records): a plan id can come back after its run finished and was removed.
	// The manifest records the instance as Plan@Attempt, and a day whose complete manifest
	// names it was published by this instance already and is skipped. Required with Plan.
	Attempt string
	// RunID is the run that writes, recorded in the files and the manifest.
	RunID string
	// CountNew tells the users whose staged rows count in PublishStats.Added when their key is
	// new to the partition; nil counts every user's.
	CountNew func(channelUserID string) bool
	// Staged are the indexes of the plan's staged batches that may hold rows of the day (from
	// their done records: BatchDone.Staged); Merge reads the day's part of each.
	Staged []*StagedBatch
	// Fetched, if not nil, holds the day's staged segments read ahead (FetchStaged, for a
	// window of days): Merge reads those from it rather than from the store.
	Fetched *StagedFetch
	// LegacyBatches are the plan's batches whose rows a binary before staged per day (their
	// done records have no index): Merge lists and reads the day's files of those.
	LegacyBatches []int
	// Publication is the publishing this merge is part of (BeginPublication): required on an
	// Iceberg lake, whose merges its Commit commits together; optional on a Hive lake, where
	// each Merge commits its day.
	Publication *Publication
	// Writing, if not nil, bounds the step of merges that holds rows in memory (writing the
	// day's shards: about 100 MiB at most, doc.go): Merge holds one unit of it for that step
	// alone. Its other steps are object reads and writes (listing, manifests, the staged rows'
	// ranged reads, moves), so a caller that merges many days at once under one Writing of N
	// overlaps their I/O while it holds at most N days' rows.
	Writing *semaphore.Weighted
}

// instance is the plan instance a manifest records: Plan@Attempt, "" for an erasure.
func (in MergeInput) instance() string {
	if in.Plan == "" {
		return ""
	}
	return in.Plan + "@" + in.Attempt
}

// Merge publishes one day: the partition keeps the rows of the users Replace refuses, and gets
// the plan's staged rows of the day in place of the rows of the users it accepts. A message
// keeps its file (its shard) across merges. The steps and what a failure or a reader sees at
// each are in doc.go. A day that the plan already published (a complete manifest naming it) is
// not written again: its stats say Skipped 1.
func (l *Lake) Merge(ctx context.Context, day string, in MergeInput) (PublishStats, error) {
	var st PublishStats
	if err := checkDay(day); err != nil {
		return st, fmt.Errorf("merge: %w", err)
	}
	if err := checkRunID(in.RunID); err != nil {
		return st, fmt.Errorf("merge %s: %w", day, err)
	}
	if in.Plan != "" {
		if err := errors.Join(checkID("plan", in.Plan), checkID("attempt", in.Attempt)); err != nil {
			return st, fmt.Errorf("merge %s: %w", day, err)
		}
	}
	if in.Replace == nil {
		return st, fmt.Errorf("merge %s: no Replace function", day)
	}
	if l.iceberg() && (in.Publication == nil || in.Publication.landed || in.Publication.instance != in.instance()) {
		return st, fmt.Errorf("merge %s: an Iceberg lake merges into an open Publication of the plan instance", day)
	}
	st, err := l.merge(ctx, day, in)
	if err != nil {
		return st, fmt.Errorf("merge day %s: %w", day, err)
	}
	return st, nil
}

// partitionState is a day's partition as Merge found it.
type partitionState struct {
	old        *Manifest
	oldData    []byte
	oldVersion string
	files      []storage.Object
}

func (l *Lake) readPartition(ctx context.Context, day string) (*partitionState, error) {
	ps := &partitionState{}
	data, version, err := l.store.Get(ctx, manifestPath(day))
	if err != nil && !errors.Is(err, storage.ErrNotExist) {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if version != "" {
		ps.oldData, ps.oldVersion = data, version
		if ps.old, err = decodeManifest(data); err != nil {
			l.opts.Logger.Warn("unreadable manifest, replacing it", "dt", day, "err", err)
		}
	}
	objs, err := l.store.List(ctx, partitionDir(day))
	if err != nil {
		return nil, fmt.Errorf("list partition: %w", err)
	}
	for _, o := range objs {
		if strings.HasSuffix(o.Name, ".parquet") {
			ps.files = append(ps.files, o)
		} // anything else in the partition is no Parquet file a glob reads: left alone
	}
	return ps, nil
}

func (l *Lake) merge(ctx context.Context, day string, in MergeInput) (PublishStats, error) {
	var st PublishStats
	var ps *partitionState
	var err error
	if l.iceberg() {
		// The partition is what the current snapshot lists; new shards go straight to their
		// own new names (no staging: no snapshot references them until the commit).
		if ps, err = in.Publication.partition(day); err != nil {
			return st, err
		}
	} else {
		if err := l.cleanStaging(ctx, in.RunID, day); err != nil {
			return st, err
		}
		if ps, err = l.readPartition(ctx, day); err != nil {
			return st, err
		}
		if in.Plan != "" && ps.old != nil && ps.old.Complete && ps.old.Plan == in.instance() {
			st.Skipped = 1
			return st, nil
		}
	}

	tmp, err := os.MkdirTemp(l.opts.TempDir, spillPrefix("merge"))
	if err != nil {
		return st, fmt.Errorf("merge: %w", err)
	}
	defer os.RemoveAll(tmp)

	// The staged rows of the day, downloaded once (read in place from a local store): every
	// shard reads them.
	staged, stagedBytes, err := l.stagedSources(ctx, day, in, tmp)
	if err != nil {
		return st, err
	}

	p := l.shardCount(day, ps, stagedBytes)
	if in.Writing != nil {
		if err := in.Writing.Acquire(ctx, 1); err != nil {
			return st, err
		}
	}
	shards, err := l.writeMergedShards(ctx, day, in, ps, staged, p, tmp)
	if in.Writing != nil {
		in.Writing.Release(1)
	}
	if err != nil {
		if !l.iceberg() {
			l.removeStaging(ctx, in.RunID, day)
		}
		return st, err
	}
	if l.iceberg() {
		return in.Publication.record(day, ps, p, shards), nil
	}
	return l.commit(ctx, day, in, ps, p, shards)
}

// partitionShard returns the shard and shard count of name, a file of day's partition in the
// lake's layout; ok false for a file of another layout.
func (l *Lake) partitionShard(day, name string) (i, p int, ok bool) {
	if l.iceberg() {
		return parseIcebergShardName(strings.TrimPrefix(name, icebergPartitionDir(day)))
	}
	return parseShardName(strings.TrimPrefix(name, partitionDir(day)))
}

// newShardObject is the base name of shard i of p of day, and the object a merge by run runID
// writes it into: the run's staging on a Hive lake (moved into place by commit), its own new
// data file on an Iceberg lake.
func (l *Lake) newShardObject(day, runID string, i, p int) (name, dst string) {
	if l.iceberg() {
		name = icebergShardName(i, p, runID)
		return name, icebergPartitionDir(day) + name
	}
	name = shardName(i, p)
	return name, stagingDir(runID, day) + name
}

// stagedSource is one source of a day's staged rows: a segment of a staged batch, or a file of
// the layout before.
type stagedSource struct {
	name string // for errors
	open func() (*fileSource, error)
}

// stagedReadConcurrency bounds the concurrent ranged reads of one day's staged segments: on a
// cloud store each is a round trip, which this many hide behind each other.
const stagedReadConcurrency = 16

// stagedSources returns the sources of day's staged rows of in.Plan and about their size as the
// lake's Parquet. From a store whose objects are local files they are read in place; from
// another, each segment is downloaded into tmp first (stagedReadConcurrency at once), since
// every shard of the day reads it.
func (l *Lake) stagedSources(ctx context.Context, day string, in MergeInput, tmp string) ([]stagedSource, int64, error) {
	if in.Plan == "" {
		return nil, 0, nil
	}
	segs := segmentsOf(in.Staged, day)
	out := make([]stagedSource, len(segs))
	var est int64
	_, local := l.store.(localFiles)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(stagedReadConcurrency)
	for i, seg := range segs {
		est += stagedParquetBytes(seg.part.Format, seg.day.Length)
		name := seg.part.Name + " (" + day + ")"
		if local {
			out[i] = stagedSource{name: name, open: func() (*fileSource, error) {
				r, err := l.segmentStream(ctx, seg)
				if err != nil {
					return nil, err
				}
				return openStreamSource(r, name, seg.day.Rows, l.partColumns(seg.part))
			}}
			continue
		}
		if in.Fetched.holds(seg) {
			out[i] = stagedSource{name: name, open: func() (*fileSource, error) {
				h, err := l.stagedHeader(ctx, seg.part)
				if err != nil {
					return nil, err
				}
				r, err := in.Fetched.segment(h, seg)
				if err != nil {
					return nil, fmt.Errorf("read %s: %w", name, err)
				}
				return openStreamSource(r, name, seg.day.Rows, l.partColumns(seg.part))
			}}
			continue
		}
		path := filepath.Join(tmp, fmt.Sprintf("staged-%d.arrows", i))
		g.Go(func() error { return l.downloadSegment(gctx, seg, path) })
		out[i] = stagedSource{name: name, open: func() (*fileSource, error) {
			return l.openDownloaded(ctx, seg, path, name)
		}}
	}
	if err := g.Wait(); err != nil {
		return nil, 0, err
	}
	if len(in.LegacyBatches) == 0 {
		return out, est, nil
	}
	objs, err := l.legacyStagedFiles(ctx, in.Plan, in.Attempt, day, in.LegacyBatches)
	if err != nil {
		return nil, 0, err
	}
	for i, o := range objs {
		local, err := l.readable(ctx, o.Name, filepath.Join(tmp, fmt.Sprintf("legacy-%d%s", i, path.Ext(o.Name))))
		if err != nil {
			return nil, 0, err
		}
		out = append(out, stagedSource{name: o.Name, open: func() (*fileSource, error) {
			return l.openSource(ctx, local, o.Name)
		}})
		est += parquetEstimate(o)
	}
	return out, est, nil
}

// mergedShard is the outcome of one shard of a merge: a new file in staging, the old file
// kept as it was, or nothing (the shard is empty).
type mergedShard struct {
	file     shardFile
	written  bool // file is new, in staging
	kept     bool // the partition's file of this name stays as it is
	replaced int64
	staged   int64
	added    int64
}

// writeMergedShards writes every shard that changes into the run's staging directory. The
// staged rows are read once: a one-shard day reads them as it writes its shard; a day of more
// shards first splits them into one local spill file per shard (splitStaged).
func (l *Lake) writeMergedShards(ctx context.Context, day string, in MergeInput, ps *partitionState,
	staged []stagedSource, p int, tmp string) ([]mergedShard, error) {
	sameLayout := map[int]storage.Object{} // old files of the layout kept, by shard
	var foreign []storage.Object           // old files of another layout: read for every shard
	for _, o := range ps.files {
		if i, q, ok := l.partitionShard(day, o.Name); ok && q == p {
			sameLayout[i] = o
		} else {
			foreign = append(foreign, o)
		}
	}
	local := map[string]string{} // old object -> local copy, downloaded when first needed
	fetch := func(o storage.Object) (string, error) {
		if path, ok := local[o.Name]; ok {
			return path, nil
		}
		path, err := l.readable(ctx, o.Name, filepath.Join(tmp, fmt.Sprintf("old-%d.parquet", len(local))))
		if err != nil {
			return "", err
		}
		local[o.Name] = path
		return path, nil
	}

	lay := newMsgLayout()
	stagedOf := func(int) []stagedSource { return staged }
	if p > 1 && len(staged) > 0 {
		split, err := l.splitStaged(ctx, lay, day, staged, p, tmp)
		if err != nil {
			return nil, err
		}
		stagedOf = func(i int) []stagedSource { return split[i] }
	}

	out := make([]mergedShard, p)
	for i := range p {
		oldOf := foreign
		if o, ok := sameLayout[i]; ok {
			oldOf = append(slices.Clone(foreign), o)
		}
		ms, err := l.writeMergedShard(ctx, lay, day, in, i, p, oldOf, fetch, stagedOf(i))
		if err != nil {
			return nil, err
		}
		// Unchanged: the same-layout file alone, nothing removed from it, nothing added.
		if o, ok := sameLayout[i]; ok && len(foreign) == 0 && ms.replaced == 0 && ms.staged == 0 {
			if ms.file.rows > 0 {
				_, dst := l.newShardObject(day, in.RunID, i, p)
				_ = l.store.Delete(ctx, dst) // the copy is not needed
			}
			ms = mergedShard{file: ms.file, kept: true}
			ms.file.bytes = o.Size
		}
		out[i] = ms
	}
	return out, nil
}

// writeMergedShard writes shard i of p into staging: the rows of the old files that are of the
// shard and of a user Replace refuses, then the staged rows (all of the shard). A staged row
// of a user Replace refuses fails it, after the file is written.
func (l *Lake) writeMergedShard(ctx context.Context, lay *msgLayout, day string, in MergeInput, i, p int,
	old []storage.Object, fetch func(storage.Object) (string, error), staged []stagedSource) (ms mergedShard, err error) {
	name, dst := l.newShardObject(day, in.RunID, i, p)
	w, err := l.newShardWriter(ctx, lay, day, dst, in.RunID)
	if err != nil {
		return ms, err
	}
	defer func() {
		if err != nil {
			w.abort()
		}
	}()
	// The keys of the rows the merge replaces: a staged row whose key is not among them is
	// new to the partition. The old files come first, so the set is complete when the staged
	// rows are read.
	replacedKeys := map[uint64]struct{}{}
	for _, o := range old {
		path, err := fetch(o)
		if err != nil {
			return ms, err
		}
		s, err := l.openSource(ctx, path, o.Name)
		if err != nil {
			return ms, err
		}
		err = readBatches(s, lay, func(b *msgBatch) error {
			n := int(b.rec.NumRows())
			rows := make([]int32, 0, n)
			for r := range n {
				h := keyHash(b.key.Value(r))
				if p > 1 && int(h%uint64(p)) != i {
					continue
				}
				if in.Replace(b.user.Value(r)) {
					replacedKeys[h] = struct{}{}
					ms.replaced++
					continue
				}
				rows = append(rows, int32(r))
			}
			return w.add(b, rows)
		})
		if err != nil {
			return ms, err
		}
	}
	var outsider string
	for _, c := range staged {
		s, err := c.open()
		if err != nil {
			return ms, err
		}
		err = readBatches(s, lay, func(b *msgBatch) error {
			n := int(b.rec.NumRows())
			for r := range n {
				user := b.user.Value(r)
				if !in.Replace(user) && outsider == "" {
					outsider = strings.Clone(user)
				}
				if _, had := replacedKeys[keyHash(b.key.Value(r))]; !had && (in.CountNew == nil || in.CountNew(user)) {
					ms.added++
				}
			}
			ms.staged += int64(n)
			return w.add(b, w.all(n))
		})
		if err != nil {
			return ms, err
		}
	}
	sf, err := w.close()
	if err == nil && outsider != "" {
		err = fmt.Errorf("staged rows of user %q, whom the merge does not replace", outsider)
	}
	if err != nil {
		return ms, err
	}
	sf.shard, sf.name = i, name
	ms.file, ms.written = sf, sf.rows > 0
	return ms, nil
}

// commit moves the merged shards into place under the manifest protocol of doc.go.
func (l *Lake) commit(ctx context.Context, day string, in MergeInput, ps *partitionState, p int, shards []mergedShard) (PublishStats, error) {
	var st PublishStats
	dir := partitionDir(day)
	var files []shardFile
	for _, s := range shards {
		if s.written || s.kept {
			files = append(files, s.file)
		}
		st.Replaced += s.replaced
		st.Staged += s.staged
		st.Added += s.added
	}

	// An incomplete manifest first: it claims the partition (a concurrent writer fails here,
	// before it touches a file) and tells readers of manifests that the files are in flux.
	m := newManifest(day, in.RunID, p, files)
	m.Plan, m.Complete = in.instance(), false
	version, err := l.putManifest(ctx, day, m, ps.oldVersion)
	if err != nil {
		l.removeStaging(ctx, in.RunID, day)
		return st, err
	}
	rollback := func(cause error) error {
		l.removeStaging(ctx, in.RunID, day)
		var rerr error
		if ps.oldVersion == "" {
			rerr = l.store.DeleteIf(ctx, manifestPath(day), version)
		} else {
			_, rerr = l.store.PutIf(ctx, manifestPath(day), ps.oldData, version)
		}
		if rerr != nil {
			return errors.Join(cause, fmt.Errorf("restore previous manifest: %w", rerr))
		}
		return cause
	}
	fail := func(changed bool, err error) (PublishStats, error) {
		if !changed {
			return st, rollback(err)
		}
		l.removeStaging(ctx, in.RunID, day)
		return st, err
	}

	// Files of another layout: their kept rows are in the new shards, so they go before the
	// new shards come in, and no glob sees a key twice.
	changed := false
	for _, o := range ps.files {
		if _, q, ok := parseShardName(strings.TrimPrefix(o.Name, dir)); ok && q == p {
			continue
		}
		if err := l.store.Delete(ctx, o.Name); err != nil {
			return fail(changed, fmt.Errorf("delete foreign file %s: %w", o.Name, err))
		}
		changed = true
		l.opts.Logger.Info("deleted foreign file", "dt", day, "file", o.Name)
	}

	// Each changed shard replaces its old version in one atomic step; an emptied one goes.
	byName := map[string]int{}
	for i := range m.Files {
		byName[m.Files[i].Name] = i
	}
	present := map[string]storage.Object{}
	for _, o := range ps.files {
		present[strings.TrimPrefix(o.Name, dir)] = o
	}
	for _, s := range shards {
		name := s.file.name
		switch {
		case s.written:
			obj, err := l.store.Move(ctx, stagingDir(in.RunID, day)+name, dir+name)
			if err != nil {
				return fail(changed, fmt.Errorf("move %s into place: %w", name, err))
			}
			changed = true
			m.Files[byName[name]].Version, m.Files[byName[name]].Bytes = obj.Version, obj.Size
			st.Files++
			st.Bytes += obj.Size
		case s.kept:
			m.Files[byName[name]].Version = present[name].Version
		default:
			if _, ok := present[name]; !ok {
				continue
			}
			if err := l.store.Delete(ctx, dir+name); err != nil {
				return fail(changed, fmt.Errorf("delete emptied shard %s: %w", name, err))
			}
			changed = true
		}
	}

	m.Complete = true
	m.WrittenAt = time.Now().UTC()
	if _, err := l.putManifest(ctx, day, m, version); err != nil {
		return st, err
	}
	// Every file this run staged for the day was moved into place: nothing is left to remove
	// (and no listing to make sure: a request per day on a cloud store).
	st.Days, st.Rows = 1, m.Rows
	l.opts.Logger.Info("published partition", "dt", day, "files", len(files), "rows", m.Rows, "shards", p,
		"staged_rows", st.Staged, "replaced_rows", st.Replaced)
	return st, nil
}

// shardCount is the day's number of shards: kept from the partition's files when it has any
// (from its manifest, or else from the file names if they agree), else chosen from the size of
// the staged rows as Parquet, stagedBytes (parquetEstimate).
func (l *Lake) shardCount(day string, ps *partitionState, stagedBytes int64) int {
	if ps.old != nil && len(ps.old.Files) > 0 && ps.old.Shards >= 1 && ps.old.Shards <= maxShards {
		return ps.old.Shards
	}
	p := 0
	for _, o := range ps.files {
		_, q, ok := l.partitionShard(day, o.Name)
		if !ok || (p != 0 && q != p) {
			p = 0
			break
		}
		p = q
	}
	if p != 0 {
		return p
	}
	p = int((stagedBytes + l.opts.TargetFileSize - 1) / l.opts.TargetFileSize)
	return min(max(p, 1), maxShards)
}

// newManifest describes the partition of day made of files.
func newManifest(day, runID string, p int, files []shardFile) *Manifest {
	m := &Manifest{
		Table:         schema.MessagesTable,
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

// cleanStaging removes what other runs left in staging for day (a run that failed after its
// uploads and before its moves). The staging area is listed once per run id and Lake: while a
// run holds the lock, no other run adds to it, and the run's own files are its own to remove
// (removeStaging).
func (l *Lake) cleanStaging(ctx context.Context, runID, day string) error {
	v, _ := l.staleStaging.LoadOrStore(runID, &staleStaging{})
	stale := v.(*staleStaging)
	stale.once.Do(func() { stale.byDir, stale.err = l.listStaleStaging(ctx, runID) })
	if stale.err != nil {
		l.staleStaging.CompareAndDelete(runID, stale) // the next day lists again
		return stale.err
	}
	stale.mu.Lock()
	names := stale.byDir[partitionDir(day)]
	delete(stale.byDir, partitionDir(day))
	stale.mu.Unlock()
	for _, name := range names {
		if err := l.store.Delete(ctx, name); err != nil && !errors.Is(err, storage.ErrNotExist) {
			return fmt.Errorf("clean staging: %w", err)
		}
		l.opts.Logger.Info("removed leftover staging file", "file", name)
	}
	return nil
}

// staleStaging is what other runs left in staging, by partition directory, as one run listed it.
type staleStaging struct {
	once  sync.Once
	err   error
	mu    sync.Mutex
	byDir map[string][]string
}

// listStaleStaging lists the staging objects of every run but runID, by partition directory.
func (l *Lake) listStaleStaging(ctx context.Context, runID string) (map[string][]string, error) {
	byDir := map[string][]string{}
	err := storage.Walk(ctx, l.store, stagingPrefix, func(objs []storage.Object) error {
		for _, o := range objs {
			run, rest, ok := strings.Cut(strings.TrimPrefix(o.Name, stagingPrefix), "/")
			if !ok || run == runID {
				continue
			}
			dir, _ := path.Split(rest)
			byDir[dir] = append(byDir[dir], o.Name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list staging: %w", err)
	}
	return byDir, nil
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
