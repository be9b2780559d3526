package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/chatlake/chatlake/schema"
)

// usersPath is the one file of a users snapshot.
func usersPath(snapshotDate string) string {
	return usersPrefix + "snapshot_date=" + snapshotDate + "/" + usersFileName
}

// WriteUsers writes users as the snapshot of snapshotDate (YYYY-MM-DD): one Parquet file,
// users/snapshot_date=YYYY-MM-DD/part-00000.parquet, in the order given, uploaded to staging
// and moved into place, so it replaces an earlier snapshot of the same date atomically. An
// empty users slice writes a file with no rows. The users are in memory already; the writer
// holds one row group of them as Arrow data at a time.
func (l *Lake) WriteUsers(ctx context.Context, snapshotDate string, users []schema.User, runID string) (err error) {
	if err := checkDay(snapshotDate); err != nil {
		return fmt.Errorf("write users: %w", err)
	}
	if err := checkRunID(runID); err != nil {
		return fmt.Errorf("write users: %w", err)
	}
	dst := usersPath(snapshotDate)
	tmp := stagingPrefix + runID + "/" + dst
	defer func() {
		if err != nil {
			err = fmt.Errorf("write users %s: %w", snapshotDate, err)
		}
	}()

	if err := l.cleanStagingOf(ctx, strings.TrimSuffix(dst, usersFileName)); err != nil {
		return err
	}
	w, err := l.store.Create(ctx, tmp)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	if err := l.writeUsersFile(w, users, runID); err != nil {
		return errors.Join(err, w.Abort())
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := l.store.Move(ctx, tmp, dst); err != nil {
		_ = l.store.Delete(ctx, tmp) // best effort: nothing reads staging
		return fmt.Errorf("move into place: %w", err)
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
