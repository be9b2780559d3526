package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// Kinds of Problem.
const (
	ProblemMissingDay         = "missing-day"         // no manifest for a day of the range
	ProblemMissingFile        = "missing-file"        // a file of the manifest is not in the partition
	ProblemUnreadableFile     = "unreadable-file"     // truncated or corrupt Parquet
	ProblemRowCount           = "row-count"           // a file's rows (or the files' total) differ from the manifest
	ProblemSchemaVersion      = "schema-version"      // a manifest or file of another schema version
	ProblemUnlistedFile       = "unlisted-file"       // a Parquet file of the partition that the manifest does not list
	ProblemDuplicateKey       = "duplicate-key"       // a message_key twice within a day, in one file or across files
	ProblemWrongDt            = "wrong-dt"            // a row whose UTC sent_at date is not its partition's dt
	ProblemIncompleteManifest = "incomplete-manifest" // a manifest not marked complete, unreadable, or of another dt
	ProblemUnreadableState    = "unreadable-state"    // _chatlake/state.json does not decode (Day is "")
	ProblemOwedUser           = "owed-user"           // the state owes a user rows of days of the range (Day is "")
)

// maxOwedProblems caps the owed-user problems reported; the rest are counted in one more.
const maxOwedProblems = 10

// maxDuplicateProblems caps the duplicate-key problems reported per day (a duplicated file
// would otherwise give one per row); the rest are counted in one more problem.
const maxDuplicateProblems = 10

// verifyBatchRows is the number of rows Verify decodes at a time.
const verifyBatchRows = 64 << 10

// Report is the result of Verify.
type Report struct {
	Days     int   // days checked
	Files    int   // Parquet files read
	Rows     int64 // rows read
	Problems []Problem
}

// Problem is one thing Verify found wrong.
type Problem struct {
	Day    string // YYYY-MM-DD; "" for a problem of the lake, not of a day (File names the object)
	File   string // the file's base name in the partition, "" for the day as a whole
	Kind   string // one of the Problem* constants
	Detail string
}

// OK tells whether Verify found no problem.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// WriteText writes the report for a person: a summary line, then one line per problem.
func (r *Report) WriteText(w io.Writer) error {
	status := "OK"
	if !r.OK() {
		status = fmt.Sprintf("%d problems", len(r.Problems))
	}
	if _, err := fmt.Fprintf(w, "verified %d days, %d files, %d rows: %s\n", r.Days, r.Files, r.Rows, status); err != nil {
		return err
	}
	for _, p := range r.Problems {
		where := MessagesPartition + "=" + p.Day
		switch {
		case p.Day == "":
			where = p.File
		case p.File != "":
			where += "/" + p.File
		}
		if _, err := fmt.Fprintf(w, "%s %s: %s\n", where, p.Kind, p.Detail); err != nil {
			return err
		}
	}
	return nil
}

