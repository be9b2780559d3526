package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// commandFlags returns the flags of one command and which of them are plain strings.
func commandFlags(t *testing.T, c command) (all, strs []string) {
	t.Helper()
	fc := &flagCollector{Writer: io.Discard, names: map[string]bool{}}
	_ = c.run(context.Background(), []string{"--help"}, fc, io.Discard)
	for name := range fc.names {
		all = append(all, name)
	}
	for _, name := range all {
		if name == configFlag {
			continue
		}
		if isStringFlag(c, name) {
			strs = append(strs, name)
		}
	}
	return all, strs
}

// isStringFlag: the flag accepts any text (its value reads back as given).
func isStringFlag(c command, name string) bool {
	p := &flagProbe{Writer: io.Discard, values: map[string]string{}}
	if err := c.run(context.Background(), []string{"--" + name, "any-text-" + name}, p, io.Discard); err != nil {
		return false
	}
	return p.values[name] == "any-text-"+name
}

func probe(t *testing.T, c command, args ...string) (map[string]string, error) {
	t.Helper()
	p := &flagProbe{Writer: io.Discard, values: map[string]string{}}
	err := c.run(context.Background(), args, p, io.Discard)
	return p.values, err
}

// TestConfigPrecedence: for every command and every flag that takes text, a config file's
// value, an environment variable and a flag each reach the command, and flag > environment >
// file > default.
func TestConfigPrecedence(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			_, strs := commandFlags(t, c)
			if len(strs) == 0 {
				t.Skipf("%s has no text flags", c.name)
			}
			dir := t.TempDir()
			var yamlCfg, tomlCfg strings.Builder
			for _, n := range strs {
				fmt.Fprintf(&yamlCfg, "%s: file-%s\n", n, n)
				fmt.Fprintf(&tomlCfg, "%s = \"file-%s\"\n", n, n)
			}
			// A setting of another command is ignored, not an error.
			mine := map[string]bool{}
			all, _ := commandFlags(t, c)
			for _, n := range all {
				mine[n] = true
			}
			for _, other := range []string{"users-where", "engine", "addr"} {
				if !mine[other] {
					fmt.Fprintf(&yamlCfg, "%s: [x]\n", other)
					break
				}
			}
			for _, cfg := range []struct{ name, text string }{{"c.yaml", yamlCfg.String()}, {"c.toml", tomlCfg.String()}} {
				path := filepath.Join(dir, cfg.name)
				if err := os.WriteFile(path, []byte(cfg.text), 0o644); err != nil {
					t.Fatal(err)
				}
				for i, n := range strs {
					// Layers by position: flag set on every third flag, environment on every
					// second, the file on all.
					t.Setenv(envName(n), "")
					if i%2 == 0 {
						t.Setenv(envName(n), "env-"+n)
					}
				}
				args := []string{"--config", path}
				for i, n := range strs {
					if i%3 == 0 {
						args = append(args, "--"+n, "flag-"+n)
					}
				}
				got, err := probe(t, c, args...)
				if err != nil {
					t.Fatalf("%s: %v", cfg.name, err)
				}
				for i, n := range strs {
					want := "file-" + n
					switch {
					case i%3 == 0:
						want = "flag-" + n
					case i%2 == 0:
						want = "env-" + n
					}
					if got[n] != want {
						t.Errorf("%s: --%s is %q, want %q", cfg.name, n, got[n], want)
					}
				}
			}
			// Without a file or environment the default stays; with CHATLAKE_CONFIG the file is read.
			for _, n := range strs {
				t.Setenv(envName(n), "")
			}
			t.Setenv(envName(configFlag), filepath.Join(dir, "c.yaml"))
			got, err := probe(t, c)
			if err != nil || got[strs[0]] != "file-"+strs[0] {
				t.Fatalf("with $%s: --%s is %q (%v)", envName(configFlag), strs[0], got[strs[0]], err)
			}
		})
	}
}

// TestConfigTypedValues: lists, numbers, sizes with units, durations with days and booleans
// come from a file and from the environment.
func TestConfigTypedValues(t *testing.T) {
	export := findCommand(t, "export")
	dir := t.TempDir()
	yml := filepath.Join(dir, "c.yml")
	write(t, yml, "users-where:\n  - user.channel=web\n  - user.channel=whatsapp\nconcurrency: 3\ntarget-file-size: 64MiB\nsettle: 2d\nallow-skipped-users: true\n")
	toml := filepath.Join(dir, "c.toml")
	write(t, toml, "users_where = [\"user.channel=web\", \"user.channel=whatsapp\"]\nconcurrency = 3\ntarget-file-size = \"64MiB\"\nsettle = \"2d\"\nallow-skipped-users = true\n")
	for _, path := range []string{yml, toml} {
		got, err := probe(t, export, "--config", path)
		if err != nil {
			t.Fatal(err)
		}
		if got["users-where"] != "user.channel=web,user.channel=whatsapp" || got["concurrency"] != "3" ||
			got["target-file-size"] != "64MiB" || got["settle"] != "2d" || got["allow-skipped-users"] != "true" {
			t.Errorf("%s: %v", filepath.Base(path), got)
		}
	}
	t.Setenv("CHATLAKE_LOCK_LEASE", "90s")
	t.Setenv("CHATLAKE_TARGET_FILE_SIZE", "1GB")
	got, err := probe(t, export, "--config", yml)
	if err != nil || got["lock-lease"] != "1m30s" || got["target-file-size"] != "1000000000" {
		t.Fatalf("environment: %v (%v)", got, err)
	}
}

