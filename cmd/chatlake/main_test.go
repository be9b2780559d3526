package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/sim"
)

// childBinary is chatlake built without the race detector for the child-process tests (crashes,
// kills, shards): a race-instrumented child is many times slower, and what these tests check
// (the lake after real kills) is not what the race detector looks at; the in-process tests
// run under it. Empty until TestMain built it.
var childBinary string

// TestMain builds the child binary once, then runs the tests. With CHATLAKE_BE_MAIN=1 the test
// binary runs main instead (the fallback when the build is not possible).
func TestMain(m *testing.M) {
	if os.Getenv("CHATLAKE_BE_MAIN") == "1" {
		main()
		return
	}
	dir, err := os.MkdirTemp("", "chatlake-bin-")
	if err == nil {
		bin := filepath.Join(dir, "chatlake")
		build := exec.Command("go", "build", "-o", bin, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err == nil {
			childBinary = bin
		} else {
			fmt.Fprintf(os.Stderr, "building the child binary failed, children run the test binary: %v\n%s", err, out)
		}
	}
	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// child is chatlake as a separate process.
func child(ctx context.Context, env []string, args ...string) *exec.Cmd {
	if childBinary != "" {
		cmd := exec.CommandContext(ctx, childBinary, args...)
		cmd.Env = append(os.Environ(), env...)
		return cmd
	}
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "CHATLAKE_BE_MAIN=1"), env...)
	return cmd
}

// testSim serves the simulator over loopback HTTP for the command under test.
type testSim struct {
	*sim.Server
	opts sim.Options
	url  string
}

func startSim(t *testing.T, seed int64, users int, mod func(*sim.Options)) *testSim {
	t.Helper()
	o := sim.DefaultOptions()
	o.Seed, o.Users = seed, users
	o.From = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	o.To = time.Date(2024, 5, 8, 0, 0, 0, 0, time.UTC)
	if mod != nil {
		mod(&o)
	}
	s, err := sim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &testSim{Server: s, opts: o, url: ts.URL}
}

// exportArgs are the flags of an export of the simulator's first week into lake.
func (s *testSim) exportArgs(cmd, lake string, extra ...string) []string {
	args := []string{cmd, "--api-url", s.url, "--customer", s.opts.CustomerID, "--bot", s.opts.BotKey, "--lake", lake, "--rate", "1000"}
	for _, sel := range s.Selectors() {
		args = append(args, "--users-where", sel.String())
	}
	if cmd != "run" {
		args = append(args, "--from", "2024-05-01", "--to", "2024-05-07")
	}
	return append(args, extra...)
}

// runCmd runs chatlake in-process and returns its exit code, stdout and stderr.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	code := exitCode(err, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			code, out, _ := runCmd(t, c.name, "--help")
			if code != exitOK {
				t.Fatalf("%s --help exits %d", c.name, code)
			}
			if !strings.Contains(out, "Usage: chatlake "+c.name) {
				t.Fatalf("%s --help does not show its usage:\n%s", c.name, out)
			}
			// Every flag line from PrintDefaults is followed by its help text.
			lines := strings.Split(out, "\n")
			flags := 0
			for i, l := range lines {
				if strings.HasPrefix(strings.TrimSpace(l), "-") && strings.HasPrefix(l, "  -") {
					flags++
					help := strings.TrimSpace(strings.TrimPrefix(l, "  "))
					hasInline := strings.Contains(help, "\t") || strings.Count(help, " ") > 1
					next := ""
					if i+1 < len(lines) {
						next = strings.TrimSpace(lines[i+1])
					}
					if !hasInline && (next == "" || strings.HasPrefix(next, "-")) {
						t.Errorf("flag line %q has no help text", l)
					}
				}
			}
			if flags == 0 {
				t.Errorf("%s --help lists no flags", c.name)
			}
		})
	}
	code, out, _ := runCmd(t, "help")
	if code != exitOK || !strings.Contains(out, "Exit codes") {
		t.Fatalf("chatlake help: exit %d\n%s", code, out)
	}
}

