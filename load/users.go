package load

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/parquet/pqarrow"
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

// writeUsersFile writes users as Parquet into w, without closing w.
func (l *Lake) writeUsersFile(w io.Writer, users []schema.User, runID string) (err error) {
	mem := l.opts.Allocator
	props, arrProps := writerProperties(mem, l.opts.RowGroupRows, userDictionaryColumns())
	cw := &countingWriter{w: w}
	fw, err := pqarrow.NewFileWriter(schema.Users(), cw, props, arrProps)
	if err != nil {
		return fmt.Errorf("parquet writer: %w", err)
	}
	b := schema.NewUserBuilder(mem)
	defer b.Release()
	defer func() {
		if err != nil {
			_ = fw.Close() // frees buffers; the object is aborted
		}
	}()
	if err := fw.AppendKeyValueMetadata(metaRunID, runID); err != nil {
		return fmt.Errorf("parquet metadata: %w", err)
	}
	for start := 0; start < len(users) || start == 0; start += l.opts.RowGroupRows {
		end := min(start+l.opts.RowGroupRows, len(users))
		for i := start; i < end; i++ {
			b.Append(&users[i])
		}
		if end == start { // no users: the file has the schema and no row group
			break
		}
		rec := b.NewRecord()
		err := fw.Write(rec)
		rec.Release()
		if err == nil {
			err = cw.err
		}
		if err != nil {
			return fmt.Errorf("write row group: %w", err)
		}
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("parquet footer: %w", err)
	}
	if cw.err != nil {
		return fmt.Errorf("parquet footer: %w", cw.err)
	}
	return nil
}
