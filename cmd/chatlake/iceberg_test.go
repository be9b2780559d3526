package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"

	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/sim"
)

// icebergLake reads a local Iceberg lake back independently of the code that wrote it: the
// catalog's SQLite file and the table metadata with Python (read_snapshot.py, python3-avro),
// the data files with DuckDB.
type icebergLake struct{ dir string }

func (l icebergLake) metadata(t *testing.T, table string) string {
	t.Helper()
	loc := lakecheck.MetadataLocation(t, filepath.Join(l.dir, filepath.FromSlash(load.CatalogPath)), table)
	if loc == "" {
		t.Fatalf("no table %s in the lake's catalog", table)
	}
	return loc
}

// current is the messages table's current snapshot.
func (l icebergLake) current(t *testing.T) lakecheck.Snapshot {
	t.Helper()
	return lakecheck.ReadSnapshot(t, l.metadata(t, "messages"))
}

// rows reads the rows of a snapshot's files; a file listed twice fails the test.
func rows(t *testing.T, s lakecheck.Snapshot) []lakecheck.Row {
	t.Helper()
	seen := map[string]bool{}
	for _, f := range s.Files {
		if seen[f.Path] {
			t.Fatalf("snapshot %v lists data file %s twice", s.ID, f.Path)
		}
		seen[f.Path] = true
	}
	got, err := lakecheck.ReadFiles(context.Background(), lakecheck.Open(t), s.Files)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestIcebergLake(t *testing.T) {
	s := startSim(t, 21, 30, nil)
	truth := s.Truth(nil, s.opts.From, s.opts.To, s.opts.To.AddDate(1, 0, 0))
	env := []string{apiKeyEnv + "=" + s.opts.APIKey}
	dir := t.TempDir()
	lake := icebergLake{dir}
	args := s.exportArgs("backfill", dir, "--table-format", "iceberg", "--log-format", "json")
	if code, stderr := runChild(t, env, args...); code != exitOK {
		t.Fatalf("backfill exits %d: %s", code, lastLine(stderr))
	}
	cur := lake.current(t)
	if diff := lakecheck.Compare(rows(t, cur), truth); diff != "" {
		t.Fatal(diff)
	}
	if n := len(lakecheck.ReadSnapshots(t, lake.metadata(t, "messages"))); n != 1 {
		t.Errorf("a backfill of 7 days made %d snapshots, want 1", n)
	}
	if cur.Summary[load.SnapshotPlan] == "" {
		t.Errorf("the snapshot's summary names no plan: %v", cur.Summary)
	}
	users := lakecheck.ReadSnapshot(t, lake.metadata(t, "users"))
	var listed int64
	for _, f := range users.Files {
		listed += f.Rows
	}
	if listed != int64(len(s.UserIDs(nil))) {
		t.Errorf("the users table holds %d rows, want %d", listed, len(s.UserIDs(nil)))
	}

	// verify reads the current snapshot; status shows it.
	if code, out := runChild(t, nil, "verify", "--lake", dir); code != exitOK {
		t.Fatalf("verify exits %d: %s", code, out)
	}
	// ... and neither creates a catalog: another --catalog is bad input, not an empty lake.
	other := filepath.Join(t.TempDir(), "other.db")
	if code, out := runChild(t, nil, "verify", "--lake", dir, "--catalog", "sqlite:"+other); code != exitBadInput || !strings.Contains(lastLine(out), "--catalog sqlite:"+other) {
		t.Errorf("verify with another catalog exits %d: %s", code, lastLine(out))
	}
	if _, err := os.Stat(other); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("verify created the catalog it was given (%v)", err)
	}
	code, stdout, stderr := runCmd(t, "status", "--lake", dir, "--json")
	if code != exitOK {
		t.Fatalf("status exits %d: %s", code, stderr)
	}
	var st statusReport
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatal(err)
	}
	if st.TableFormat != load.TableFormatIceberg || cur.ID == nil || st.Snapshots["messages"].ID != *cur.ID {
		t.Errorf("status says format %q snapshots %+v; the metadata's current snapshot is %v", st.TableFormat, st.Snapshots, cur.ID)
	}

	// The same backfill again: one more snapshot, the same rows.
	if code, stderr := runChild(t, env, append(args, "--restart")...); code != exitOK {
		t.Fatalf("second backfill exits %d: %s", code, lastLine(stderr))
	}
	if diff := lakecheck.Compare(rows(t, lake.current(t)), truth); diff != "" {
		t.Fatal(diff)
	}
	if n := len(lakecheck.ReadSnapshots(t, lake.metadata(t, "messages"))); n != 2 {
		t.Errorf("two backfills made %d snapshots, want 2", n)
	}

	// Another table format on this lake is bad input, and writes nothing.
	before := treeOf(t, dir)
	for _, format := range []string{"hive", ""} {
		a := s.exportArgs("backfill", dir, "--log-format", "json")
		if format != "" {
			a = append(a, "--table-format", format)
		}
		code, stderr := runChild(t, env, a...)
		if code != exitBadInput || !strings.Contains(lastLine(stderr), "--table-format") {
			t.Errorf("a %q run on an Iceberg lake exits %d: %s", format, code, lastLine(stderr))
		}
	}
	if after := treeOf(t, dir); !slices.Equal(before, after) {
		t.Errorf("a refused run changed the lake")
	}

	// forget: the user's rows leave the current snapshot, and no snapshot left references a
	// file holding them.
	gone := truth[0].ChannelUserID
	if code, stderr := runChild(t, nil, "forget", "--lake", dir, "--user", gone, "--log-format", "json"); code != exitOK {
		t.Fatalf("forget exits %d: %s", code, lastLine(stderr))
	}
	var kept []sim.Message
	for _, m := range truth {
		if m.ChannelUserID != gone {
			kept = append(kept, m)
		}
	}
	if diff := lakecheck.Compare(rows(t, lake.current(t)), kept); diff != "" {
		t.Fatal(diff)
	}
	for _, table := range []string{"messages", "users"} {
		snaps := lakecheck.ReadSnapshots(t, lake.metadata(t, table))
		if len(snaps) != 1 {
			t.Errorf("%s: %d snapshots after forget, want 1 (time travel must not keep erased rows)", table, len(snaps))
		}
		for _, sn := range snaps {
			for _, f := range sn.Files {
				if holds(t, f.Path, gone) {
					t.Errorf("%s snapshot %v references %s, which holds the erased user", table, sn.ID, f.Path)
				}
			}
		}
	}
	// Nor does any file left in the lake's directory.
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".parquet") && holds(t, "file://"+path, gone) {
			t.Errorf("%s holds the erased user", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// holds reports whether the Parquet file at uri has a row of user.
func holds(t *testing.T, uri, user string) bool {
	t.Helper()
	var n int
	path := strings.TrimPrefix(uri, "file://")
	q := fmt.Sprintf("SELECT count(*) FROM read_parquet('%s') WHERE channel_user_id = '%s'", path, user)
	if err := lakecheck.Open(t).QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func TestIcebergNeedsANewLake(t *testing.T) {
	s := startSim(t, 22, 5, nil)
	env := []string{apiKeyEnv + "=" + s.opts.APIKey}
	dir := t.TempDir()
	if code, stderr := runChild(t, env, s.exportArgs("backfill", dir, "--log-format", "json")...); code != exitOK {
		t.Fatalf("backfill exits %d: %s", code, lastLine(stderr))
	}
	before := treeOf(t, dir)
	code, stderr := runChild(t, env, s.exportArgs("backfill", dir, "--table-format", "iceberg", "--log-format", "json")...)
	if code != exitBadInput || !strings.Contains(lastLine(stderr), "--table-format iceberg") {
		t.Errorf("an Iceberg run on a Hive lake exits %d: %s", code, lastLine(stderr))
	}
	if !slices.Equal(before, treeOf(t, dir)) {
		t.Error("the refused run changed the lake")
	}
}

// killOnLine starts chatlake and kills it with SIGKILL d after it logs a line containing
// marker. It reports whether the child was killed (false: it ended first).
func killOnLine(t *testing.T, env []string, marker string, d time.Duration, args ...string) bool {
	t.Helper()
	cmd := child(context.Background(), env, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	seen := make(chan struct{})
	var once sync.Once
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), marker) {
				once.Do(func() { close(seen) })
			}
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return false
	case <-seen:
	}
	select {
	case <-done:
		return false
	case <-time.After(d):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return true
	}
}

// TestIcebergKilledPublishing kills a publisher five times while it publishes a backfill over a
// lake that holds an older one: after every kill the table's current snapshot holds the old
// run or the whole new one, never part of it, and the rerun converges to the truth.
func TestIcebergKilledPublishing(t *testing.T) {
	s := startSim(t, 23, 40, nil)
	dir := t.TempDir()
	lake := icebergLake{dir}
	killPublishing(t, s, dir, nil, nil, func(t *testing.T) []lakecheck.Row { return rows(t, lake.current(t)) })
}

// killPublishing backfills the simulator's first three days into the Iceberg lake at url, then
// kills a backfill of the whole week five times while it publishes: after each kill the current
// snapshot (current) is the old run or the whole new one; the rerun converges to the truth and
// verify passes. env and extra are the lake's environment and flags (a cloud lake's catalog).
func killPublishing(t *testing.T, s *testSim, url string, env, extra []string, current func(*testing.T) []lakecheck.Row) {
	t.Helper()
	env = append([]string{apiKeyEnv + "=" + s.opts.APIKey}, env...)
	base := append([]string{"--table-format", "iceberg", "--log-format", "json", "--target-file-size", "1MiB"}, extra...)
	old := replaceFlag(t, s.exportArgs("backfill", url, base...), "--to", "2024-05-03")
	if code, stderr := runChild(t, env, old...); code != exitOK {
		t.Fatalf("first backfill exits %d: %s", code, lastLine(stderr))
	}
	newTruth := s.Truth(nil, s.opts.From, s.opts.To, s.opts.To.AddDate(1, 0, 0))
	oldTruth := s.Truth(nil, s.opts.From, time.Date(2024, 5, 4, 0, 0, 0, 0, time.UTC), s.opts.To.AddDate(1, 0, 0))
	if diff := lakecheck.Compare(current(t), oldTruth); diff != "" {
		t.Fatal(diff)
	}

	args := s.exportArgs("backfill", url, base...)
	delays := []time.Duration{0, 20 * time.Millisecond, 60 * time.Millisecond, 150 * time.Millisecond, 400 * time.Millisecond}
	var olds, news int
	for i, d := range delays {
		killed := killOnLine(t, env, `"msg":"publishing"`, d, args...)
		t.Logf("kill %d, %s after publishing began: killed %v", i+1, d, killed)
		got := current(t)
		switch {
		case lakecheck.Compare(got, oldTruth) == "":
			olds++
		case lakecheck.Compare(got, newTruth) == "":
			news++
		default:
			t.Fatalf("after kill %d the current snapshot is neither the old run nor the new one: %s", i+1, lakecheck.Compare(got, newTruth))
		}
	}
	t.Logf("after the kills: %d times the old run, %d times the new one", olds, news)
	if olds == 0 {
		t.Error("no kill landed before the commit: the test proves nothing; publish slower or kill sooner")
	}
	if code, stderr := runChild(t, env, args...); code != exitOK {
		t.Fatalf("the rerun exits %d: %s", code, lastLine(stderr))
	}
	if diff := lakecheck.Compare(current(t), newTruth); diff != "" {
		t.Fatal(diff)
	}
	if code, out := runChild(t, env, "verify", "--lake", url); code != exitOK {
		t.Fatalf("verify exits %d: %s", code, lastLine(out))
	}
}

// TestIcebergShardsAndOverlaps: two shards share a run into one commit, and of two overlapping
// runs one exports and the other exits 3, as on a Hive lake.
func TestIcebergShardsAndOverlaps(t *testing.T) {
	s := startSim(t, 24, 40, func(o *sim.Options) { o.Faults.Latency = 3 * time.Millisecond })
	truth := s.Truth(nil, s.opts.From, s.opts.To, s.opts.To.AddDate(1, 0, 0))
	env := []string{apiKeyEnv + "=" + s.opts.APIKey}

	t.Run("two shards", func(t *testing.T) {
		dir := t.TempDir()
		args := s.exportArgs("backfill", dir, "--table-format", "iceberg", "--batch-size", "5", "--log-format", "json")
		var wg sync.WaitGroup
		codes, outs := make([]int, 2), make([]string, 2)
		for i := range 2 {
			wg.Go(func() {
				codes[i], outs[i] = runChild(t, append(slices.Clone(env), fmt.Sprintf("%s=%d", envCloudRunIndex, i), envCloudRunCount+"=2"), args...)
			})
		}
		wg.Wait()
		for i, c := range codes {
			if c != exitOK {
				t.Fatalf("shard %d exits %d: %s", i, c, lastLine(outs[i]))
			}
		}
		lake := icebergLake{dir}
		if diff := lakecheck.Compare(rows(t, lake.current(t)), truth); diff != "" {
			t.Fatal(diff)
		}
		if n := len(lakecheck.ReadSnapshots(t, lake.metadata(t, "messages"))); n != 1 {
			t.Errorf("two shards made %d snapshots, want 1", n)
		}
	})
	t.Run("overlapping runs", func(t *testing.T) {
		dir := t.TempDir()
		args := s.exportArgs("backfill", dir, "--table-format", "iceberg", "--log-format", "json")
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i := range 2 {
			wg.Go(func() { codes[i], _ = runChild(t, env, args...) })
		}
		wg.Wait()
		slices.Sort(codes)
		if !slices.Equal(codes, []int{exitOK, exitLocked}) {
			t.Fatalf("exit codes %v, want one %d and one %d", codes, exitOK, exitLocked)
		}
		if diff := lakecheck.Compare(rows(t, icebergLake{dir}.current(t)), truth); diff != "" {
			t.Fatal(diff)
		}
	})
}

// TestIcebergBadInput: a catalog chatlake cannot open, and Iceberg tables on a cloud store (not
// built yet), are bad input: exit 2 naming the flag, nothing written, no password shown.
func TestIcebergBadInput(t *testing.T) {
	s := startSim(t, 23, 3, nil)
	const secret = "s3cr3t-catalog-pw"
	t.Run("flags", func(t *testing.T) {
		for _, tc := range []struct{ flag, value string }{
			{"--table-format", "delta"},
			{"--snapshot-retention", "0s"},
			{"--snapshot-retention", "20000d"},
		} {
			dir := filepath.Join(t.TempDir(), "lake")
			env := []string{apiKeyEnv + "=" + s.opts.APIKey}
			args := append(s.exportArgs("backfill", dir, "--log-format", "json"), tc.flag, tc.value)
			if tc.flag != "--table-format" {
				args = append(args, "--table-format", "iceberg")
			}
			code, stderr := runChild(t, env, args...)
			if code != exitBadInput || !strings.Contains(lastLine(stderr), tc.flag) {
				t.Errorf("%s %s: exit %d: %s", tc.flag, tc.value, code, lastLine(stderr))
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s %s: the refused run left the lake directory (%v)", tc.flag, tc.value, err)
			}
		}
	})
	t.Run("catalog", func(t *testing.T) {
		for _, catalog := range []string{"https://u:" + secret + "@polaris.example/api", "postgres://u:" + secret + "@db:port/x", "sqlite:"} {
			dir := filepath.Join(t.TempDir(), "lake")
			env := []string{apiKeyEnv + "=" + s.opts.APIKey}
			code, stderr := runChild(t, env, s.exportArgs("backfill", dir, "--table-format", "iceberg", "--catalog", catalog, "--log-format", "json")...)
			if code != exitBadInput || !strings.Contains(lastLine(stderr), "--catalog") {
				t.Errorf("--catalog %s: exit %d: %s", catalog, code, lastLine(stderr))
			}
			if strings.Contains(stderr, secret) {
				t.Errorf("--catalog %s: stderr shows the password: %s", catalog, stderr)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("--catalog %s: the refused run left the lake directory (%v)", catalog, err)
			}
		}
	})
	t.Run("cloud store without --catalog", func(t *testing.T) {
		lake := gcsCrashLake(t)
		env := append([]string{apiKeyEnv + "=" + s.opts.APIKey}, lake.env...)
		code, stderr := runChild(t, env, s.exportArgs("backfill", lake.url, "--table-format", "iceberg", "--log-format", "json")...)
		if code != exitBadInput || !strings.Contains(lastLine(stderr), "--catalog") {
			t.Errorf("exit %d: %s", code, lastLine(stderr))
		}
		objs, err := lake.store.List(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) > 0 {
			t.Errorf("the refused run wrote %d objects, first %s", len(objs), objs[0].Name)
		}
	})
}

// TestIcebergDemo: `chatlake demo --table-format iceberg` commits the simulator's truth in one
// snapshot and prints the iceberg_scan of the messages table's current metadata file.
func TestIcebergDemo(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	code, stdout, stderr := runCmd(t, "demo", "--table-format", "iceberg")
	if code != exitOK {
		t.Fatalf("demo exits %d:\n%s\n%s", code, stdout, stderr)
	}
	lake := icebergLake{filepath.Join(dir, "lake")}
	loc := lake.metadata(t, "messages")
	if !strings.Contains(stdout, "iceberg_scan('"+loc+"')") {
		t.Errorf("the demo does not print an iceberg_scan of the current metadata file %s:\n%s", loc, stdout)
	}
	o := sim.DefaultOptions()
	s, err := sim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if diff := lakecheck.Compare(rows(t, lake.current(t)), s.Truth(nil, o.From, o.To, o.To.AddDate(1, 0, 0))); diff != "" {
		t.Fatal(diff)
	}
	if n := len(lakecheck.ReadSnapshots(t, loc)); n != 1 {
		t.Errorf("the demo made %d snapshots of the messages table, want 1", n)
	}
}

// TestIcebergPseudonymizedAndOwed: on a pseudonymised Iceberg lake a user whose conversations
// fail is owed (exit 1, the rest committed), the next run pays it in a commit of its own, and
// the current snapshot is the truth under pseudonyms; no file or log holds a raw id; forget by
// the raw id leaves no snapshot that holds the user.
func TestIcebergPseudonymizedAndOwed(t *testing.T) {
	s := startSim(t, 24, 12, nil)
	truth := s.Truth(nil, s.opts.From, s.opts.To, s.opts.To.AddDate(1, 0, 0))
	victim := truth[len(truth)-1].ChannelUserID
	var failing atomic.Bool
	failing.Store(true)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() && strings.Contains(r.URL.EscapedPath(), "/channel-user/"+url.PathEscape(victim)+"/") {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	t.Setenv(apiKeyEnv, s.opts.APIKey)
	t.Setenv(pseudonymKeyEnv, "")
	keyFile := filepath.Join(t.TempDir(), "pseudonym.key")
	if err := os.WriteFile(keyFile, []byte(testPseudonymKey), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lake := icebergLake{dir}
	args := replaceFlag(t, s.exportArgs("backfill", dir, "--table-format", "iceberg", "--max-attempts", "2",
		"--log-format", "json", "--pseudonymize", "--pseudonym-key-file", keyFile), "--api-url", proxy.URL)
	pv := hmacHex(testPseudonymKey, victim)
	secrets := secretsOf(t, s)
	db := lakecheck.Open(t)

	code, _, logs := runCmd(t, args...)
	if code != exitFailed || !strings.Contains(lastLine(logs), pv) {
		t.Fatalf("first run: exit %d, %q: want 1 naming %s", code, lastLine(logs), pv)
	}
	mapped := func(without string) []sim.Message {
		var out []sim.Message
		for _, m := range truth {
			if m.ChannelUserID != without {
				m.ChannelUserID = hmacHex(testPseudonymKey, m.ChannelUserID)
				out = append(out, m)
			}
		}
		return out
	}
	if diff := lakecheck.Compare(rows(t, lake.current(t)), mapped(victim)); diff != "" {
		t.Fatalf("after the first run: %s", diff)
	}

	failing.Store(false)
	code, _, more := runCmd(t, args...)
	if code != exitOK {
		t.Fatalf("second run: exit %d, %s", code, lastLine(more))
	}
	logs += more
	if diff := lakecheck.Compare(rows(t, lake.current(t)), mapped("")); diff != "" {
		t.Fatalf("after the second run: %s", diff)
	}
	if n := len(lakecheck.ReadSnapshots(t, lake.metadata(t, "messages"))); n != 2 {
		t.Errorf("two runs made %d snapshots, want 2", n)
	}
	assertNoSecrets(t, db, dir, logs, secrets)

	if code, _, stderr := runCmd(t, "forget", "--lake", dir, "--user", victim, "--pseudonymize", "--pseudonym-key-file", keyFile, "--log-format", "json"); code != exitOK {
		t.Fatalf("forget exits %d: %s", code, lastLine(stderr))
	}
	if diff := lakecheck.Compare(rows(t, lake.current(t)), mapped(victim)); diff != "" {
		t.Fatalf("after forget: %s", diff)
	}
	for _, sn := range lakecheck.ReadSnapshots(t, lake.metadata(t, "messages")) {
		for _, f := range sn.Files {
			if holds(t, f.Path, pv) {
				t.Errorf("snapshot %v references %s, which holds the erased user", sn.ID, f.Path)
			}
		}
	}
}

// TestIcebergCatalogOfTheLake: the lake's mode record names its catalog (without a password),
// so publish, forget, status and verify find a catalog outside the lake without --catalog; an
// export with another --catalog is bad input and changes nothing.
func TestIcebergCatalogOfTheLake(t *testing.T) {
	s := startSim(t, 25, 6, nil)
	env := []string{apiKeyEnv + "=" + s.opts.APIKey}
	dir := t.TempDir()
	catalog := "sqlite:" + filepath.Join(t.TempDir(), "cat", "catalog.db")
	if code, stderr := runChild(t, env, s.exportArgs("backfill", dir, "--table-format", "iceberg", "--catalog", catalog, "--log-format", "json")...); code != exitOK {
		t.Fatalf("backfill exits %d: %s", code, lastLine(stderr))
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(load.CatalogPath))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the lake has a catalog of its own besides --catalog (%v)", err)
	}
	for _, args := range [][]string{{"verify", "--lake", dir}, {"status", "--lake", dir}} {
		if code, out := runChild(t, nil, args...); code != exitOK {
			t.Errorf("%s without --catalog exits %d: %s", args[0], code, lastLine(out))
		}
	}
	before := treeOf(t, dir)
	other := filepath.Join(t.TempDir(), "other.db")
	code, stderr := runChild(t, env, s.exportArgs("backfill", dir, "--table-format", "iceberg", "--catalog", "sqlite:"+other, "--log-format", "json")...)
	if code != exitBadInput || !strings.Contains(lastLine(stderr), "--catalog sqlite:"+other) {
		t.Errorf("a backfill with another catalog exits %d: %s", code, lastLine(stderr))
	}
	if _, err := os.Stat(other); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused backfill created its catalog (%v)", err)
	}
	if !slices.Equal(before, treeOf(t, dir)) {
		t.Error("the refused backfill changed the lake")
	}
	gone := s.Truth(nil, s.opts.From, s.opts.To, s.opts.To.AddDate(1, 0, 0))[0].ChannelUserID
	if code, out := runChild(t, nil, "forget", "--lake", dir, "--user", gone, "--log-format", "json"); code != exitOK {
		t.Fatalf("forget without --catalog exits %d: %s", code, lastLine(out))
	}
	loc := lakecheck.MetadataLocation(t, strings.TrimPrefix(catalog, "sqlite:"), "messages")
	for _, f := range lakecheck.ReadSnapshot(t, loc).Files {
		if holds(t, f.Path, gone) {
			t.Errorf("after forget, %s still holds the erased user", f.Path)
		}
	}
}
