package load

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestVerifyCatchesCorruption damages a clean lake in one way per case and checks that Verify
// reports exactly that kind of problem.
func TestVerifyCatchesCorruption(t *testing.T) {
	const (
		day1 = "2024-05-02" // several shards
		day2 = "2024-05-03" // one shard
	)
	ctx := context.Background()
	tests := []struct {
		name     string
		from, to string
		damage   func(t *testing.T, l *Lake, store storage.Store, files []string)
		want     []string // problem kinds, sorted
	}{
		{name: "clean", damage: func(*testing.T, *Lake, storage.Store, []string) {}},
		{name: "clean, range with empty edges", from: "2024-05-02", to: "2024-05-03",
			damage: func(*testing.T, *Lake, storage.Store, []string) {}},
		{name: "deleted file", want: []string{ProblemMissingFile},
			damage: func(t *testing.T, l *Lake, s storage.Store, files []string) {
				must(t, s.Delete(ctx, partitionDir(day1)+files[1]))
			}},
		{name: "truncated file", want: []string{ProblemUnreadableFile},
			damage: func(t *testing.T, l *Lake, s storage.Store, files []string) {
				name := partitionDir(day1) + files[0]
				data := getObject(t, s, name)
				putObject(t, s, name, data[:len(data)/2])
			}},
		{name: "garbage in the middle of a file", want: []string{ProblemUnreadableFile},
			damage: func(t *testing.T, l *Lake, s storage.Store, files []string) {
				name := partitionDir(day1) + files[0]
				data := getObject(t, s, name)
				copy(data[8:], bytes.Repeat([]byte{0xff}, len(data)/2))
				putObject(t, s, name, data)
			}},
		{name: "footer counts a row its row groups do not hold", want: []string{ProblemUnreadableFile},
			damage: func(t *testing.T, l *Lake, s storage.Store, files []string) {
				name := partitionDir(day2) + shardName(0, 1)
				putObject(t, s, name, footerRowsPlusOne(t, getObject(t, s, name), 10))
			}},
		{name: "footer that makes the Parquet reader panic", want: []string{ProblemUnreadableFile},
			damage: func(t *testing.T, l *Lake, s storage.Store, files []string) {
				name := partitionDir(day2) + shardName(0, 1)
				putObject(t, s, name, panickingFooter(t, getObject(t, s, name)))
			}},
		{name: "duplicated file", want: []string{ProblemDuplicateKey, ProblemUnlistedFile},
			damage: func(t *testing.T, l *Lake, s storage.Store, files []string) {
				data := getObject(t, s, partitionDir(day1)+files[0])
				putObject(t, s, partitionDir(day1)+"copy-of-part-00000.parquet", data)
			}},
		{name: "row in the wrong dt", want: []string{ProblemWrongDt},
			damage: func(t *testing.T, l *Lake, s storage.Store, files []string) {
				name := partitionDir(day2) + shardName(0, 1)
				rows := readFile(t, s, name)
				rows[3].SentAt = rows[3].SentAt.Add(-48 * time.Hour)
				writeParquet(t, l, s, name, rows)
			}},
		{name: "missing day", from: "2024-05-01", to: "2024-05-03", want: []string{ProblemMissingDay},
			damage: func(*testing.T, *Lake, storage.Store, []string) {}},
		{name: "deleted manifest", want: []string{ProblemMissingDay},
			damage: func(t *testing.T, l *Lake, s storage.Store, files []string) {
				must(t, s.Delete(ctx, manifestPath(day2)))
			}},
		{name: "manifest with a wrong row count", want: []string{ProblemRowCount},
			damage: func(t *testing.T, l *Lake, s storage.Store, files []string) {
				editManifest(t, s, day1, func(m *Manifest) { m.Files[0].Rows++; m.Rows++ })
			}},
		{name: "manifest total differs from its files", want: []string{ProblemRowCount},
			damage: func(t *testing.T, l *Lake, s storage.Store, files []string) {
				editManifest(t, s, day1, func(m *Manifest) { m.Rows-- })
			}},
		{name: "wrong schema version", want: []string{ProblemSchemaVersion},
			damage: func(t *testing.T, l *Lake, s storage.Store, files []string) {
				editManifest(t, s, day2, func(m *Manifest) { m.SchemaVersion = "0" })
			}},
		{name: "incomplete manifest", want: []string{ProblemIncompleteManifest},
			damage: func(t *testing.T, l *Lake, s storage.Store, files []string) {
				editManifest(t, s, day2, func(m *Manifest) { m.Complete = false })
			}},
		{name: "a file out of range is not checked", from: day2, to: day2,
			damage: func(t *testing.T, l *Lake, s storage.Store, files []string) {
				must(t, s.Delete(ctx, partitionDir(day1)+files[1]))
			}},
	}
	for _, b := range cloneableBackends() {
		// One clean lake per backend, copied for each case.
		base := b.new(t)
		l := newTestLake(t, base, Options{TargetFileSize: 16 << 10, RowGroupRows: 200})
		publish(t, l, []string{day1, day2}, "run-1", testDay(day1, 0, 1000), testDay(day2, 0, 10))
		files := partitionFiles(t, base, day1)
		if len(files) < 3 {
			t.Fatalf("want several files, got %v", files)
		}
		for _, tc := range tests {
			t.Run(b.name+"/"+tc.name, func(t *testing.T) {
				store := b.clone(t, base)
				l := newTestLake(t, store, Options{})
				tc.damage(t, l, store, files)
				rep, err := l.Verify(ctx, tc.from, tc.to)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for k := range problemKinds(rep) {
					got = append(got, k)
				}
				slices.Sort(got)
				if !slices.Equal(got, tc.want) {
					var buf bytes.Buffer
					rep.WriteText(&buf)
					t.Errorf("problem kinds %v, want %v; report:\n%s", got, tc.want, buf.String())
				}
				if len(tc.want) == 0 && tc.from == "" && (rep.Days != 2 || rep.Rows != 1010 || rep.Files != len(files)+1) {
					t.Errorf("clean report %+v", rep)
				}
			})
		}
	}
}

