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
func (l *Lake) ForgetMessages(ctx context.Context, drop func(channelUserID string) bool, runID string) (ForgetStats, error) {
	var fs ForgetStats
	days, err := l.Days(ctx)
	if err != nil {
		return fs, err
	}
	for _, day := range days {
		st, err := l.Merge(ctx, day, MergeInput{Replace: drop, RunID: runID})
		if err != nil {
			return fs, err
		}
		if st.Replaced > 0 {
			fs.Partitions++
			fs.Messages += st.Replaced
			fs.FilesMerged += st.Files
		}
	}
	return fs, nil
}

// ForgetUsers removes the rows of the users drop accepts from every file of the users table,
// each file replaced in one atomic write; files without such a user are left as they are.
func (l *Lake) ForgetUsers(ctx context.Context, drop func(channelUserID string) bool, runID string) (ForgetStats, error) {
	var fs ForgetStats
	objs, err := l.store.List(ctx, usersPrefix)
	if err != nil {
		return fs, fmt.Errorf("list the users table: %w", err)
	}
	tmp, err := os.MkdirTemp(l.opts.TempDir, spillPrefix("forget"))
	if err != nil {
		return fs, err
	}
	defer os.RemoveAll(tmp)
	for i, o := range objs {
		if !strings.HasSuffix(o.Name, ".parquet") {
			continue
		}
		local := filepath.Join(tmp, fmt.Sprint(i))
		if err := l.download(ctx, o.Name, local); err != nil {
			return fs, err
		}
		n, err := l.filterUsersFile(ctx, local, o.Name, drop, runID)
		os.Remove(local)
		if err != nil {
			return fs, fmt.Errorf("forget users in %s: %w", o.Name, err)
		}
		if n > 0 {
			fs.UsersFiles++
			fs.UsersRows += n
		}
	}
	return fs, nil
}

// filterUsersFile rewrites the users file name (a local copy at path) without the rows drop
// accepts, and returns how many it removed; with none it writes nothing.
func (l *Lake) filterUsersFile(ctx context.Context, path, name string, drop func(string) bool, runID string) (removed int64, err error) {
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
		return 0, err
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f)
	if err != nil {
		return 0, err
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: sourceBatchRows}, l.opts.Allocator)
	if err != nil {
		return 0, err
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return 0, err
	}
	defer rr.Release()
	for rr.Next() {
		rec := rr.RecordBatch()
		ids, ok := columnByName(rec, "channel_user_id").(*array.String)
		if !ok {
			return 0, errors.New("no channel_user_id string column")
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
			return 0, err
		}
		recs = append(recs, out)
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if removed == 0 {
		return 0, nil
	}
	w, err := l.store.Create(ctx, name)
	if err != nil {
		return 0, err
	}
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
	if err := l.writeRecords(w, schema.Users(), userDictionaryColumns(), next, runID); err != nil {
		return 0, errors.Join(err, w.Abort())
	}
	return removed, w.Close()
}