// TestBadInput: each wrong command line is a one-line error naming the input, exit 2, and
// nothing written.
func TestBadInput(t *testing.T) {
	s := startSim(t, 1, 5, nil)
	t.Setenv(apiKeyEnv, s.opts.APIKey)
	lake := t.TempDir()
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().UTC().AddDate(0, 0, 3).Format("2006-01-02")
	today := time.Now().UTC().Format("2006-01-02")
	base := func(cmd string, extra ...string) []string {
		args := []string{cmd, "--api-url", s.url, "--customer", s.opts.CustomerID, "--bot", s.opts.BotKey,
			"--lake", lake, "--users-where", "feedback=1"}
		return append(args, extra...)
	}
	cases := []struct {
		name string
		args []string
		want string // in the one-line error
	}{
		{"no command", nil, "no command"},
		{"unknown command", []string{"exprot"}, `unknown command "exprot"`},
		{"unknown flag", base("export", "--form", "2024-05-01"), "-form"},
		{"to before from", base("export", "--from", "2024-05-05", "--to", "2024-05-01"), "--to 2024-05-01 is before --from 2024-05-05"},
		{"not a date", base("export", "--from", "2024-13-01", "--to", "2024-05-01"), `"2024-13-01" is not a date`},
		{"future range", base("export", "--from", "2024-05-01", "--to", future), "not a closed day"},
		{"open day", base("backfill", "--from", "2024-05-01", "--to", today), "not a closed day"},
		{"missing flags", []string{"export", "--lake", lake}, "missing required flag(s): --api-url, --customer, --bot, --users-where, --from, --to"},
		{"bad selector", base("export", "--users-where", "novalue", "--from", "2024-05-01", "--to", "2024-05-02"), "novalue"},
		{"bad bot key", []string{"export", "--api-url", s.url, "--customer", "1001", "--bot", "xyz", "--lake", lake,
			"--users-where", "a=b", "--from", "2024-05-01", "--to", "2024-05-02"}, `--bot: must be 16 hex characters, got "xyz"`},
		{"no state, no --from", base("run"), "needs --from"},
		{"lake is a file", append(base("export", "--from", "2024-05-01", "--to", "2024-05-02")[:0:0],
			"export", "--api-url", s.url, "--customer", "1001", "--bot", s.opts.BotKey, "--lake", notDir,
			"--users-where", "a=b", "--from", "2024-05-01", "--to", "2024-05-02"), notDir},
		{"lake URL scheme", []string{"verify", "--lake", "hdfs://bucket/x"}, "hdfs://bucket/x"},
		{"stray argument", []string{"status", "--lake", lake, "extra"}, `unexpected argument "extra"`},
		{"bad log format", base("export", "--from", "2024-05-01", "--to", "2024-05-02", "--log-format", "xml"), "--log-format"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, tc.args...)
			if code != exitBadInput {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitBadInput, stderr)
			}
			last := lastLine(stderr)
			if !strings.HasPrefix(last, "chatlake: ") || !strings.Contains(last, tc.want) {
				t.Fatalf("error line %q does not contain %q", last, tc.want)
			}
		})
	}
	if entries, _ := os.ReadDir(lake); len(entries) != 0 {
		t.Fatalf("bad input wrote into the lake: %v", entries)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// TestAPIErrorsExit: the API's refusals stop the run with a plain one-line message and exit 1,
// and the key appears nowhere. (A wrong bot key, the user's input, is exit 2: TestBadInputLeavesNoLake.)
func TestAPIErrorsExit(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*sim.Options)
		key  string
		bot  string
		want string
	}{
		{"wrong key", nil, "0000dead-beef-4000-8000-00000000cafe-wrongkey", "", "API key rejected"},
		{"forbidden", func(o *sim.Options) { o.Faults.Forbidden = true }, "", "", "403"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startSim(t, 1, 5, tc.mod)
			key := s.opts.APIKey
			if tc.key != "" {
				key = tc.key
			}
			t.Setenv(apiKeyEnv, key)
			args := s.exportArgs("export", t.TempDir(), "--log-format", "json")
			if tc.bot != "" {
				for i := range args {
					if args[i] == s.opts.BotKey {
						args[i] = tc.bot
					}
				}
			}
			code, stdout, stderr := runCmd(t, args...)
			if code != exitFailed {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitFailed, stderr)
			}
			if last := lastLine(stderr); !strings.Contains(last, tc.want) {
				t.Fatalf("error line %q does not say %q", last, tc.want)
			}
			if strings.Contains(stdout+stderr, key) {
				t.Fatal("the API key appears in the output")
			}
		})
	}
}