// cloneableBackends are the backends of the key tests, with a way to copy a store's content.
func cloneableBackends() []struct {
	name  string
	new   func(t *testing.T) storage.Store
	clone func(t *testing.T, s storage.Store) storage.Store
} {
	return []struct {
		name  string
		new   func(t *testing.T) storage.Store
		clone func(t *testing.T, s storage.Store) storage.Store
	}{
		{"mem",
			func(t *testing.T) storage.Store { return newMemStore() },
			func(t *testing.T, s storage.Store) storage.Store {
				m := s.(*memStore)
				m.mu.Lock()
				defer m.mu.Unlock()
				return &memStore{objs: maps.Clone(m.objs), counter: m.counter}
			}},
		{"local",
			func(t *testing.T) storage.Store {
				s, err := storage.NewLocal(t.TempDir())
				must(t, err)
				return s
			},
			func(t *testing.T, s storage.Store) storage.Store {
				dir := t.TempDir()
				must(t, os.CopyFS(dir, os.DirFS(s.URL())))
				c, err := storage.NewLocal(dir)
				must(t, err)
				return c
			}},
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func getObject(t *testing.T, s storage.Store, name string) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), name)
	must(t, err)
	defer r.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(r)
	must(t, err)
	return buf.Bytes()
}

func putObject(t *testing.T, s storage.Store, name string, data []byte) {
	t.Helper()
	w, err := s.Create(context.Background(), name)
	must(t, err)
	_, err = w.Write(data)
	must(t, err)
	must(t, w.Close())
}

// writeParquet writes rows as one messages file, bypassing Publish.
func writeParquet(t *testing.T, l *Lake, s storage.Store, name string, rows []schema.Message) {
	t.Helper()
	w, err := s.Create(context.Background(), name)
	must(t, err)
	pw, err := newMessageFileWriter(w, l.opts.Allocator, len(rows), "run-x")
	must(t, err)
	must(t, pw.write(slices.Clone(rows))) // write consumes its rows
	must(t, pw.close())
	must(t, w.Close())
}

