package main

import (
	"bytes"
	"debug/elf"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatlake/chatlake/sim"
)

// needOrSkip skips the test on a developer's machine when it lacks what the test needs, and
// fails it under CI=true, where .ci/run provides it.
func needOrSkip(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and %s", what)
	}
	t.Skip(what)
}

// staticBuild is the binary as the Dockerfile builds it (CGO_ENABLED=0, -trimpath,
// -ldflags=-s, VCS stamping on), from a copy of this module committed in a fresh git
// repository, so that the test sees the working tree's code and a known commit whether it
// runs in a clone, a worktree or an unpacked tarball.
type staticBuild struct {
	src    string // the repository copy
	bin    string // the binary
	commit string // HEAD of the copy
}

// buildStatic makes a staticBuild in a temporary directory of t, or fails (or skips, see
// needOrSkip) the test.
func buildStatic(t *testing.T) staticBuild {
	t.Helper()
	_, gitErr := exec.LookPath("git")
	needOrSkip(t, gitErr == nil, "git is not on PATH")
	dir := t.TempDir()
	b := staticBuild{src: filepath.Join(dir, "src"), bin: filepath.Join(dir, "chatlake")}
	if err := copyModule("../..", b.src); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"init", "-q"},
		{"add", "-A"},
		{"-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-q", "-m", "build"},
	} {
		if out, err := gitIn(b.src, args...); err != nil {
			t.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	out, err := gitIn(b.src, "rev-parse", "HEAD")
	if err != nil {
		t.Fatalf("git rev-parse: %v: %s", err, out)
	}
	b.commit = strings.TrimSpace(out)
	if err := goBuild(b.src, b.bin); err != nil {
		t.Fatal(err)
	}
	return b
}

// goBuild builds ./cmd/chatlake of the module at src as the Dockerfile does.
func goBuild(src, bin string) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(gobin, "build", "-trimpath", "-ldflags=-s", "-buildvcs=true", "-o", bin, "./cmd/chatlake")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	return nil
}

// gitIn runs git on the repository at dir, and only there: GIT_DIR and GIT_WORK_TREE keep it
// from finding a repository around dir (the checkout the test runs in).
func gitIn(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_DIR="+filepath.Join(dir, ".git"), "GIT_WORK_TREE="+dir, "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// copyModule copies the module's files from src to dst: not .git (a directory, or in a git
// worktree a file naming the repository), not lakes a demo left.
func copyModule(src, dst string) error {
	if _, err := os.Stat(filepath.Join(src, "go.mod")); err != nil {
		return fmt.Errorf("module root: %w", err)
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.Name() == ".git" || (d.IsDir() && d.Name() == "lake" && rel != ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		return copyFile(p, target, fi.Mode().Perm())
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// checkStatic fails unless bin is a statically linked ELF executable: no program interpreter
// (PT_INTERP, the dynamic loader) and no needed shared libraries (DT_NEEDED).
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter (PT_INTERP): dynamically linked", bin)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		t.Fatalf("%s: reading DT_NEEDED: %v", bin, err)
	}
	if len(libs) > 0 {
		t.Errorf("%s needs shared libraries (DT_NEEDED) %v", bin, libs)
	}
}

// TestChrootDemo is the stand-in for the distroless static image, which Docker cannot build on
// the test machine: the static binary, CA certificates and an empty /tmp are the whole root
// file system, and the process runs as distroless's nonroot user (65532). In it, the demo
// must export the simulator into /tmp/lake, and an export from the simulator served over TLS
// must verify the server with the root's CA bundle (the host's bundle plus the test server's
// certificate), as the image's calls to the Technowiz API and GCS do.
func TestChrootDemo(t *testing.T) {
	needOrSkip(t, os.Geteuid() == 0, "chroot needs root")
	b := buildStatic(t)
	checkStatic(t, b.bin)

	// The simulator over TLS, whose certificate the root's CA bundle will hold.
	o := sim.DefaultOptions()
	o.Seed, o.Users = 3, 10
	o.From = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	o.To = time.Date(2024, 5, 8, 0, 0, 0, 0, time.UTC)
	srv, err := sim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv)
	defer ts.Close()

	const certs = "/etc/ssl/certs/ca-certificates.crt"
	bundle, err := os.ReadFile(certs)
	needOrSkip(t, err == nil, certs+" is missing (Debian's ca-certificates)")
	bundle = append(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})...)

	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"etc/ssl/certs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(b.bin, filepath.Join(root, "chatlake"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, certs), bundle, 0o644); err != nil {
		t.Fatal(err)
	}

	// inRoot runs /chatlake in the root as the nonroot user, with nothing of the host's
	// environment, and fails the test unless it exits 0.
	inRoot := func(env []string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), "/chatlake", args...)
		cmd.Dir = "/"
		cmd.Env = append([]string{"HOME=/tmp", "TMPDIR=/tmp"}, env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Chroot:     root,
			Credential: &syscall.Credential{Uid: 65532, Gid: 65532}, // distroless "nonroot"
		}
		cmd.WaitDelay = 5 * time.Second
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chatlake %s in the chroot: %v\nstdout:\n%s\nstderr:\n%s", args[0], err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	parquet := func(lake string) int {
		t.Helper()
		files, err := filepath.Glob(filepath.Join(root, lake, "messages", "dt=*", "*.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) < 8 || string(data[:4]) != "PAR1" || string(data[len(data)-4:]) != "PAR1" {
				t.Errorf("%s is not a Parquet file (%d bytes)", f, len(data))
			}
		}
		return len(files)
	}

	out := inRoot(nil, "demo", "--lake", "/tmp/lake", "--users", "20")
	if n := parquet("tmp/lake"); n == 0 {
		t.Fatalf("the demo wrote no Parquet file under /tmp/lake/messages\nstdout:\n%s", out)
	} else {
		t.Logf("the demo in the chroot wrote %d Parquet files", n)
	}

	s := &testSim{Server: srv, opts: o, url: ts.URL}
	inRoot([]string{"CHATLAKE_API_KEY=" + o.APIKey}, s.exportArgs("export", "/tmp/tls-lake")...)
	if n := parquet("tmp/tls-lake"); n == 0 {
		t.Fatal("the export over TLS wrote no Parquet file")
	}
}
