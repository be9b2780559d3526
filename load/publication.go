package load

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chatlake/chatlake/load/icetable"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// Publication is one publishing of the messages table: a plan's, or an erasure's. Each day
// goes through Merge with the Publication in MergeInput; Commit ends it.
//
// On a Hive lake every Merge commits its day under the manifest protocol (doc.go), and Commit
// does nothing. On an Iceberg lake a Merge writes the day's changed shards as new data files
// and records what they replace; Commit makes all of it the table's next snapshot in one
// commit, so a reader sees the whole publishing or none of it. A Publication is safe for
// concurrent Merges of different days.
type Publication struct {
	l        *Lake
	instance string // plan@attempt; "" for an erasure
	runID    string

	table  *icetable.Table        // nil on a Hive lake
	landed bool                   // the plan instance's commit is in the table's history
	byDay  map[string][]TableFile // the current snapshot's files, by day

	mu          sync.Mutex
	remove, add []TableFile
	committed   bool
}

// BeginPublication starts publishing plan's instance attempt by run runID ("" and "" for an
// erasure). On an Iceberg lake it reads the messages table's current files; if the table's
// history holds this plan instance's commit already (a publisher stopped after its commit),
// Landed reports it and nothing is to be merged again.
func (l *Lake) BeginPublication(ctx context.Context, plan, attempt, runID string) (*Publication, error) {
	if err := checkRunID(runID); err != nil {
		return nil, fmt.Errorf("publication: %w", err)
	}
	p := &Publication{l: l, runID: runID}
	if plan != "" {
		if err := errors.Join(checkID("plan", plan), checkID("attempt", attempt)); err != nil {
			return nil, fmt.Errorf("publication: %w", err)
		}
		p.instance = plan + "@" + attempt
	}
	if !l.iceberg() {
		return p, nil
	}
	t, err := l.table(ctx, schema.MessagesTable)
	if err != nil {
		return nil, err
	}
	p.table = t
	if p.instance != "" {
		if p.landed, err = t.Committed(ctx, SnapshotPlan, p.instance); err != nil {
			return nil, fmt.Errorf("iceberg table messages: %w", err)
		}
		if p.landed {
			return p, nil
		}
	}
	files, err := t.Files(ctx)
	if err != nil {
		return nil, fmt.Errorf("iceberg table messages: %w", err)
	}
	p.byDay = map[string][]TableFile{}
	for _, f := range files {
		p.byDay[f.Day] = append(p.byDay[f.Day], f)
	}
	return p, nil
}

// Landed reports whether this plan instance's commit is in the table's history already: its
// rows are published, and the caller goes on to record the plan as published.
func (p *Publication) Landed() bool { return p.landed }

// Days are the days that have data files in the current snapshot of an Iceberg lake, sorted;
// nil on a Hive lake (Lake.Days lists those).
func (p *Publication) Days() []string {
	return slices.Sorted(maps.Keys(p.byDay))
}

// partition is day's partition as the current snapshot lists it: its files as objects.
func (p *Publication) partition(day string) (*partitionState, error) {
	ps := &partitionState{}
	for _, f := range p.byDay[day] {
		name, err := p.l.objectName(f.Path)
		if err != nil {
			return nil, err
		}
		ps.files = append(ps.files, storage.Object{Name: name, Size: f.Bytes})
	}
	return ps, nil
}

// record takes a merged day of an Iceberg lake: its new shards join the commit, and the files
// they replace (the same shard's old file, an emptied shard's, any file of another shard
// count) leave it.
func (p *Publication) record(day string, ps *partitionState, n int, shards []mergedShard) PublishStats {
	var st PublishStats
	var remove, add []TableFile
	old := map[int]TableFile{} // the old file of each shard of this layout
	for _, o := range ps.files {
		f := TableFile{Path: p.l.objectURI(o.Name), Day: day, Bytes: o.Size}
		if i, q, ok := parseIcebergShardName(strings.TrimPrefix(o.Name, icebergPartitionDir(day))); ok && q == n {
			old[i] = f
		} else {
			remove = append(remove, f) // another layout: its rows are in the new shards
		}
	}
	for i, s := range shards {
		st.Replaced += s.replaced
		st.Staged += s.staged
		st.Added += s.added
		switch {
		case s.written:
			add = append(add, TableFile{Path: p.l.objectURI(icebergPartitionDir(day) + s.file.name), Day: day,
				Rows: s.file.rows, Bytes: s.file.bytes})
			st.Files++
			st.Bytes += s.file.bytes
			st.Rows += s.file.rows
		case s.kept:
			st.Rows += s.file.rows
			continue
		}
		if f, ok := old[i]; ok {
			remove = append(remove, f)
		}
	}
	st.Days = 1
	p.mu.Lock()
	p.remove = append(p.remove, remove...)
	p.add = append(p.add, add...)
	p.mu.Unlock()
	p.l.opts.Logger.Info("merged partition", "dt", day, "files", st.Files, "shards", n,
		"staged_rows", st.Staged, "replaced_rows", st.Replaced)
	return st
}

