package load

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/chatlake/chatlake/schema"
)

// WriteUsers writes users as the users listed by run plan plan on snapshotDate (YYYY-MM-DD):
// one Parquet file, users/snapshot_date=YYYY-MM-DD/part-<plan>.parquet, in the order given. A
// rerun of the same plan replaces its own file atomically (one object write); other runs'
// files of the date stay. An empty users slice writes a file with no rows. The users are in
// memory already; the writer holds one row group of them as Arrow data at a time.
func (l *Lake) WriteUsers(ctx context.Context, snapshotDate, plan string, users []schema.User, runID string) (err error) {
	if err := errors.Join(checkDay(snapshotDate), checkID("plan", plan), checkRunID(runID)); err != nil {
		return fmt.Errorf("write users: %w", err)
	}
	dst := usersPath(snapshotDate, plan)
	defer func() {
		if err != nil {
			err = fmt.Errorf("write users %s: %w", snapshotDate, err)
		}
	}()
	w, err := l.store.Create(ctx, dst)
	if err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	if err := l.writeUsersFile(w, users, runID); err != nil {
		return errors.Join(err, w.Abort())
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("close %s: %w", dst, err)
	}
	l.opts.Logger.Info("wrote users", "snapshot_date", snapshotDate, "rows", len(users))
	return nil
}

// writeUsersFile writes users as Parquet into w, without closing w, one row group of
// Options.RowGroupRows users at a time.
func (l *Lake) writeUsersFile(w io.Writer, users []schema.User, runID string) error {
	b := schema.NewUserBuilder(l.opts.Allocator)
	defer b.Release()
	start := 0
	next := func() (arrow.RecordBatch, error) {
		if start >= len(users) {
			return nil, nil
		}
		end := min(start+l.opts.RowGroupRows, len(users))
		for i := start; i < end; i++ {
			b.Append(&users[i])
		}
		start = end
		return b.NewRecord(), nil
	}
	return l.writeRecords(w, schema.Users(), userDictionaryColumns(), next, runID)
}