// TestKeyNeverWritten runs a whole export, with retries and a skipped user, and searches every
// log line, the summary, the error and every file of the lake for the key.
func TestKeyNeverWritten(t *testing.T) {
	s := startSim(t, 4, 12, func(o *sim.Options) {
		o.Faults.P5xx, o.Faults.PCutOff = 0.1, 0.05
		probe, _ := sim.New(*o)
		o.Faults.InvalidUsers = probe.UserIDs(nil)[:1]
	})
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(s.opts.APIKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(apiKeyEnv, "")
	lake := t.TempDir()
	code, stdout, stderr := runCmd(t, s.exportArgs("export", lake, "--api-key-file", keyFile, "--log-format", "json")...)
	if code != exitFailed || !strings.Contains(lastLine(stderr), "skipped") {
		t.Fatalf("exit %d, want %d for a skipped user; stderr tail: %s", code, exitFailed, lastLine(stderr))
	}
	if !strings.Contains(stderr, `"msg":"summary"`) {
		t.Fatal("no JSON summary line was logged")
	}
	secret := []byte(s.opts.APIKey)
	if bytes.Contains([]byte(stdout+stderr), secret) {
		t.Fatal("the API key appears in the output")
	}
	files := 0
	err := filepath.WalkDir(lake, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, secret) {
			return errors.New(path + " holds the API key")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("the export wrote no file: nothing was searched")
	}
	// Parquet pages are compressed: search every row's values as DuckDB reads them.
	db := lakecheck.Open(t)
	for _, table := range []string{"messages", "users"} {
		glob := filepath.ToSlash(filepath.Join(lake, table)) + "/*/*.parquet"
		var rows, hits int
		q := "SELECT count(*), count(*) FILTER (WHERE contains(CAST(t AS VARCHAR), ?)) FROM read_parquet('" + glob + "', hive_partitioning = true) AS t"
		if err := db.QueryRow(q, s.opts.APIKey).Scan(&rows, &hits); err != nil {
			t.Fatal(err)
		}
		if rows == 0 || hits != 0 {
			t.Fatalf("%s: %d rows, %d holding the key", table, rows, hits)
		}
	}
}

// TestProtocolErrorsStopTheRun: 1003 (bad dates) and 1004 (bad page number) are bugs of the
// client, not of a user: the run stops at once with the API's code, the window, and exit 1.
func TestProtocolErrorsStopTheRun(t *testing.T) {
	for _, tc := range []struct {
		code int
		desc string
	}{{1003, "INVALID_INPUT_DATE_VALUE"}, {1004, "INVALID_PAGE_NUMBER"}} {
		t.Run(tc.desc, func(t *testing.T) {
			s := startSim(t, 2, 6, func(o *sim.Options) { o.Faults.RejectConversations = tc.code })
			t.Setenv(apiKeyEnv, s.opts.APIKey)
			args := s.exportArgs("export", t.TempDir(), "--parallel-batches", "1", "--concurrency", "1", "--log-format", "json")
			code, _, stderr := runCmd(t, args...)
			if code != exitFailed {
				t.Fatalf("exit %d, want %d", code, exitFailed)
			}
			last := lastLine(stderr)
			if !strings.Contains(last, fmt.Sprint(tc.code)) || !strings.Contains(last, "2024-05-01") {
				t.Fatalf("error line %q does not name the code and the window", last)
			}
			if n := s.Stats().ByEndpoint[sim.EndpointConversations]; n != 1 {
				t.Fatalf("%d conversations requests after a %d: the run went on", n, tc.code)
			}
		})
	}
}
