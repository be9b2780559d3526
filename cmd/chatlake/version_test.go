package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestBuildOf(t *testing.T) {
	platform := runtime.GOOS + "/" + runtime.GOARCH
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want build
		line string
	}{
		{"no build info", nil, false, build{Version: "unknown", Go: runtime.Version(), Platform: platform},
			"chatlake unknown " + runtime.Version() + " " + platform},
		{"clean commit", &debug.BuildInfo{
			GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/chatlake/chatlake", Version: "v1.4.0"},
			Settings: []debug.BuildSetting{
				{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
				{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123abcd"},
				{Key: "vcs.time", Value: "2026-11-30T10:00:00Z"}, {Key: "vcs.modified", Value: "false"},
			}}, true,
			build{Module: "github.com/chatlake/chatlake", Version: "v1.4.0", Commit: "0123abcd", CommitTime: "2026-11-30T10:00:00Z", Go: "go1.26.8", Platform: "linux/arm64"},
			"chatlake v1.4.0 (commit 0123abcd, 2026-11-30T10:00:00Z) go1.26.8 linux/arm64"},
		{"dirty tree", &debug.BuildInfo{
			GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/chatlake/chatlake", Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "ffff"}, {Key: "vcs.modified", Value: "true"}}}, true,
			build{Module: "github.com/chatlake/chatlake", Version: "(devel)", Commit: "ffff", Dirty: true, Go: "go1.26.8", Platform: platform},
			"chatlake (devel) (commit ffff, modified) go1.26.8 " + platform},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := buildOf(tc.bi, tc.ok)
			if got != tc.want {
				t.Errorf("buildOf = %+v, want %+v", got, tc.want)
			}
			if got.String() != tc.line {
				t.Errorf("String() = %q, want %q", got.String(), tc.line)
			}
			f := got.fields()
			if f["version"] != tc.want.Version || f["go"] != tc.want.Go || f["commit"] != tc.want.Commit {
				t.Errorf("fields() = %v", f)
			}
			if _, has := f["dirty"]; has != (tc.want.Commit != "") {
				t.Errorf("fields() = %v: dirty present %v, want it only with a commit", f, has)
			}
		})
	}
}

// TestVersionCommand runs the command in-process: the test binary has build info of its own.
func TestVersionCommand(t *testing.T) {
	code, out, _ := runCmd(t, "version")
	if code != exitOK || !strings.HasPrefix(out, "chatlake ") || !strings.Contains(out, runtime.Version()) {
		t.Fatalf("chatlake version: exit %d, %q", code, out)
	}
	code, out, _ = runCmd(t, "version", "--json")
	var m map[string]string
	if code != exitOK || json.Unmarshal([]byte(out), &m) != nil {
		t.Fatalf("chatlake version --json: exit %d, %q", code, out)
	}
	want := buildInfo()
	for k, v := range want {
		if m[k] != v {
			t.Errorf("--json %s = %q, buildInfo() has %q", k, m[k], v)
		}
	}
	if m["go"] != runtime.Version() || m["module"] != "github.com/chatlake/chatlake" {
		t.Errorf("--json = %v, want go %s and the module path", m, runtime.Version())
	}
	if code, _, _ := runCmd(t, "version", "extra"); code != exitBadInput {
		t.Errorf("chatlake version extra: exit %d, want %d", code, exitBadInput)
	}
}

// TestVersionBinary checks the real thing: a binary built as the Dockerfile builds it reports
// the commit it was built from, clean, and a rebuild after a change reports it modified.
func TestVersionBinary(t *testing.T) {
	b := buildStatic(t)
	version := func(bin string) map[string]string {
		t.Helper()
		out, err := exec.Command(bin, "version", "--json").Output()
		if err != nil {
			t.Fatalf("%s version --json: %v", bin, err)
		}
		var m map[string]string
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("%s version --json: %v: %q", bin, err, out)
		}
		return m
	}
	m := version(b.bin)
	if m["commit"] != b.commit || m["dirty"] != "false" || m["commit_time"] == "" {
		t.Errorf("clean build: %v, want commit %s, dirty false and a commit time", m, b.commit)
	}
	if m["go"] != runtime.Version() || m["module"] != "github.com/chatlake/chatlake" || m["platform"] != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("clean build: %v", m)
	}

	// The same commit with an uncommitted change, in a clone.
	src := filepath.Join(t.TempDir(), "src")
	if out, err := exec.Command("git", "clone", "-q", b.src, src).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v: %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(src, "README.md"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dirtyBin := filepath.Join(t.TempDir(), "chatlake")
	if err := goBuild(src, dirtyBin); err != nil {
		t.Fatal(err)
	}
	if d := version(dirtyBin); d["commit"] != b.commit || d["dirty"] != "true" {
		t.Errorf("build with a change: %v, want commit %s and dirty true", d, b.commit)
	}
	out, err := exec.Command(dirtyBin, "version").Output()
	if err != nil || !strings.Contains(string(out), "(commit "+b.commit+", modified") {
		t.Errorf("chatlake version of a modified build: %q, %v", out, err)
	}
}
