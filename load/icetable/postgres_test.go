package icetable_test

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// pgServer is a PostgreSQL server the tests start in a temporary directory, listening on a unix
// socket only, with password (scram-sha-256) authentication.
type pgServer struct {
	dir      string
	pgCtl    string
	cred     *syscall.Credential // the user the server runs as, when the tests run as root
	password string
	uri      string
	lakes    atomic.Int64
}

// pgOnce starts one server for the package's tests; TestMain stops it.
var pgOnce struct {
	sync.Once
	srv *pgServer
	err error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pgOnce.srv != nil {
		pgOnce.srv.stop()
	}
	os.Exit(code)
}

// postgres returns the tests' server, starting it on first use. Without PostgreSQL's server
// binaries the test is skipped on a developer's machine and fails in CI (CI=true), where .ci/run
// installs Debian's postgresql.
func postgres(t *testing.T) *pgServer {
	t.Helper()
	pgOnce.Do(func() { pgOnce.srv, pgOnce.err = startPostgres() })
	if pgOnce.err != nil {
		msg := fmt.Sprintf("postgres: %v (apt-get install postgresql)", pgOnce.err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return pgOnce.srv
}

// pgBin finds a PostgreSQL server binary on PATH or in Debian's /usr/lib/postgresql/*/bin.
func pgBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(found) == 0 {
		return "", fmt.Errorf("%s not found", name)
	}
	slices.Sort(found)
	return found[len(found)-1], nil
}

func startPostgres() (*pgServer, error) {
	initdb, err := pgBin("initdb")
	if err != nil {
		return nil, err
	}
	pgCtl, err := pgBin("pg_ctl")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "icetable-pg-")
	if err != nil {
		return nil, err
	}
	s := &pgServer{dir: dir, pgCtl: pgCtl, password: "pg-s3cret-" + strconv.Itoa(os.Getpid())}
	if os.Geteuid() == 0 { // initdb and postgres refuse to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			u, err = user.Lookup("nobody")
		}
		if err != nil {
			return nil, fmt.Errorf("no user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
		return nil, err
	}
	if s.cred != nil {
		if err := os.Chown(pwfile, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := s.run(initdb, "-D", data, "-U", "chat", "--auth=scram-sha-256", "--pwfile="+pwfile, "-E", "UTF8", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	const port = "54329" // only names the socket file: no TCP listener
	opts := fmt.Sprintf("-c listen_addresses='' -k %s -p %s -c fsync=off", dir, port)
	if out, err := s.run(pgCtl, "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	s.uri = fmt.Sprintf("postgres://chat:%s@/postgres?host=%s&port=%s&sslmode=disable", s.password, dir, port)
	return s, nil
}

func (s *pgServer) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.dir
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
		return out, err
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		return out, fmt.Errorf("%s timed out", name)
	}
}

func (s *pgServer) stop() {
	_, _ = s.run(s.pgCtl, "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(s.dir)
}

// newLake returns a lake on the server: its own namespace, a warehouse in a temporary directory.
func (s *pgServer) newLake(t *testing.T) lake {
	dir := t.TempDir()
	return lake{
		dir:     dir,
		catalog: s.uri,
		ns:      fmt.Sprintf("lake%d", s.lakes.Add(1)),
		ware:    filepath.Join(dir, "warehouse"),
	}
}
