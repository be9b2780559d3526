package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/chatlake/chatlake/schema"
)

// UserRows yields the rows of a users table one at a time, then io.EOF. The row is the
// caller's only until the next call.
type UserRows func() (*schema.User, error)

// UsersOf yields the rows of users, in order.
func UsersOf(users []schema.User) UserRows {
	i := 0
	return func() (*schema.User, error) {
		if i == len(users) {
			return nil, io.EOF
		}
		i++
		return &users[i-1], nil
	}
}

// WriteUsers writes the rows as the users listed by run plan plan on snapshotDate (YYYY-MM-DD):
// one Parquet file, users/snapshot_date=YYYY-MM-DD/part-<plan>.parquet, in the order given. A
// rerun of the same plan replaces its own file atomically (one object write); other runs'
// files of the date stay. No rows writes a file with no rows. The writer holds one row group
// of users (at most 16Ki) as Arrow data at a time, so any number of users is written in bounded memory.
func (l *Lake) WriteUsers(ctx context.Context, snapshotDate, plan string, rows UserRows, runID string) (err error) {
	if err := errors.Join(checkDay(snapshotDate), checkID("plan", plan), checkRunID(runID)); err != nil {
		return fmt.Errorf("write users: %w", err)
	}
	if rows == nil {
		rows = UsersOf(nil)
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("write users %s: %w", snapshotDate, err)
		}
	}()
	if l.iceberg() {
		return l.writeUsersIceberg(ctx, snapshotDate, plan, rows, runID)
	}
	dst := usersPath(snapshotDate, plan)
	n, _, err := l.createUsersFile(ctx, dst, rows, runID)
	if err != nil {
		return err
	}
	l.opts.Logger.Info("wrote users", "snapshot_date", snapshotDate, "rows", n)
	return nil
}

// writeUsersIceberg writes the users file of plan as a new data file of the users table and
// commits it in place of the plan's file of snapshotDate that an earlier run of the plan
// committed, if any: a rerun replaces its own users, as on a Hive lake.
func (l *Lake) writeUsersIceberg(ctx context.Context, snapshotDate, plan string, rows UserRows, runID string) error {
	t, err := l.table(ctx, schema.UsersTable)
	if err != nil {
		return err
	}
	files, err := t.Files(ctx)
	if err != nil {
		return fmt.Errorf("iceberg table users: %w", err)
	}
	var remove []TableFile
	own := l.objectURI(icebergUsersPrefix(snapshotDate, plan))
	for _, f := range files {
		if strings.HasPrefix(f.Path, own) {
			remove = append(remove, f)
		}
	}
	dst := icebergUsersPath(snapshotDate, plan, runID)
	n, size, err := l.createUsersFile(ctx, dst, rows, runID)
	if err != nil {
		return err
	}
	add := []TableFile{{Path: l.objectURI(dst), Day: snapshotDate, Rows: n, Bytes: size}}
	if err := t.Commit(ctx, remove, add, map[string]string{SnapshotUsersPlan: plan, SnapshotRunID: runID}); err != nil {
		_ = l.store.Delete(ctx, dst)
		return fmt.Errorf("iceberg commit of users: %w", err)
	}
	l.opts.Logger.Info("wrote users", "snapshot_date", snapshotDate, "rows", n, "table_format", TableFormatIceberg)
	l.expire(ctx, t, schema.UsersTable, l.opts.SnapshotRetention, orphanMinAge)
	return nil
}

// createUsersFile writes the rows as the users file dst (one atomic object write) and returns
// how many rows and bytes it holds.
func (l *Lake) createUsersFile(ctx context.Context, dst string, rows UserRows, runID string) (n, size int64, err error) {
	w, err := l.store.Create(ctx, dst)
	if err != nil {
		return 0, 0, fmt.Errorf("create %s: %w", dst, err)
	}
	cw := &countingWriter{w: w}
	n, err = l.writeUsersFile(cw, rows, runID)
	if err == nil {
		err = cw.err
	}
	if err != nil {
		return 0, 0, errors.Join(err, w.Abort())
	}
	if err := w.Close(); err != nil {
		return 0, 0, fmt.Errorf("close %s: %w", dst, err)
	}
	return n, cw.n, nil
}

// usersRowGroupRows bounds a users row group: a user row (its attributes and its object as
// sent) is larger than a message's, so it takes fewer of them to make a row group's memory.
const usersRowGroupRows = 16 << 10

// writeUsersFile writes the rows as Parquet into w, without closing w, one row group of
// min(Options.RowGroupRows, usersRowGroupRows) users at a time, and returns how many it wrote.
func (l *Lake) writeUsersFile(w io.Writer, rows UserRows, runID string) (int64, error) {
	b := schema.NewUserBuilder(l.opts.Allocator)
	defer b.Release()
	var n int64
	eof := false
	next := func() (arrow.RecordBatch, error) {
		if eof {
			return nil, nil
		}
		for k := 0; k < min(l.opts.RowGroupRows, usersRowGroupRows); k++ {
			u, err := rows()
			if err == io.EOF {
				eof = true
				break
			}
			if err != nil {
				return nil, err
			}
			b.Append(u)
			n++
		}
		return b.NewRecord(), nil
	}
	return n, l.writeRecords(w, schema.Users(), userDictionaryColumns(), next, runID)
}