// Commit ends the publication. On an Iceberg lake it commits what the merges recorded as one
// snapshot whose summary names the plan instance (SnapshotPlan; SnapshotForget for an
// erasure), then expires the snapshots older than Options.SnapshotRetention; a publication
// that changed nothing commits nothing. On a Hive lake it does nothing.
func (p *Publication) Commit(ctx context.Context) error {
	if p.table == nil || p.landed {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.committed {
		return errors.New("publication committed already")
	}
	if len(p.remove) == 0 && len(p.add) == 0 {
		return nil
	}
	props := map[string]string{SnapshotRunID: p.runID}
	if p.instance != "" {
		props[SnapshotPlan] = p.instance
		// Under the lake's lock no other process publishes this plan; one that lost the lock
		// and committed it meanwhile must not have its rows added twice.
		landed, err := p.table.Committed(ctx, SnapshotPlan, p.instance)
		if err != nil {
			return fmt.Errorf("iceberg table messages: %w", err)
		}
		if landed {
			return fmt.Errorf("iceberg commit of messages: plan %s was committed by another process meanwhile: %w", p.instance, ErrConcurrentWrite)
		}
	} else {
		props[SnapshotForget] = p.runID
	}
	if err := p.table.Commit(ctx, p.remove, p.add, props); err != nil {
		return fmt.Errorf("iceberg commit of messages: %w", err)
	}
	p.committed = true
	var rows int64
	for _, f := range p.add {
		rows += f.Rows
	}
	p.l.opts.Logger.Info("committed snapshot", "table", schema.MessagesTable, "added_files", len(p.add),
		"removed_files", len(p.remove), "added_rows", rows)
	p.l.expire(ctx, p.table, schema.MessagesTable, p.l.opts.SnapshotRetention, orphanMinAge)
	return nil
}

// orphanMinAge is how old a data file that no snapshot references must be before a commit
// deletes it: a run stopped before its commit left it. Only a run that holds the lake's lock
// writes data files, but one that lost the lock while stalled may still be about to commit the
// files it wrote; after a day it has long failed (its lease is minutes). An erasure deletes
// every such file at once (expireAll).
const orphanMinAge = 24 * time.Hour

// expire expires t's snapshots older than olderThan and deletes the data files under the table
// that no snapshot references and are older than orphanMinAge; a failure is logged, not
// returned: the commit stands, and the next one tries again.
func (l *Lake) expire(ctx context.Context, t *icetable.Table, name string, olderThan, orphanAge time.Duration) {
	deleted, err := t.Expire(ctx, olderThan)
	if err != nil {
		l.opts.Logger.Warn("expiring old snapshots failed; the next commit tries again", "table", name, "error", err.Error())
		return
	}
	orphans, err := l.removeOrphans(ctx, t, name, orphanAge)
	if err != nil {
		l.opts.Logger.Warn("removing unreferenced data files failed; the next commit tries again", "table", name, "error", err.Error())
	}
	if len(deleted) > 0 || orphans > 0 {
		l.opts.Logger.Info("expired old snapshots", "table", name, "deleted_files", len(deleted), "deleted_unreferenced_files", orphans)
	}
}

// expireAll keeps t's current snapshot alone and deletes every data file under the table that
// it does not reference, whatever its age: after an erasure no file may hold an erased row.
func (l *Lake) expireAll(ctx context.Context, t *icetable.Table, name string) error {
	if _, err := t.Expire(ctx, 0); err != nil {
		return fmt.Errorf("expire the snapshots of %s that hold erased rows: %w", name, err)
	}
	if _, err := l.removeOrphans(ctx, t, name, 0); err != nil {
		return fmt.Errorf("remove the unreferenced data files of %s: %w", name, err)
	}
	return nil
}

// removeOrphans deletes the data files under table name's data directory that no snapshot of t
// references and that were last written at least minAge ago, and returns how many.
func (l *Lake) removeOrphans(ctx context.Context, t *icetable.Table, name string, minAge time.Duration) (int, error) {
	all, err := t.AllFiles(ctx)
	if err != nil {
		return 0, err
	}
	referenced := map[string]bool{}
	for _, files := range all {
		for _, f := range files {
			referenced[f.Path] = true
		}
	}
	n := 0
	now := time.Now()
	err = storage.Walk(ctx, l.store, TableDir(name)+"/"+icebergDataDir, func(objs []storage.Object) error {
		for _, o := range objs {
			if !isDataFile(o.Name) || referenced[l.objectURI(o.Name)] || now.Sub(o.Updated) < minAge {
				continue
			}
			if err := l.store.Delete(ctx, o.Name); err != nil && !errors.Is(err, storage.ErrNotExist) {
				return fmt.Errorf("delete %s: %w", o.Name, err)
			}
			n++
		}
		return nil
	})
	return n, err
}
