package icetable

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"slices"
	"time"

	"github.com/apache/iceberg-go/table"
)

// Expire removes the snapshots older than olderThan, always keeping the current one, deletes
// what no remaining snapshot references (their manifest lists, manifests and data files; old
// metadata.json files go after each commit beyond the last 10), and returns the data file paths
// it deleted, sorted. It reloads the table first and retries a few times when another writer
// commits meanwhile.
func (t *Table) Expire(ctx context.Context, olderThan time.Duration) (_ []string, err error) {
	defer t.cat.clean(&err)
	if olderThan < 0 {
		return nil, fmt.Errorf("expire snapshots of table %s: negative age %s", t.name, olderThan)
	}
	return t.expire(ctx, olderThan)
}

// ExpireAll keeps only the current snapshot (forget uses it, so that time travel keeps no
// erased row) and deletes what the others alone referenced, as Expire does.
func (t *Table) ExpireAll(ctx context.Context) (_ []string, err error) {
	defer t.cat.clean(&err)
	return t.expire(ctx, 0)
}

func (t *Table) expire(ctx context.Context, olderThan time.Duration) ([]string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	wait := retryWaitMin
	for attempt := 1; ; attempt++ {
		deleted, err := t.expireOnce(ctx, olderThan)
		if err == nil {
			if len(deleted) > 0 {
				t.cat.logger.Info("iceberg snapshots expired", "table", t.name, "deleted_data_files", len(deleted))
			}
			return deleted, nil
		}
		if errors.Is(err, errAfterCommit) || attempt == commitAttempts {
			return deleted, fmt.Errorf("expire snapshots of table %s: %w", t.name, err)
		}
		// Retry only when the table moved underneath (another writer's commit).
		before := t.tbl.MetadataLocation()
		if rerr := t.refresh(ctx); rerr != nil {
			return nil, fmt.Errorf("expire snapshots of table %s: %w (and %w)", t.name, err, rerr)
		}
		if t.tbl.MetadataLocation() == before && !errors.Is(err, table.ErrCommitFailed) {
			return nil, fmt.Errorf("expire snapshots of table %s: %w", t.name, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("expire snapshots of table %s: %w", t.name, context.Cause(ctx))
		case <-time.After(wait):
		}
		wait = min(2*wait, retryWaitMax)
	}
}

// expireOnce reloads the table, expires and deletes. Callers hold t.mu.
func (t *Table) expireOnce(ctx context.Context, olderThan time.Duration) ([]string, error) {
	if err := t.refresh(ctx); err != nil {
		return nil, err
	}
	if len(t.tbl.Metadata().Snapshots()) <= 1 {
		return nil, nil
	}
	before, err := referenced(ctx, t.tbl)
	if err != nil {
		return nil, err
	}
	tx := t.tbl.NewTransaction()
	if err := tx.ExpireSnapshots(table.WithOlderThan(olderThan), table.WithRetainLast(1), table.WithPostCommit(true)); err != nil {
		return nil, err
	}
	tbl, err := tx.Commit(ctx)
	if tbl != nil {
		t.tbl = tbl
	}
	if err != nil && tbl == nil {
		return nil, err
	}
	// Committed; err, if any, is from iceberg-go's own deletion after the commit: the loop below
	// deletes what it left.
	after, aerr := referenced(ctx, t.tbl)
	if aerr != nil {
		return nil, errors.Join(err, aerr)
	}
	fs, ferr := t.tbl.FS(ctx)
	if ferr != nil {
		return nil, errors.Join(err, ferr)
	}
	var deleted []string
	var derr error
	for path := range before {
		if _, ok := after[path]; ok {
			continue
		}
		if rerr := fs.Remove(path); rerr != nil && !errors.Is(rerr, iofs.ErrNotExist) {
			derr = errors.Join(derr, fmt.Errorf("deleting %s: %w", path, rerr))
			continue
		}
		deleted = append(deleted, path)
	}
	slices.Sort(deleted)
	if derr != nil {
		// The expiry is committed; a retry would find nothing to expire. Report what failed.
		return deleted, fmt.Errorf("%w: snapshots expired, but %w", errAfterCommit, derr)
	}
	return deleted, nil
}

// referenced returns the paths of the data files some snapshot of tbl references.
func referenced(ctx context.Context, tbl *table.Table) (map[string]struct{}, error) {
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]struct{}{}
	for _, snap := range tbl.Metadata().Snapshots() {
		files, err := snapshotFiles(tbl, fs, snap)
		if err != nil {
			return nil, err
		}
		for p := range files {
			out[p] = struct{}{}
		}
	}
	return out, nil
}
