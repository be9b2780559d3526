package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/sim"
)

// TestFirstRunFailuresLeaveNoLake: a first run into a lake that does not exist yet, refused
// (exit 2) or stopped by the API before any data is exported (exit 1), names what is wrong and
// leaves no lake: no state, no lock, no plan, no users table, and not the directory that opening
// a new local lake made.
func TestFirstRunFailuresLeaveNoLake(t *testing.T) {
	s := startSim(t, 3, 5, nil)
	forbidden := startSim(t, 3, 5, func(o *sim.Options) { o.Faults.Forbidden = true })
	notFound := httptest.NewServer(http.NotFoundHandler()) // a deployment without this customer or bot
	t.Cleanup(notFound.Close)
	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(unavailable.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := "http://" + ln.Addr().String()
	ln.Close()

	cases := []struct {
		name string
		sim  *testSim
		key  string // API key, default the simulator's
		mod  func(args []string) []string
		code int
		want []string // in the one-line error
	}{
		{name: "empty selector value", code: exitBadInput, want: []string{"user.channel="},
			mod: func(a []string) []string { return append(a, "--users-where", "user.channel=") }},
		{name: "empty selector name", code: exitBadInput, want: []string{"=web"},
			mod: func(a []string) []string { return append(a, "--users-where", "=web") }},
		{name: "from year 1", code: exitBadInput, want: []string{"--from 0001-01-01"},
			mod: func(a []string) []string { return replaceFlag(t, a, "--from", "0001-01-01") }},
		{name: "selector matches nobody", code: exitBadInput, want: []string{"feedback=99", "matched no user"},
			mod: func(a []string) []string {
				return []string{"export", "--api-url", s.url, "--customer", s.opts.CustomerID, "--bot", s.opts.BotKey,
					"--lake", a[slicesIndex(a, "--lake")+1], "--users-where", "feedback=99", "--from", "2024-05-01", "--to", "2024-05-07"}
			}},
		{name: "wrong bot on a deployment answering 404", code: exitFailed, want: []string{"404", "--api-url", "--customer", "--bot"},
			mod: func(a []string) []string { return replaceFlag(t, a, "--api-url", notFound.URL) }},
		{name: "wrong bot answering 1002", code: exitBadInput, want: []string{"--bot fedcba9876543210", "1002"},
			mod: func(a []string) []string { return replaceFlag(t, a, "--bot", "fedcba9876543210") }},
		{name: "401", code: exitFailed, want: []string{"API key rejected"}, key: "0000dead-beef-4000-8000-00000000cafe-wrongkey"},
		{name: "403", code: exitFailed, want: []string{"403"}, sim: forbidden},
		{name: "5xx on every attempt", code: exitFailed, want: []string{"503"},
			mod: func(a []string) []string { return replaceFlag(t, a, "--api-url", unavailable.URL) }},
		{name: "closed port", code: exitFailed, want: []string{"listing users", "refused"},
			mod: func(a []string) []string { return replaceFlag(t, a, "--api-url", closedPort) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sm := s
			if tc.sim != nil {
				sm = tc.sim
			}
			key := sm.opts.APIKey
			if tc.key != "" {
				key = tc.key
			}
			t.Setenv(apiKeyEnv, key)
			for _, cmd := range []string{"export", "run"} {
				lake := filepath.Join(t.TempDir(), "lake")
				args := sm.exportArgs("export", lake, "--log-format", "json", "--max-attempts", "2")
				if tc.mod != nil {
					args = tc.mod(args)
				}
				if cmd == "run" {
					if tc.name == "from year 1" {
						continue // run refuses a --from before 1970 by itself; its own test covers it
					}
					args = toNightly(args)
				}
				code, _, stderr := runCmd(t, args...)
				if code != tc.code {
					t.Fatalf("%s: exit %d, want %d; stderr:\n%s", cmd, code, tc.code, stderr)
				}
				last := lastLine(stderr)
				for _, w := range tc.want {
					if !strings.Contains(last, w) {
						t.Errorf("%s: error line %q does not say %q", cmd, last, w)
					}
				}
				if strings.Contains(stderr, key) {
					t.Fatalf("%s: the API key appears in the output", cmd)
				}
				entries, err := os.ReadDir(lake)
				if !os.IsNotExist(err) {
					t.Fatalf("%s: the failed first run left the lake's directory (%v, holding %v)", cmd, err, names(entries))
				}
			}
		})
	}
}

// toNightly turns export flags into the nightly run's: no --to, --from only for the first run.
func toNightly(args []string) []string {
	out := []string{"run"}
	for i := 1; i < len(args); i++ {
		if args[i] == "--to" {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

func slicesIndex(a []string, s string) int {
	for i, v := range a {
		if v == s {
			return i
		}
	}
	return -1
}

func names(entries []os.DirEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestCorruptStateCommand: with a state cut in half, empty or garbage, every command that reads
// the state exits 2 naming `chatlake state rebuild --lake URL`, and verify reports the state;
// after `chatlake state rebuild` the next export works and the lake equals the truth.
func TestCorruptStateCommand(t *testing.T) {
	s := startSim(t, 5, 6, nil)
	t.Setenv(apiKeyEnv, s.opts.APIKey)
	for _, tc := range []struct {
		name string
		bad  func([]byte) []byte
	}{
		{"cut in half", func(g []byte) []byte { return g[:len(g)/2] }},
		{"empty", func([]byte) []byte { return []byte{} }},
		{"garbage", func([]byte) []byte { return []byte("}}}garbage") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lake := t.TempDir()
			if code, _, stderr := runCmd(t, s.exportArgs("export", lake, "--log-format", "json")...); code != exitOK {
				t.Fatalf("export exits %d: %s", code, lastLine(stderr))
			}
			statePath := filepath.Join(lake, "_chatlake", "state.json")
			good, err := os.ReadFile(statePath)
			if err != nil {
				t.Fatal(err)
			}
			bad := tc.bad(good)
			if err := os.WriteFile(statePath, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			wayOut := "chatlake state rebuild --lake " + lake
			for _, args := range [][]string{
				s.exportArgs("export", lake, "--log-format", "json"),
				s.exportArgs("backfill", lake, "--log-format", "json"),
				s.exportArgs("run", lake, "--log-format", "json"),
				{"status", "--lake", lake},
				{"publish", "--lake", lake, "--log-format", "json"},
				{"forget", "--lake", lake, "--user", "u1", "--log-format", "json"},
			} {
				code, _, stderr := runCmd(t, args...)
				if code != exitBadInput || !strings.Contains(lastLine(stderr), wayOut) {
					t.Fatalf("%s on a corrupt state: exit %d, %q; want exit %d naming %q", args[0], code, lastLine(stderr), exitBadInput, wayOut)
				}
			}
			code, out, _ := runCmd(t, "verify", "--lake", lake)
			if code != exitFailed || !strings.Contains(out, "_chatlake/state.json unreadable-state") {
				t.Fatalf("verify on a corrupt state: exit %d\n%s", code, out)
			}

			code, out, stderr := runCmd(t, "state", "rebuild", "--lake", lake, "--log-format", "json")
			if code != exitOK || !strings.Contains(out, "watermark 2024-05-07") {
				t.Fatalf("state rebuild: exit %d\n%s%s", code, out, lastLine(stderr))
			}
			kept, _ := filepath.Glob(statePath + ".corrupt-*")
			if len(kept) != 1 {
				t.Fatalf("kept files %v, want one", kept)
			}
			if data, err := os.ReadFile(kept[0]); err != nil || !bytes.Equal(data, bad) {
				t.Fatalf("the bad state was not kept as it was: %v", err)
			}
			if code, _, stderr := runCmd(t, "state", "rebuild", "--lake", lake, "--log-format", "json"); code != exitBadInput {
				t.Fatalf("state rebuild of a good state: exit %d, want %d: %s", code, exitBadInput, lastLine(stderr))
			}
			if code, _, stderr := runCmd(t, s.exportArgs("export", lake, "--log-format", "json")...); code != exitOK {
				t.Fatalf("export after the rebuild exits %d: %s", code, lastLine(stderr))
			}
			rows, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(t), lake)
			if err != nil {
				t.Fatal(err)
			}
			if diff := lakecheck.Compare(rows, s.Truth(nil, s.opts.From, s.opts.To, s.opts.To.AddDate(1, 0, 0))); diff != "" {
				t.Fatal(diff)
			}
			if code, out, _ := runCmd(t, "verify", "--lake", lake, "--from", "2024-05-01", "--to", "2024-05-07"); code != exitOK {
				t.Fatalf("verify after the rebuild exits %d:\n%s", code, out)
			}
		})
	}
}

// TestStateCommandLine: the state command's wrong command lines are usage errors.
func TestStateCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"state"}, "missing action"},
		{[]string{"state", "--lake", "x"}, "missing action"},
		{[]string{"state", "reset", "--lake", "x"}, `unknown action "reset"`},
		{[]string{"state", "rebuild"}, "--lake"},
		{[]string{"state", "rebuild", "--lake", filepath.Join(t.TempDir(), "none")}, "none"},
	} {
		code, _, stderr := runCmd(t, tc.args...)
		if code != exitBadInput || !strings.Contains(lastLine(stderr), tc.want) {
			t.Errorf("%v: exit %d, %q; want exit %d with %q", tc.args, code, lastLine(stderr), exitBadInput, tc.want)
		}
	}
}