func editManifest(t *testing.T, s storage.Store, day string, edit func(*Manifest)) {
	t.Helper()
	data, v, err := s.Get(context.Background(), manifestPath(day))
	must(t, err)
	var m Manifest
	must(t, json.Unmarshal(data, &m))
	edit(&m)
	data, err = json.Marshal(&m)
	must(t, err)
	_, err = s.PutIf(context.Background(), manifestPath(day), data, v)
	must(t, err)
}

func TestReportWriteText(t *testing.T) {
	rep := &Report{Days: 2, Files: 3, Rows: 1234, Problems: []Problem{
		{Day: "2024-05-02", File: "part-00001-of-00004.parquet", Kind: ProblemMissingFile, Detail: "listed in the manifest (250 rows), not in the partition"},
		{Day: "2024-05-03", Kind: ProblemMissingDay, Detail: "no manifest"},
	}}
	var buf bytes.Buffer
	must(t, rep.WriteText(&buf))
	ok := &Report{Days: 1, Files: 1, Rows: 10}
	must(t, ok.WriteText(&buf))
	golden := filepath.Join("testdata", "report.txt")
	if *update {
		must(t, os.WriteFile(golden, buf.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	must(t, err)
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("WriteText:\n%s\nwant:\n%s", buf.Bytes(), want)
	}
	if rep.OK() || !ok.OK() {
		t.Error("OK() is wrong")
	}
}

func TestVerifyArguments(t *testing.T) {
	l := newTestLake(t, newMemStore(), Options{})
	for _, tc := range []struct{ from, to string }{
		{"2024-05-03", "2024-05-02"},
		{"2024-5-3", ""},
		{"", "tomorrow"},
	} {
		if _, err := l.Verify(context.Background(), tc.from, tc.to); err == nil {
			t.Errorf("Verify(%q, %q) accepted", tc.from, tc.to)
		}
	}
	rep, err := l.Verify(context.Background(), "", "")
	if err != nil || !rep.OK() || rep.Days != 0 {
		t.Errorf("empty lake: %+v, %v", rep, err)
	}
}

// footer returns the offset of a Parquet file's footer (its thrift FileMetaData).
func footer(t *testing.T, data []byte) int {
	t.Helper()
	if len(data) < 12 || string(data[len(data)-4:]) != "PAR1" {
		t.Fatal("not a Parquet file")
	}
	return len(data) - 8 - int(binary.LittleEndian.Uint32(data[len(data)-8:]))
}

// footerRowsPlusOne raises the file-level num_rows of a Parquet footer from rows (below 63) to
// rows+1, leaving the row groups as they are. In the thrift compact encoding num_rows is field 3
// (header 0x16, a zigzag varint), right before field 4, the row groups list (header 0x19).
func footerRowsPlusOne(t *testing.T, data []byte, rows int) []byte {
	t.Helper()
	out := bytes.Clone(data)
	pattern := []byte{0x16, byte(rows << 1), 0x19}
	at := footer(t, out)
	i := bytes.Index(out[at:], pattern)
	if i < 0 || bytes.Contains(out[at+i+1:], pattern) {
		t.Fatalf("num_rows %d not found once in the footer", rows)
	}
	out[at+i+1] = byte((rows + 1) << 1)
	return out
}

// panickingFooter returns data with the first one-byte change of its footer that makes
// file.NewParquetReader panic (the reader trusts the footer's counts).
func panickingFooter(t *testing.T, data []byte) []byte {
	t.Helper()
	panics := func(d []byte) (p bool) {
		defer func() { p = recover() != nil }()
		if r, err := file.NewParquetReader(bytes.NewReader(d)); err == nil {
			r.Close()
		}
		return false
	}
	for off := footer(t, data); off < len(data)-8; off++ {
		for _, b := range []byte{0x7f, 0x15, 0x00} {
			d := bytes.Clone(data)
			d[off] = b
			if panics(d) {
				return d
			}
		}
	}
	t.Fatal("no one-byte change of the footer makes the reader panic")
	return nil
}

// failingOpens fails every Open of a Parquet file with err.
type failingOpens struct {
	storage.Store
	err error
}

func (f failingOpens) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if strings.HasSuffix(name, ".parquet") {
		return nil, f.err
	}
	return f.Store.Open(ctx, name)
}

// TestVerifyStoreFailureIsAnError: a file the store fails to give (not a missing one) is an
// error of Verify, not a problem of the lake: the lake may be fine.
func TestVerifyStoreFailureIsAnError(t *testing.T) {
	store := newMemStore()
	publish(t, newTestLake(t, store, Options{}), []string{"2024-05-03"}, "run-1", testDay("2024-05-03", 0, 10))
	errDown := errors.New("store is down")
	rep, err := newTestLake(t, failingOpens{store, errDown}, Options{}).Verify(context.Background(), "", "")
	if !errors.Is(err, errDown) {
		t.Fatalf("error %v, want the store's; report %+v", err, rep)
	}
	if rep != nil && len(rep.Problems) > 0 {
		t.Fatalf("a store failure reported as problems of the lake: %+v", rep.Problems)
	}
}

// TestVerifyOwedUsers: every user the state owes rows of a checked day is an owed-user problem
// that names it and its days (past maxOwedProblems, one more line counts the rest and their
// days); owed users of days outside the range are not problems of that range.
func TestVerifyOwedUsers(t *testing.T) {
	store := newMemStore()
	l := newTestLake(t, store, Options{})
	publish(t, l, []string{"2024-05-03"}, "run-1", testDay("2024-05-03", 0, 10))
	owed := map[string]any{
		"alice": map[string]any{"from": "2024-05-01", "to": "2024-05-07", "attempts": 2},
		"bob":   map[string]any{"from": "2024-06-01", "to": "2024-06-02", "attempts": 1},
	}
	for i := range maxOwedProblems + 2 {
		owed[fmt.Sprintf("many-%02d", i)] = map[string]any{"from": "2024-07-01", "to": fmt.Sprintf("2024-07-%02d", 10+i), "attempts": 1}
	}
	data, err := json.Marshal(map[string]any{"format": 2, "owed": owed})
	must(t, err)
	putObject(t, store, StatePath, data)
	for _, tc := range []struct {
		name, from, to string
		want           []string // in the details, in order
	}{
		{"both in range", "2024-05-07", "2024-06-01", []string{"user alice is owed 2024-05-01..2024-05-07 (2 failed attempt(s))", "user bob is owed 2024-06-01..2024-06-02"}},
		{"before every owed day", "2024-04-01", "2024-04-30", nil},
		{"between owed ranges", "2024-05-08", "2024-05-31", nil},
		{"past the cap", "2024-07-01", "", append(func() (out []string) {
			for i := range maxOwedProblems {
				out = append(out, fmt.Sprintf("user many-%02d is owed 2024-07-01..2024-07-%02d", i, 10+i))
			}
			return out
		}(), "and 2 more owed users, of days in 2024-07-01..2024-07-21")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := l.Verify(context.Background(), tc.from, tc.to)
			must(t, err)
			var got []string
			for _, p := range rep.Problems {
				if p.Kind == ProblemOwedUser {
					if p.File != StatePath || p.Day != "" {
						t.Errorf("problem %+v: want it of %s", p, StatePath)
					}
					got = append(got, p.Detail)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("owed-user problems %q, want %d like %q", got, len(tc.want), tc.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("problem %d: %q, want it to start %q", i, got[i], tc.want[i])
				}
			}
			if len(tc.want) > 0 && rep.OK() {
				t.Errorf("OK() with owed users: %+v", rep.Problems)
			}
		})
	}
}
