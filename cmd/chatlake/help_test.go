package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestHelpGolden: every command's help (`chatlake help CMD`, the same as `chatlake CMD --help`)
// is the golden file testdata/help/CMD.txt; UPDATE_HELP_GOLDEN=1 go test -run TestHelpGolden
// ./cmd/chatlake rewrites them (review the diff). Flag lines show a placeholder in upper case
// that says what the value is (DURATION, not "value"), no sentinel default (-1), and the help
// names no source file.
func TestHelpGolden(t *testing.T) {
	flagLine := regexp.MustCompile(`^  --[a-z0-9-]+( [A-Z][A-Z0-9=_.:|-]*)?$`)
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			code, out, stderr := runCmd(t, "help", c.name)
			if code != exitOK || stderr != "" {
				t.Fatalf("help %s: exit %d, stderr %q", c.name, code, stderr)
			}
			code, flagOut, _ := runCmd(t, c.name, "--help")
			if code != exitOK || flagOut != out {
				t.Fatalf("%s --help (exit %d) differs from help %s:\n%s", c.name, code, c.name, flagOut)
			}
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, "  --") && !flagLine.MatchString(l) {
					t.Errorf("flag line %q: want --name and an upper-case placeholder", l)
				}
			}
			for _, bad := range []string{"(default -1)", ".go", "load/", "pipelines."} {
				if strings.Contains(out, bad) {
					t.Errorf("help %s holds %q", c.name, bad)
				}
			}
			golden := filepath.Join("testdata", "help", c.name+".txt")
			if os.Getenv("UPDATE_HELP_GOLDEN") == "1" {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (UPDATE_HELP_GOLDEN=1 writes it)", err)
			}
			if string(want) != out {
				t.Errorf("help %s differs from %s (UPDATE_HELP_GOLDEN=1 rewrites it):\n%s", c.name, golden, out)
			}
		})
	}
	for _, args := range [][]string{{"help", "nope"}, {"help", "export", "run"}} {
		if code, out, _ := runCmd(t, args...); code != exitBadInput || out != "" {
			t.Errorf("%v: exit %d, want 2 and nothing on stdout", args, code)
		}
	}
}

// TestVersionFlag: chatlake --version is chatlake version.
func TestVersionFlag(t *testing.T) {
	_, want, _ := runCmd(t, "version")
	for _, args := range [][]string{{"--version"}, {"-version"}} {
		code, out, _ := runCmd(t, args...)
		if code != exitOK || out != want || !strings.HasPrefix(out, "chatlake ") {
			t.Errorf("%v: exit %d, %q; want %q", args, code, out, want)
		}
	}
	if code, out, _ := runCmd(t, "--version", "--json"); code != exitOK || !strings.Contains(out, `"version"`) {
		t.Errorf("--version --json: exit %d, %q", code, out)
	}
}
