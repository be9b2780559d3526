package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/chatlake/chatlake/load/icetable"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// ForgetStats counts what an erasure removed.
type ForgetStats struct {
	Partitions  int   // message partitions rewritten
	Messages    int64 // message rows removed
	UsersFiles  int   // users-table files rewritten
	UsersRows   int64 // users-table rows removed
	FilesMerged int   // message files written
}

// ForgetMessages removes the rows of the users drop accepts from every partition of the
// messages table, each partition through Merge (atomic for readers as every merge is). Days
// whose files hold none of those users are read but not written.
//
// On an Iceberg lake the partitions are merged into one commit, and then every snapshot but
// the new current one is expired and the files only they referenced are deleted, so that no
// snapshot left (no time travel) holds an erased row.
func (l *Lake) ForgetMessages(ctx context.Context, drop func(channelUserID string) bool, runID string) (ForgetStats, error) {
	var fs ForgetStats
	pub, err := l.BeginPublication(ctx, "", "", runID)
	if err != nil {
		return fs, err
	}
	days := pub.Days()
	if !l.iceberg() {
		if days, err = l.Days(ctx); err != nil {
			return fs, err
		}
	}
	for _, day := range days {
		st, err := l.Merge(ctx, day, MergeInput{Replace: drop, RunID: runID, Publication: pub})
		if err != nil {
			return fs, err
		}
		if st.Replaced > 0 {
			fs.Partitions++
			fs.Messages += st.Replaced
			fs.FilesMerged += st.Files
		}
	}
	if err := pub.Commit(ctx); err != nil {
		return fs, err
	}
	if l.iceberg() {
		if err := l.expireAll(ctx, pub.table, schema.MessagesTable); err != nil {
			return fs, err
		}
	}
	return fs, nil
}

// ForgetUsers removes the rows of the users drop accepts from every file of the users table,
// each file replaced in one atomic write; files without such a user are left as they are.
//
// On an Iceberg lake each such file is replaced by a new one, all in one commit, and then
// every snapshot but the new current one is expired, as ForgetMessages does.
func (l *Lake) ForgetUsers(ctx context.Context, drop func(channelUserID string) bool, runID string) (ForgetStats, error) {
	var fs ForgetStats
	var objs []storage.Object
	var t *icetable.Table
	var files []TableFile
	var err error
	if l.iceberg() {
		if t, err = l.table(ctx, schema.UsersTable); err != nil {
			return fs, err
		}
		if files, err = t.Files(ctx); err != nil {
			return fs, fmt.Errorf("iceberg table users: %w", err)
		}
		for _, f := range files {
			name, err := l.objectName(f.Path)
			if err != nil {
				return fs, err
			}
			objs = append(objs, storage.Object{Name: name, Size: f.Bytes})
		}
	} else if objs, err = l.store.List(ctx, usersPrefix); err != nil {
		return fs, fmt.Errorf("list the users table: %w", err)
	}
	tmp, err := os.MkdirTemp(l.opts.TempDir, spillPrefix("forget"))
	if err != nil {
		return fs, err
	}
	defer os.RemoveAll(tmp)
	var remove, add []TableFile
	for i, o := range objs {
		if !strings.HasSuffix(o.Name, ".parquet") {
			continue
		}
		local := filepath.Join(tmp, fmt.Sprint(i))
		if err := l.download(ctx, o.Name, local); err != nil {
			return fs, err
		}
		dst := o.Name // a Hive lake's file is replaced in place
		if l.iceberg() {
			dst = strings.TrimSuffix(o.Name, dataExt) + "-" + runID + dataExt
		}
		n, kept, size, err := l.filterUsersFile(ctx, local, o.Name, dst, drop, runID)
		os.Remove(local)
		if err != nil {
			return fs, fmt.Errorf("forget users in %s: %w", o.Name, err)
		}
		if n > 0 {
			fs.UsersFiles++
			fs.UsersRows += n
			if l.iceberg() {
				remove = append(remove, files[i])
				add = append(add, TableFile{Path: l.objectURI(dst), Day: files[i].Day, Rows: kept, Bytes: size})
			}
		}
	}
	if !l.iceberg() {
		return fs, nil
	}
	if err := t.Commit(ctx, remove, add, map[string]string{SnapshotForget: runID, SnapshotRunID: runID}); err != nil {
		return fs, fmt.Errorf("iceberg commit of users: %w", err)
	}
	// Older snapshots may hold the users even where the current one no longer does.
	return fs, l.expireAll(ctx, t, schema.UsersTable)
}

// filterUsersFile writes the users file name (a local copy at path) without the rows drop
// accepts into dst, and returns how many rows it removed and kept and the size of dst; with
// none removed it writes nothing.
func (l *Lake) filterUsersFile(ctx context.Context, path, name, dst string, drop func(string) bool, runID string) (removed, kept, size int64, err error) {
	// A corrupt file can make the Parquet reader panic: an error naming the file, not a crash.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("users file %s: corrupt parquet: %v", name, r)
		}
	}()
	var recs []arrow.RecordBatch
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f)
	if err != nil {
		return 0, 0, 0, err
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: sourceBatchRows}, l.opts.Allocator)
	if err != nil {
		return 0, 0, 0, err
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	defer rr.Release()
	for rr.Next() {
		rec := rr.RecordBatch()
		if c := millisOf(l.opts.Allocator, rec); c != nil { // an Iceberg data file
			defer c.Release()
			rec = c
		}
		ids, ok := columnByName(rec, "channel_user_id").(*array.String)
		if !ok {
			return 0, 0, 0, errors.New("no channel_user_id string column")
		}
		mb := array.NewBooleanBuilder(l.opts.Allocator)
		for j := 0; j < ids.Len(); j++ {
			keep := !drop(ids.Value(j))
			if !keep {
				removed++
			}
			mb.Append(keep)
		}
		mask := mb.NewBooleanArray()
		mb.Release()
		out, err := compute.FilterRecordBatch(ctx, rec, mask, compute.DefaultFilterOptions())
		mask.Release()
		if err != nil {
			return 0, 0, 0, err
		}
		recs = append(recs, out)
		kept += out.NumRows()
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return 0, 0, 0, err
	}
	if removed == 0 {
		return 0, 0, 0, nil
	}
	w, err := l.store.Create(ctx, dst)
	if err != nil {
		return 0, 0, 0, err
	}
	cw := &countingWriter{w: w}
	i := 0
	next := func() (arrow.RecordBatch, error) {
		if i == len(recs) {
			return nil, nil
		}
		r := recs[i]
		r.Retain() // writeRecords releases it; the deferred loop releases the original
		i++
		return r, nil
	}
	err = l.writeRecords(cw, schema.Users(), userDictionaryColumns(), next, runID)
	if err == nil {
		err = cw.err
	}
	if err != nil {
		return 0, 0, 0, errors.Join(err, w.Abort())
	}
	return removed, kept, cw.n, w.Close()
}
