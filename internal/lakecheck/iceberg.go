package lakecheck

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// An Iceberg lake is read independently of iceberg-go: read_snapshot.py (Debian's python3-avro)
// reads a table's metadata JSON, manifest list and manifests, and DuckDB reads the data files
// they list.

// DataFile is a live data file of a snapshot, as read_snapshot.py reads the manifests.
type DataFile struct {
	Path  string `json:"path"`
	Rows  int64  `json:"record_count"`
	Bytes int64  `json:"file_size_in_bytes"`
	// Partition holds the partition values: a day transform's as YYYY-MM-DD.
	Partition map[string]any `json:"partition"`
}

// Day is the file's day partition value ("" if none).
func (f DataFile) Day() string {
	for _, v := range f.Partition {
		if s, ok := v.(string); ok {
			return s
		}
	}
	return ""
}

// Snapshot is one snapshot of a table and its live data files.
type Snapshot struct {
	ID      *int64            `json:"snapshot_id"`
	Parent  *int64            `json:"parent_id"`
	Summary map[string]string `json:"summary"`
	Files   []DataFile        `json:"files"`
}

// Python finds Debian's /usr/bin/python3 with python3-avro (and sqlite3). Without it the test is
// skipped on a developer's machine and fails in CI (CI=true), where .ci/run installs
// python3-avro.
func Python(t testing.TB) string {
	t.Helper()
	const py = "/usr/bin/python3"
	err := exec.Command(py, "-c", "import avro.datafile, avro.io, sqlite3").Run()
	if err == nil {
		return py
	}
	msg := fmt.Sprintf("%s cannot import avro (%v): apt-get install python3-avro", py, err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// readerScript is read_snapshot.py, beside this file.
func readerScript(t testing.TB) string {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("lakecheck: cannot locate read_snapshot.py")
	}
	return filepath.Join(filepath.Dir(self), "read_snapshot.py")
}

// MetadataLocation is the current metadata file of table in the SQLite catalog file catalogDB,
// read with Python's sqlite3 (the SQL catalog's table iceberg_tables); "" if the table is not in
// the catalog.
func MetadataLocation(t testing.TB, catalogDB, table string) string {
	t.Helper()
	const q = `import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
rows = db.execute("SELECT metadata_location FROM iceberg_tables WHERE table_name = ?", (sys.argv[2],)).fetchall()
print(rows[0][0] if rows else "")`
	out, err := exec.Command(Python(t), "-c", q, catalogDB, table).Output()
	if err != nil {
		t.Fatalf("reading the catalog %s: %v", catalogDB, err)
	}
	return strings.TrimSpace(string(out))
}

// ReadSnapshot reads the current snapshot of the table whose metadata file is metadata; its ID
// is nil for a table without one.
func ReadSnapshot(t testing.TB, metadata string) Snapshot {
	t.Helper()
	var s Snapshot
	ReadIceberg(t, &s, metadata)
	return s
}

// ReadSnapshots reads every snapshot the table's metadata file still holds.
func ReadSnapshots(t testing.TB, metadata string) []Snapshot {
	t.Helper()
	var all struct {
		Snapshots []Snapshot `json:"snapshots"`
	}
	ReadIceberg(t, &all, "--all", metadata)
	return all.Snapshots
}

// A CloudCopy is the objects of a lake on a cloud store, copied into the local directory Dir
// (Download): a URI that starts with Root, the URI of the store's root in the tables'
// metadata (gs://BUCKET/PREFIX, s3://..., abfss://CONTAINER@ACCOUNT.dfs.core.windows.net/PREFIX),
// names the file at the same path below Dir.
type CloudCopy struct{ Root, Dir string }

// ReadSnapshot is ReadSnapshot of the copy's metadata file metadata (a URI below Root); the
// files it lists keep the URIs the manifests record (Local turns them into local files).
func (c CloudCopy) ReadSnapshot(t testing.TB, metadata string) Snapshot {
	t.Helper()
	var s Snapshot
	ReadIceberg(t, &s, "--root-map", c.Root+"="+c.Dir, metadata)
	return s
}

// ReadSnapshots is ReadSnapshots of the copy's metadata file metadata.
func (c CloudCopy) ReadSnapshots(t testing.TB, metadata string) []Snapshot {
	t.Helper()
	var all struct {
		Snapshots []Snapshot `json:"snapshots"`
	}
	ReadIceberg(t, &all, "--all", "--root-map", c.Root+"="+c.Dir, metadata)
	return all.Snapshots
}

// Local returns files with each URI below Root turned into the file:// URI of its copy (for
// ReadFiles); a URI outside Root fails the test.
func (c CloudCopy) Local(t testing.TB, files []DataFile) []DataFile {
	t.Helper()
	out := make([]DataFile, len(files))
	for i, f := range files {
		rel, ok := strings.CutPrefix(f.Path, strings.TrimSuffix(c.Root, "/")+"/")
		if !ok {
			t.Fatalf("data file %s is not below the lake's root %s", f.Path, c.Root)
		}
		f.Path = "file://" + filepath.ToSlash(filepath.Join(c.Dir, filepath.FromSlash(rel)))
		out[i] = f
	}
	return out
}

// ReadIceberg runs read_snapshot.py (python3-avro; it says what it prints) with args and
// decodes its JSON output into out.
func ReadIceberg(t testing.TB, out any, args ...string) {
	t.Helper()
	cmd := exec.Command(Python(t), append([]string{readerScript(t)}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	data, err := cmd.Output()
	if err != nil {
		t.Fatalf("read_snapshot.py %v: %v\n%s", args, err, stderr.String())
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("read_snapshot.py %v: %v", args, err)
	}
}

// ReadFiles reads the messages of the data files (local file:// URIs) with DuckDB; each row's
// Dt is its file's partition day.
func ReadFiles(ctx context.Context, db *sql.DB, files []DataFile) ([]Row, error) {
	if len(files) == 0 {
		return nil, nil
	}
	day := map[string]string{}
	paths := make([]string, len(files))
	for i, f := range files {
		u, err := url.Parse(f.Path)
		if err != nil || u.Scheme != "file" {
			return nil, fmt.Errorf("data file %s: not a local file:// URI", f.Path)
		}
		paths[i] = "'" + strings.ReplaceAll(u.Path, "'", "''") + "'"
		day[u.Path] = f.Day()
	}
	q := fmt.Sprintf(`SELECT channel_user_id, sent_at, sender, message_type, text, filename, message_key
		FROM read_parquet([%s], filename = true)`, strings.Join(paths, ", "))
	rs, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []Row
	for rs.Next() {
		var r Row
		var text sql.NullString
		var file string
		if err := rs.Scan(&r.ChannelUserID, &r.SentAt, &r.Sender, &r.MessageType, &text, &file, &r.MessageKey); err != nil {
			return nil, err
		}
		r.SentAt = r.SentAt.UTC()
		r.Text, r.TextNull = text.String, !text.Valid
		r.Dt = day[file]
		out = append(out, r)
	}
	return out, rs.Err()
}