func findCommand(t *testing.T, name string) command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no command %s", name)
	return command{}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBadConfig: every bad configuration is one line, exit 2, naming the flag, the variable or
// the file's line.
func TestBadConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := func(name, text string) string {
		p := filepath.Join(dir, name)
		write(t, p, text)
		return p
	}
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"unknown key", nil, []string{"status", "--config", cfg("a.yaml", "lake: /tmp/x\n\nlak: /tmp/y\n")},
			[]string{"a.yaml line 3", `unknown setting "lak"`, "did you mean lake"}},
		{"bad number", nil, []string{"export", "--config", cfg("b.yaml", "lake: /tmp/x\nconcurrency: many\n")},
			[]string{"b.yaml line 2", "--concurrency", "many"}},
		{"bad size", nil, []string{"export", "--config", cfg("c.yaml", "target-file-size: 12 parsecs\n")},
			[]string{"c.yaml line 1", "--target-file-size", "parsecs"}},
		{"bad duration", nil, []string{"run", "--config", cfg("d.toml", "lake = \"x\"\nsettle = \"soon\"\n")},
			[]string{"d.toml line 2", "--settle", "soon"}},
		{"yaml syntax", nil, []string{"status", "--config", cfg("e.yaml", "lake: [x\n")}, []string{"e.yaml", "line"}},
		{"toml syntax", nil, []string{"status", "--config", cfg("f.toml", "lake = \"x\"\nnope\n")}, []string{"f.toml line"}},
		{"toml unknown", nil, []string{"status", "--config", cfg("g.toml", "lake = \"x\"\nlokback = 3\n")},
			[]string{"g.toml line 2", `"lokback"`, "did you mean lookback"}},
		{"nested value", nil, []string{"status", "--config", cfg("h.yaml", "lake:\n  a: b\n")}, []string{"h.yaml line 2", "lake"}},
		{"missing file", nil, []string{"status", "--config", filepath.Join(dir, "none.yaml")}, []string{"none.yaml"}},
		{"bad env", map[string]string{"CHATLAKE_CONCURRENCY": "lots"}, []string{"export"}, []string{"CHATLAKE_CONCURRENCY", "concurrency", "lots"}},
		{"unknown flag", nil, []string{"run", "--lokback", "2"}, []string{"unknown flag --lokback", "did you mean --lookback"}},
		{"unknown flag, no match", nil, []string{"status", "--zzzzzzzz"}, []string{"unknown flag --zzzzzzzz", "status --help"}},
		{"unknown command", nil, []string{"stauts"}, []string{`unknown command "stauts"`, "did you mean status"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, _, stderr := runCmd(t, tc.args...)
			if code != exitBadInput {
				t.Fatalf("exit %d, want %d: %s", code, exitBadInput, stderr)
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
				t.Fatalf("%d lines, want one:\n%s", n+1, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("%q does not say %q", strings.TrimSpace(stderr), w)
				}
			}
			if strings.Contains(stderr, "Options.") || strings.Contains(stderr, "Faults.") {
				t.Errorf("%q names a Go field", stderr)
			}
		})
	}
}

func TestUnits(t *testing.T) {
	for in, want := range map[string]int64{"134217728": 128 << 20, "128MiB": 128 << 20, "128mib": 128 << 20, "1GB": 1e9,
		"64k": 64 << 10, "2 GiB": 2 << 30, "1.5MiB": 3 << 19, "10B": 10} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MiB", "12 parsecs", "-1", "1e3"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
	for in, want := range map[string]time.Duration{"36h": 36 * time.Hour, "2d": 48 * time.Hour, "1d12h": 36 * time.Hour,
		"90s": 90 * time.Second, "0.5d": 12 * time.Hour, "0": 0} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "2 days", "d", "soon", "2dd"} {
		if _, err := parseDuration(bad); err == nil {
			t.Errorf("parseDuration(%q) accepted", bad)
		}
	}
	if formatSize(128<<20) != "128MiB" || formatDuration(48*time.Hour) != "2d" || formatDuration(time.Hour) != "1h" || formatDuration(90*time.Minute) != "1h30m" || formatDuration(90*time.Second) != "1m30s" {
		t.Error("format")
	}
}

// TestHelpNamesVariables: every command's --help states the precedence and names each flag's
// environment variable.
func TestHelpNamesVariables(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			code, out, _ := runCmd(t, c.name, "--help")
			if code != exitOK || !strings.Contains(out, "Precedence: flag > environment > config file > default") {
				t.Fatalf("%s --help (exit %d) does not state the precedence:\n%s", c.name, code, out)
			}
			all, _ := commandFlags(t, c)
			for _, n := range all {
				if !strings.Contains(out, "[$"+envName(n)+"]") {
					t.Errorf("%s --help does not name $%s for --%s", c.name, envName(n), n)
				}
			}
		})
	}
}
