package icetable

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// dayLayout is File.Day's format.
const dayLayout = "2006-01-02"

// File is one data file of the table as the manifests record it.
type File struct {
	Path  string // full URI, as written in the manifests (file:///..., gs://..., s3://...)
	Day   string // YYYY-MM-DD: the partition value, day(partitionColumn) of every row in the file
	Rows  int64
	Bytes int64
}

// Snapshot describes one snapshot of the table.
type Snapshot struct {
	ID               int64
	Time             time.Time
	Operation        string            // append, overwrite, delete, replace
	Summary          map[string]string // the summary properties, the caller's and Iceberg's
	DataFiles        int64             // total-data-files of the summary
	Records          int64             // total-records of the summary
	MetadataLocation string            // the metadata.json of the table state holding it
}

// epochDay converts a YYYY-MM-DD day to days since 1970-01-01, the day transform's value.
func epochDay(day string) (int32, error) {
	d, err := time.Parse(dayLayout, day)
	if err != nil {
		return 0, fmt.Errorf("partition day %q: want YYYY-MM-DD", day)
	}
	return int32(d.Unix() / 86400), nil
}

// dayOf formats a day-transform partition value as YYYY-MM-DD ("" for a missing value).
func dayOf(v any) string {
	var days int64
	switch d := v.(type) {
	case iceberg.Date:
		days = int64(d)
	case int32:
		days = int64(d)
	case int64:
		days = d
	case int:
		days = int64(d)
	case time.Time:
		return d.UTC().Format(dayLayout)
	default:
		return ""
	}
	return time.Unix(days*86400, 0).UTC().Format(dayLayout)
}

// dataFile builds the manifest entry of f for spec (one day-transform field).
func dataFile(spec iceberg.PartitionSpec, f File) (iceberg.DataFile, error) {
	days, err := epochDay(f.Day)
	if err != nil {
		return nil, fmt.Errorf("data file %s: %w", f.Path, err)
	}
	pf := spec.Field(0)
	b, err := iceberg.NewDataFileBuilder(spec, iceberg.EntryContentData, f.Path, iceberg.ParquetFile,
		map[int]any{pf.FieldID: days}, map[int]string{pf.FieldID: "date"}, nil, f.Rows, f.Bytes)
	if err != nil {
		return nil, fmt.Errorf("data file %s: %w", f.Path, err)
	}
	return b.Build(), nil
}

// fileOf converts a manifest's data file to a File.
func fileOf(spec iceberg.PartitionSpec, df iceberg.DataFile) File {
	var day string
	if spec.NumFields() > 0 {
		day = dayOf(df.Partition()[spec.Field(0).FieldID])
	}
	return File{Path: df.FilePath(), Day: day, Rows: df.Count(), Bytes: df.FileSizeBytes()}
}

// snapshotFiles returns the live data files of snap (entries not DELETED), keyed by path.
func snapshotFiles(tbl *table.Table, fs iceio.IO, snap table.Snapshot) (map[string]iceberg.DataFile, error) {
	manifests, err := snap.Manifests(fs)
	if err != nil {
		return nil, fmt.Errorf("manifest list of snapshot %d: %w", snap.SnapshotID, err)
	}
	out := map[string]iceberg.DataFile{}
	for _, m := range manifests {
		if m.ManifestContent() != iceberg.ManifestContentData {
			continue
		}
		for e, err := range m.Entries(fs, true) {
			if err != nil {
				return nil, fmt.Errorf("manifest %s: %w", m.FilePath(), err)
			}
			df := e.DataFile()
			if df.ContentType() == iceberg.EntryContentData {
				out[df.FilePath()] = df
			}
		}
	}
	return out, nil
}

// liveFiles returns the current snapshot's data files keyed by path (empty without a snapshot).
func liveFiles(ctx context.Context, tbl *table.Table) (map[string]iceberg.DataFile, error) {
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return map[string]iceberg.DataFile{}, nil
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, err
	}
	return snapshotFiles(tbl, fs, *snap)
}

// specOf returns the spec a data file was written with (the table has one spec).
func specOf(tbl *table.Table, df iceberg.DataFile) iceberg.PartitionSpec {
	if s := tbl.Metadata().PartitionSpecByID(int(df.SpecID())); s != nil {
		return *s
	}
	return tbl.Spec()
}

// Files returns the live data files of the current snapshot as of the handle's last load or
// commit (none for a table without a snapshot), in no particular order.
func (t *Table) Files(ctx context.Context) (_ []File, err error) {
	defer t.cat.clean(&err)
	t.mu.Lock()
	defer t.mu.Unlock()
	live, err := liveFiles(ctx, t.tbl)
	if err != nil {
		return nil, fmt.Errorf("files of table %s: %w", t.name, err)
	}
	out := make([]File, 0, len(live))
	for _, df := range live {
		out = append(out, fileOf(specOf(t.tbl, df), df))
	}
	return out, nil
}

// AllFiles returns, for every snapshot still in the table's metadata, the data files it
// references (its live files), keyed by snapshot id.
func (t *Table) AllFiles(ctx context.Context) (_ map[int64][]File, err error) {
	defer t.cat.clean(&err)
	t.mu.Lock()
	defer t.mu.Unlock()
	fs, err := t.tbl.FS(ctx)
	if err != nil {
		return nil, fmt.Errorf("files of table %s: %w", t.name, err)
	}
	out := map[int64][]File{}
	for _, snap := range t.tbl.Metadata().Snapshots() {
		files, err := snapshotFiles(t.tbl, fs, snap)
		if err != nil {
			return nil, fmt.Errorf("files of table %s: %w", t.name, err)
		}
		list := make([]File, 0, len(files))
		for _, df := range files {
			list = append(list, fileOf(specOf(t.tbl, df), df))
		}
		out[snap.SnapshotID] = list
	}
	return out, nil
}

// Current describes the current snapshot as of the handle's last load or commit; ok is false
// for a table without one.
func (t *Table) Current() (Snapshot, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	snap := t.tbl.CurrentSnapshot()
	if snap == nil {
		return Snapshot{}, false
	}
	s := Snapshot{
		ID:               snap.SnapshotID,
		Time:             time.UnixMilli(snap.TimestampMs).UTC(),
		MetadataLocation: t.tbl.MetadataLocation(),
		Summary:          map[string]string{},
	}
	if snap.Summary != nil {
		s.Operation = string(snap.Summary.Operation)
		maps.Copy(s.Summary, snap.Summary.Properties)
	}
	s.DataFiles, _ = strconv.ParseInt(s.Summary["total-data-files"], 10, 64)
	s.Records, _ = strconv.ParseInt(s.Summary["total-records"], 10, 64)
	return s, true
}

// Committed reloads the table and reports whether the current snapshot or one of its ancestors
// still in the metadata has the summary property key with value (the caller records its plan
// and attempt there, to skip a commit that landed before a crash).
func (t *Table) Committed(ctx context.Context, key, value string) (_ bool, err error) {
	defer t.cat.clean(&err)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.refresh(ctx); err != nil {
		return false, err
	}
	return hasSummary(t.tbl, key, value), nil
}

// hasSummary reports whether the current snapshot of tbl or an ancestor has key=value.
func hasSummary(tbl *table.Table, key, value string) bool {
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return false
	}
	meta := tbl.Metadata()
	lookup := func(id int64) *table.Snapshot { return meta.SnapshotByID(id) }
	for _, s := range table.AncestorsOf(snap.SnapshotID, lookup) {
		if s.Summary != nil && s.Summary.Properties != nil {
			if v, ok := s.Summary.Properties[key]; ok && v == value {
				return true
			}
		}
	}
	return false
}
