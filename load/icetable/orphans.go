package icetable

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/iceberg-go/table"
)

// DeleteOrphans deletes the files under the table's location that no metadata of the table
// references (data files of a publisher that died before its commit, metadata files of a commit
// that lost its race) and that are older than olderThan, and returns their paths (URIs, as the manifests write them), sorted. A file
// younger than olderThan may belong to a commit in progress: olderThan must exceed the longest
// time between a publisher's first data file and its commit (a day is a safe choice).
func (t *Table) DeleteOrphans(ctx context.Context, olderThan time.Duration) (_ []string, err error) {
	defer t.cat.clean(&err)
	if olderThan < 0 {
		return nil, fmt.Errorf("orphan files of table %s: negative age %s", t.name, olderThan)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.refresh(ctx); err != nil {
		return nil, err
	}
	res, err := t.tbl.DeleteOrphanFiles(ctx, table.WithFilesOlderThan(olderThan))
	// iceberg-go lists local files as bare paths; report them as the manifests write them.
	local := strings.HasPrefix(t.tbl.Location(), "file:")
	deleted := make([]string, 0, len(res.DeletedFiles))
	for _, p := range res.DeletedFiles {
		if local && strings.HasPrefix(p, "/") {
			p = "file://" + p
		}
		deleted = append(deleted, p)
	}
	slices.Sort(deleted)
	if err != nil {
		return deleted, fmt.Errorf("orphan files of table %s: %w", t.name, err)
	}
	if len(deleted) > 0 {
		t.cat.logger.Info("iceberg orphan files deleted", "table", t.name, "files", len(deleted))
	}
	return deleted, nil
}