func (r *Report) add(day, file, kind, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Day: day, File: file, Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

// Verify checks the messages partitions of the days in [from, to] (inclusive, YYYY-MM-DD)
// against their manifests and reads every Parquet file of them back (only message_key and
// sent_at, a batch of rows at a time, from a local copy of one file at a time). An empty from
// or to leaves that side open; a day is then checked if it has a manifest or a dt= directory.
// With both given, a day of the range without a manifest is a missing-day problem. Whatever the
// range, a state file (_chatlake/state.json) that is not a JSON object with a format is an
// unreadable-state problem: no command runs on such a lake until its state is rebuilt. Each
// user the state owes rows of days in the range (a failed export: its rows of those days are
// missing until a run exports it) is an owed-user problem naming the user and the days.
//
// Memory: one batch of two columns, plus 8 bytes of key hash per row of the day being checked
// (a colliding hash is confirmed by a second read of the day's files). Disk: the day's files.
// The returned error is for a store or local failure; what is wrong in the lake is in Problems.
func (l *Lake) Verify(ctx context.Context, from, to string) (*Report, error) {
	for _, d := range []string{from, to} {
		if d != "" {
			if err := checkDay(d); err != nil {
				return nil, fmt.Errorf("verify: %w", err)
			}
		}
	}
	if from != "" && to != "" && from > to {
		return nil, fmt.Errorf("verify: from %s is after to %s", from, to)
	}
	var snapshot map[string][]TableFile // an Iceberg lake's current files, by day
	var days map[string]bool
	if l.iceberg() {
		pub, err := l.BeginPublication(ctx, "", "", "verify")
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		snapshot, days = pub.byDay, map[string]bool{}
		for d := range snapshot {
			days[d] = true
		}
	} else {
		var err error
		if days, err = l.foundDays(ctx); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
	}
	if from != "" && to != "" && !l.iceberg() {
		start, _ := time.Parse(schema.DayLayout, from)
		end, _ := time.Parse(schema.DayLayout, to)
		for t := start; !t.After(end); t = t.AddDate(0, 0, 1) {
			days[t.Format(schema.DayLayout)] = true
		}
	}
	rep := &Report{}
	if err := l.verifyState(ctx, rep, from, to); err != nil {
		return rep, fmt.Errorf("verify: %w", err)
	}
	for _, day := range sortedKeys(days) {
		if (from != "" && day < from) || (to != "" && day > to) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rep.Days++
		verifyDay := l.verifyDay
		if l.iceberg() {
			verifyDay = func(ctx context.Context, day string, rep *Report) error {
				return l.verifyIcebergDay(ctx, day, snapshot[day], rep)
			}
		}
		if err := verifyDay(ctx, day, rep); err != nil {
			return rep, fmt.Errorf("verify day %s: %w", day, err)
		}
	}
	return rep, nil
}

// verifyState reports a state file that does not decode (ErrCorruptState, as ReadState
// decides), and the users it owes rows of days in [from, to] (either side open when ""); a
// lake without a state is fine, and so is a state of a newer format.
func (l *Lake) verifyState(ctx context.Context, rep *Report, from, to string) error {
	data, _, err := l.store.Get(ctx, StatePath)
	if errors.Is(err, storage.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	st, err := decodeState(data)
	if errors.Is(err, ErrCorruptState) {
		rep.add("", StatePath, ProblemUnreadableState, "%d bytes: %v", len(data), err)
		return nil
	}
	if err != nil {
		return nil // a newer format: not this binary's to judge
	}
	n, restFrom, restTo := 0, "", ""
	for _, id := range sortedKeys(st.Owed) {
		o := st.Owed[id]
		if (from != "" && o.To < from) || (to != "" && o.From > to) {
			continue
		}
		if n++; n <= maxOwedProblems {
			rep.add("", StatePath, ProblemOwedUser, "user %s is owed %s..%s (%d failed attempt(s)): those days lack its rows until a run exports it",
				id, o.From, o.To, o.Attempts)
			continue
		}
		if restFrom == "" || o.From < restFrom {
			restFrom = o.From
		}
		restTo = max(restTo, o.To)
	}
	if n > maxOwedProblems {
		rep.add("", StatePath, ProblemOwedUser, "and %d more owed users, of days in %s..%s", n-maxOwedProblems, restFrom, restTo)
	}
	return nil
}

// foundDays are the days with a manifest or a dt= directory of messages.
func (l *Lake) foundDays(ctx context.Context) (map[string]bool, error) {
	days := make(map[string]bool)
	withManifest, err := l.Days(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range withManifest {
		days[d] = true
	}
	objs, err := l.store.List(ctx, messagesPrefix)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	for _, o := range objs {
		if day, ok := parsePartitionDay(o.Name); ok {
			days[day] = true
		}
	}
	return days, nil
}

// fileCheck is what Verify learned from reading one file.
type fileCheck struct {
	rows          int64
	schemaVersion string
	wrongDt       int64
	firstWrongDt  string
}

func (l *Lake) verifyDay(ctx context.Context, day string, rep *Report) error {
	data, _, err := l.store.Get(ctx, manifestPath(day))
	if errors.Is(err, storage.ErrNotExist) {
		rep.add(day, "", ProblemMissingDay, "no manifest")
		return nil
	}
	if err != nil {
		return fmt.Errorf("read manifest: %w", err)
	}
	m, err := decodeManifest(data)
	if err != nil {
		rep.add(day, "", ProblemIncompleteManifest, "unreadable manifest: %v", err)
		return nil
	}
	if !m.Complete {
		rep.add(day, "", ProblemIncompleteManifest, "manifest of run %s is not marked complete (a publish was interrupted)", m.RunID)
	}
	if m.Dt != day || m.Table != schema.MessagesTable {
		rep.add(day, "", ProblemIncompleteManifest, "manifest is of table %q dt %q", m.Table, m.Dt)
	}
	if m.SchemaVersion != schema.MessagesVersion {
		rep.add(day, "", ProblemSchemaVersion, "manifest has schema version %q, want %q", m.SchemaVersion, schema.MessagesVersion)
	}
	listed := make(map[string]ManifestFile, len(m.Files))
	var sum int64
	for _, f := range m.Files {
		listed[f.Name] = f
		sum += f.Rows
	}
	if sum != m.Rows {
		rep.add(day, "", ProblemRowCount, "manifest says %d rows, its files %d", m.Rows, sum)
	}

	dir := partitionDir(day)
	objs, err := l.store.List(ctx, dir)
	if err != nil {
		return fmt.Errorf("list partition: %w", err)
	}
	present := make(map[string]bool, len(objs))
	var toRead []string
	for _, o := range objs {
		base := strings.TrimPrefix(o.Name, dir)
		present[base] = true
		if !isDataFile(base) {
			continue
		}
		toRead = append(toRead, base)
		if _, ok := listed[base]; !ok {
			rep.add(day, base, ProblemUnlistedFile, "in the partition, not in the manifest")
		}
	}
	for _, f := range m.Files {
		if !present[f.Name] {
			rep.add(day, f.Name, ProblemMissingFile, "listed in the manifest (%d rows), not in the partition", f.Rows)
		}
	}
	return l.readDayFiles(ctx, day, dir, toRead, func(base string) (int64, bool) {
		mf, ok := listed[base]
		return mf.Rows, ok
	}, rep)
}

// verifyIcebergDay checks the data files of day that the Iceberg lake's current snapshot
// lists: each exists and reads back with the rows its metadata says, in the right day, with no
// message_key twice in the day. Other files of the day's directory (of older snapshots, or
// written by a run stopped before its commit) are no part of the table and are not read.
func (l *Lake) verifyIcebergDay(ctx context.Context, day string, files []TableFile, rep *Report) error {
	dir := icebergPartitionDir(day)
	rows := map[string]int64{}
	var toRead []string
	for _, f := range files {
		name, err := l.objectName(f.Path)
		if err != nil {
			rep.add(day, f.Path, ProblemMissingFile, "%v", err)
			continue
		}
		base, ok := strings.CutPrefix(name, dir)
		if !ok {
			rep.add(day, name, ProblemWrongDt, "a data file of day %s outside its directory %s", day, dir)
			continue
		}
		rows[base] = f.Rows
		toRead = append(toRead, base)
	}
	return l.readDayFiles(ctx, day, dir, toRead, func(base string) (int64, bool) {
		n, ok := rows[base]
		return n, ok
	}, rep)
}

// readDayFiles reads back the files toRead of day's directory dir (base names): each must
// have the rows listedRows says (when it lists it), be of the schema version, hold only rows of
// the day, and no message_key may occur twice among them.
func (l *Lake) readDayFiles(ctx context.Context, day, dir string, toRead []string, listedRows func(base string) (int64, bool), rep *Report) error {
	tmp, err := os.MkdirTemp(l.opts.TempDir, spillPrefix("verify"))
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	hashes := make(map[uint64]struct{})
	suspects := make(map[uint64]struct{})
	var readable []string // local paths
	var names []string
	sort.Strings(toRead)
	for _, base := range toRead {
		local := filepath.Join(tmp, base)
		if err := l.download(ctx, dir+base, local); err != nil {
			if errors.Is(err, storage.ErrNotExist) {
				rep.add(day, base, ProblemMissingFile, "not in the partition (deleted while verifying, or never there)")
				continue
			}
			return err
		}
		rep.Files++
		fc, err := l.checkFile(ctx, local, day, func(key string) {
			h := keyHash(key)
			if _, seen := hashes[h]; seen {
				suspects[h] = struct{}{}
			}
			hashes[h] = struct{}{}
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rep.add(day, base, ProblemUnreadableFile, "%v", err)
			continue
		}
		readable = append(readable, local)
		names = append(names, base)
		rep.Rows += fc.rows
		if n, ok := listedRows(base); ok && n != fc.rows {
			rep.add(day, base, ProblemRowCount, "file has %d rows, the metadata says %d", fc.rows, n)
		}
		if fc.schemaVersion != schema.MessagesVersion {
			rep.add(day, base, ProblemSchemaVersion, "file has schema version %q, want %q", fc.schemaVersion, schema.MessagesVersion)
		}
		if fc.wrongDt > 0 {
			rep.add(day, base, ProblemWrongDt, "%d rows sent on another day (first: %s)", fc.wrongDt, fc.firstWrongDt)
		}
	}
	if len(suspects) == 0 {
		return nil
	}
	return l.confirmDuplicates(ctx, day, readable, names, suspects, rep)
}

// confirmDuplicates reads the keys of the day's files again, keeping only those whose hash
// collided, and reports the keys that really occur twice.
func (l *Lake) confirmDuplicates(ctx context.Context, day string, paths, names []string, suspects map[uint64]struct{}, rep *Report) error {
	where := make(map[string][]string) // key -> files, one entry per occurrence
	for i, path := range paths {
		_, err := l.checkFile(ctx, path, day, func(key string) {
			if _, ok := suspects[keyHash(key)]; ok {
				where[key] = append(where[key], names[i])
			}
		})
		if err != nil {
			return fmt.Errorf("reread %s: %w", names[i], err)
		}
	}
	dups := 0
	for _, key := range sortedKeys(where) {
		files := where[key]
		if len(files) < 2 {
			continue
		}
		dups++
		if dups <= maxDuplicateProblems {
			rep.add(day, "", ProblemDuplicateKey, "message_key %q occurs %d times (in %s)", key, len(files), strings.Join(files, ", "))
		}
	}
	if dups > maxDuplicateProblems {
		rep.add(day, "", ProblemDuplicateKey, "and %d more duplicated keys", dups-maxDuplicateProblems)
	}
	return nil
}

// checkFile reads the message_key and sent_at columns of a local Parquet file, calling onKey
// for every key. An error means the file is unreadable (or ctx ended).
func (l *Lake) checkFile(ctx context.Context, path, day string, onKey func(string)) (fc fileCheck, err error) {
	// A corrupt file can make the reader panic, its footer's decoding included; it is reported
	// as unreadable, not a crash.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("corrupt parquet: %v", r)
		}
	}()
	f, err := os.Open(path)
	if err != nil {
		return fc, err
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f)
	if err != nil {
		return fc, err
	}
	defer pf.Close()
	md := pf.MetaData()
	if v := md.KeyValueMetadata().FindValue(schema.MetaSchemaVersion); v != nil {
		fc.schemaVersion = *v
	}
	keyCol := md.Schema.ColumnIndexByName("message_key")
	sentCol := md.Schema.ColumnIndexByName("sent_at")
	if keyCol < 0 || sentCol < 0 {
		return fc, errors.New("no message_key or sent_at column")
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: verifyBatchRows}, l.opts.Allocator)
	if err != nil {
		return fc, err
	}
	rr, err := fr.GetRecordReader(ctx, []int{keyCol, sentCol}, nil)
	if err != nil {
		return fc, err
	}
	defer rr.Release()
	for rr.Next() {
		rec := rr.RecordBatch()
		keys, ok1 := columnByName(rec, "message_key").(*array.String)
		sent, ok2 := columnByName(rec, "sent_at").(*array.Timestamp)
		if !ok1 || !ok2 {
			return fc, errors.New("message_key is not a string or sent_at not a timestamp")
		}
		unit := sent.DataType().(*arrow.TimestampType).Unit
		for i := 0; i < keys.Len(); i++ {
			onKey(keys.Value(i))
			t := sent.Value(i).ToTime(unit)
			if sent.IsNull(i) || dayOf(t) != day {
				fc.wrongDt++
				if fc.firstWrongDt == "" {
					fc.firstWrongDt = fmt.Sprintf("message_key %q sent_at %s", keys.Value(i), t.UTC().Format(time.RFC3339Nano))
				}
			}
		}
		fc.rows += int64(keys.Len())
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return fc, err
	}
	if fc.rows != pf.NumRows() {
		return fc, fmt.Errorf("read %d rows, footer says %d", fc.rows, pf.NumRows())
	}
	return fc, nil
}

func columnByName(rec arrow.RecordBatch, name string) arrow.Array {
	idx := rec.Schema().FieldIndices(name)
	if len(idx) != 1 {
		return nil
	}
	return rec.Column(idx[0])
}
