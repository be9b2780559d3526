package icetable

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// CommitIDKey is the summary property every snapshot Commit makes carries: a random id of the
// Commit call, so a commit whose outcome was unknown (an error after the catalog may have
// accepted it) is recognised when the table is reloaded.
const CommitIDKey = "chatlake.commit-id"

// Commit retry policy: attempts in all, and the first and largest wait between them.
const (
	commitAttempts = 6
	retryWaitMin   = 50 * time.Millisecond
	retryWaitMax   = 2 * time.Second
)

// Commit makes one snapshot that removes the live files remove (only their Path is read) and
// adds add, with the summary properties props: an append when remove is empty, an overwrite
// otherwise; nothing at all when both are empty.
//
// When another writer committed first (the handle's metadata is stale, or the catalog refused
// the swap), Commit reloads the table and tries again, up to a few times, as long as every file
// in remove is still live; if one is not, it returns ErrConflict without committing. A remove
// path that is not live in the freshly loaded table is ErrConflict too.
func (t *Table) Commit(ctx context.Context, remove, add []File, props map[string]string) (err error) {
	defer t.cat.clean(&err)
	if len(remove) == 0 && len(add) == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()

	commitID, err := newCommitID()
	if err != nil {
		return fmt.Errorf("commit to table %s: %w", t.name, err)
	}
	summary := iceberg.Properties{}
	for k, v := range props {
		summary[k] = v
	}
	summary[CommitIDKey] = commitID

	wait := retryWaitMin
	refreshed := false // whether this call has loaded the table from the catalog
	for attempt := 1; ; attempt++ {
		err := t.commitOnce(ctx, remove, add, summary)
		if err == nil {
			t.cat.logger.Info("iceberg commit", "table", t.name, "removed", len(remove), "added", len(add),
				"snapshot", t.tbl.CurrentSnapshot().SnapshotID, "attempt", attempt)
			return nil
		}
		if errors.Is(err, ErrConflict) {
			if refreshed {
				return fmt.Errorf("commit to table %s: %w", t.name, err)
			}
			// The handle may be older than the caller's list of files: judge on fresh metadata.
			if rerr := t.refresh(ctx); rerr != nil {
				return fmt.Errorf("commit to table %s: %w (and %w)", t.name, err, rerr)
			}
			refreshed = true
			continue
		}
		// Whatever failed, the catalog holds the truth: reload and look.
		before := t.tbl.MetadataLocation()
		if rerr := t.refresh(ctx); rerr != nil {
			return fmt.Errorf("commit to table %s: %w (and %w)", t.name, err, rerr)
		}
		refreshed = true
		if hasSummary(t.tbl, CommitIDKey, commitID) {
			t.cat.logger.Warn("iceberg commit landed despite an error", "table", t.name, "err", err)
			return nil
		}
		if t.tbl.MetadataLocation() == before && !errors.Is(err, table.ErrCommitFailed) {
			return fmt.Errorf("commit to table %s: %w", t.name, err) // not a conflict
		}
		if attempt == commitAttempts {
			return fmt.Errorf("commit to table %s: still conflicting after %d attempts: %w", t.name, attempt, err)
		}
		t.cat.logger.Info("iceberg commit conflict, retrying", "table", t.name, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("commit to table %s: %w", t.name, context.Cause(ctx))
		case <-time.After(wait):
		}
		wait = min(2*wait, retryWaitMax)
	}
}

// commitOnce builds and commits the snapshot against the handle's metadata. Callers hold t.mu.
func (t *Table) commitOnce(ctx context.Context, remove, add []File, summary iceberg.Properties) error {
	live, err := liveFiles(ctx, t.tbl)
	if err != nil {
		return err
	}
	spec := t.tbl.Spec()
	dels := make([]iceberg.DataFile, 0, len(remove))
	for _, f := range remove {
		df, ok := live[f.Path]
		if !ok {
			return fmt.Errorf("%w: %s is no longer a live file of the table", ErrConflict, f.Path)
		}
		dels = append(dels, df)
	}
	adds := make([]iceberg.DataFile, 0, len(add))
	for _, f := range add {
		df, err := dataFile(spec, f)
		if err != nil {
			return err
		}
		adds = append(adds, df)
	}

	tx := t.tbl.NewTransaction()
	if len(dels) == 0 {
		err = tx.AddDataFiles(ctx, adds, summary)
	} else {
		err = tx.ReplaceDataFilesWithDataFiles(ctx, dels, adds, summary)
	}
	if err != nil {
		return err
	}
	tbl, err := tx.Commit(ctx)
	if tbl != nil {
		t.tbl = tbl // committed, even if err reports a failed clean-up after the commit
		return nil
	}
	return err
}

func newCommitID() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("commit id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
