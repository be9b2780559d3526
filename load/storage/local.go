package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Local is a Store in a local directory. Object names map to files below the directory.
//
// A write goes to a temporary file beside its target (".<base>.tmp-<random>", which no glob
// such as "*.parquet" matches and List never shows), is fsynced, renamed into place at Close,
// and the directory is fsynced. PutIf and DeleteIf hold an exclusive flock on a lock file at
// the root (".chatlake-storage.lock") while they compare and write, so they are atomic across
// goroutines and processes on the same machine (not across machines on a network filesystem).
type Local struct {
	root string // absolute, cleaned
}

// NewLocal returns the directory dir as a Store, creating it if missing. A path that is not a
// usable directory (a file, not writable) is an error naming it.
func NewLocal(dir string) (*Local, error) {
	if dir == "" {
		return nil, errors.New("local store: empty directory path")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local store %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("local store %s: %w", abs, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("local store %s: %w", abs, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("local store %s: not a directory", abs)
	}
	// Probe writability with a temporary file that is removed at once, so opening a lake writes
	// nothing into it (the lock file is made by the first conditional write).
	probe, err := os.CreateTemp(abs, ".chatlake-probe-*")
	if err != nil {
		return nil, fmt.Errorf("local store %s: not writable: %w", abs, err)
	}
	probe.Close()
	if err := os.Remove(probe.Name()); err != nil {
		return nil, fmt.Errorf("local store %s: %w", abs, err)
	}
	return &Local{root: abs}, nil
}

// URL returns the absolute directory path.
func (l *Local) URL() string { return l.root }

// path maps a validated object name to its file.
func (l *Local) path(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	return filepath.Join(l.root, filepath.FromSlash(name)), nil
}

// version is the opaque version of a file: it changes on every write because every write
// creates a new file (new inode) and sets a new mtime.
func version(fi fs.FileInfo) string {
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	return fmt.Sprintf("%x-%x-%x", ino, fi.ModTime().UnixNano(), fi.Size())
}

func object(name string, fi fs.FileInfo) Object {
	return Object{Name: name, Size: fi.Size(), Version: version(fi), Updated: fi.ModTime().UTC()}
}

// notExist wraps a missing-file error so it matches ErrNotExist.
func notExist(op, name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%s %s: %w (%w)", op, name, ErrNotExist, err)
	}
	return fmt.Errorf("%s %s: %w", op, name, err)
}

// Create starts a write of name to a temporary file in the target's directory, creating
// parent directories. Cancelling ctx removes the temporary file.
func (l *Local) Create(ctx context.Context, name string) (Writer, error) {
	p, err := l.path(name)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	f, err := createTemp(p)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	w := &localWriter{ctx: ctx, name: name, final: p, f: f}
	w.stop = context.AfterFunc(ctx, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.f != nil {
			w.abortLocked(fmt.Errorf("write %s: %w", name, context.Cause(ctx)))
		}
	})
	return w, nil
}

// createTemp makes the parent directories of p and a temporary file beside it.
func createTemp(p string) (*os.File, error) {
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(p)+tmpMarker+"*")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// commit fsyncs and closes the temporary file f, renames it to p and fsyncs p's directory.
// On error the temporary file is removed.
func commit(f *os.File, p string) error {
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	return syncDir(filepath.Dir(p))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

type localWriter struct {
	ctx   context.Context
	name  string
	final string
	stop  func() bool

	mu   sync.Mutex
	f    *os.File // nil once closed or aborted
	done error    // why the writer is finished, returned by later calls
}

func (w *localWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return 0, w.done
	}
	if err := w.ctx.Err(); err != nil {
		w.abortLocked(fmt.Errorf("write %s: %w", w.name, err))
		return 0, w.done
	}
	n, err := w.f.Write(p)
	if err != nil {
		w.abortLocked(fmt.Errorf("write %s: %w", w.name, err))
		return n, w.done
	}
	return n, nil
}

func (w *localWriter) Close() error {
	w.stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return w.done
	}
	if err := w.ctx.Err(); err != nil {
		w.abortLocked(fmt.Errorf("close %s: %w", w.name, err))
		return w.done
	}
	f := w.f
	w.f = nil
	if err := commit(f, w.final); err != nil {
		w.done = fmt.Errorf("close %s: %w", w.name, err)
		return w.done
	}
	w.done = fmt.Errorf("close %s: writer already closed", w.name)
	return nil
}

// Abort removes the temporary file. It is a no-op after Close or a previous Abort.
func (w *localWriter) Abort() error {
	w.stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	w.abortLocked(fmt.Errorf("write %s: aborted", w.name))
	return nil
}

func (w *localWriter) abortLocked(reason error) {
	w.f.Close()
	os.Remove(w.f.Name())
	w.f = nil
	w.done = reason
}

// Open reads name.
func (l *Local) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	p, err := l.path(name)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, notExist("open", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("open %s: %w (a directory)", name, ErrNotExist)
	}
	return f, nil
}

// Stat describes name.
func (l *Local) Stat(ctx context.Context, name string) (Object, error) {
	p, err := l.path(name)
	if err != nil {
		return Object{}, fmt.Errorf("stat: %w", err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return Object{}, notExist("stat", name, err)
	}
	if fi.IsDir() {
		return Object{}, fmt.Errorf("stat %s: %w (a directory)", name, ErrNotExist)
	}
	return object(name, fi), nil
}

// List walks the directory below prefix, skipping temporary and lock files.
func (l *Local) List(ctx context.Context, prefix string) ([]Object, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	// Walk only the deepest directory the prefix names in full.
	start := l.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = filepath.Join(l.root, filepath.FromSlash(prefix[:i]))
	}
	var out []Object
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || isReserved(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(l.root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if !strings.HasPrefix(name, prefix) {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while walking
		}
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		out = append(out, object(name, fi))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s %q: %w", l.root, prefix, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Move renames src to dst, creating dst's parent directories.
func (l *Local) Move(ctx context.Context, src, dst string) error {
	ps, err := l.path(src)
	if err != nil {
		return fmt.Errorf("move: %w", err)
	}
	pd, err := l.path(dst)
	if err != nil {
		return fmt.Errorf("move: %w", err)
	}
	if _, err := os.Lstat(ps); err != nil {
		return notExist("move", src, err)
	}
	if err := os.MkdirAll(filepath.Dir(pd), 0o755); err != nil {
		return fmt.Errorf("move %s to %s: %w", src, dst, err)
	}
	if err := os.Rename(ps, pd); err != nil {
		return notExist("move "+src+" to", dst, err)
	}
	if err := syncDir(filepath.Dir(pd)); err != nil {
		return fmt.Errorf("move %s to %s: %w", src, dst, err)
	}
	if filepath.Dir(ps) != filepath.Dir(pd) {
		if err := syncDir(filepath.Dir(ps)); err != nil {
			return fmt.Errorf("move %s to %s: %w", src, dst, err)
		}
	}
	return nil
}

// Delete removes name; a missing name is not an error.
func (l *Local) Delete(ctx context.Context, name string) error {
	p, err := l.path(name)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// Get reads name whole; the version is taken from the open file, so it belongs to the bytes.
func (l *Local) Get(ctx context.Context, name string) ([]byte, string, error) {
	p, err := l.path(name)
	if err != nil {
		return nil, "", fmt.Errorf("get: %w", err)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, "", notExist("get", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, "", fmt.Errorf("get %s: %w", name, err)
	}
	if fi.IsDir() {
		return nil, "", fmt.Errorf("get %s: %w (a directory)", name, ErrNotExist)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, "", fmt.Errorf("get %s: %w", name, err)
	}
	return data, version(fi), nil
}

// PutIf writes data to name if its current version is ifVersion ("" = must not exist), under
// the store's lock.
func (l *Local) PutIf(ctx context.Context, name string, data []byte, ifVersion string) (string, error) {
	p, err := l.path(name)
	if err != nil {
		return "", fmt.Errorf("put: %w", err)
	}
	unlock, err := l.lock(ctx)
	if err != nil {
		return "", fmt.Errorf("put %s: %w", name, err)
	}
	defer unlock()
	if cur, err := l.currentVersion(p); err != nil {
		return "", fmt.Errorf("put %s: %w", name, err)
	} else if cur != ifVersion {
		return "", fmt.Errorf("put %s: have version %q, want %q: %w", name, cur, ifVersion, ErrPrecondition)
	}
	f, err := createTemp(p)
	if err != nil {
		return "", fmt.Errorf("put %s: %w", name, err)
	}
	if _, err := io.Copy(f, bytes.NewReader(data)); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("put %s: %w", name, err)
	}
	if err := commit(f, p); err != nil {
		return "", fmt.Errorf("put %s: %w", name, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("put %s: %w", name, err)
	}
	return version(fi), nil
}

// DeleteIf removes name if its current version is ifVersion, under the store's lock.
func (l *Local) DeleteIf(ctx context.Context, name string, ifVersion string) error {
	p, err := l.path(name)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	unlock, err := l.lock(ctx)
	if err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	defer unlock()
	cur, err := l.currentVersion(p)
	if err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	if cur != ifVersion {
		return fmt.Errorf("delete %s: have version %q, want %q: %w", name, cur, ifVersion, ErrPrecondition)
	}
	if cur == "" {
		return nil // asked to delete an absent object only if absent
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return syncDir(filepath.Dir(p))
}

// currentVersion is the version of the file at p, or "" when there is none.
func (l *Local) currentVersion(p string) (string, error) {
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		return "", nil
	}
	return version(fi), nil
}

// lockPoll is how often lock retries a held flock; flock itself cannot watch ctx.
const lockPoll = 2 * time.Millisecond

// lock takes the exclusive flock of the store's lock file, waiting until ctx is done.
func (l *Local) lock(ctx context.Context) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(l.root, lockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), ctx.Err())
		case <-t.C:
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

var _ Store = (*Local)(nil)

// SweepTemporary removes the temporary files of unfinished writes that are older than
// olderThan: what a process killed in the middle of a write leaves behind. They are never
// listed nor matched by an analyst's glob, but they take space. Call it only while no other
// process writes to the store (the lake's lock), or with an age no live write reaches.
func (l *Local) SweepTemporary(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	err := filepath.WalkDir(l.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() || name == lockName || !isReserved(name) {
			return nil
		}
		fi, err := d.Info()
		if err != nil || fi.ModTime().After(cutoff) {
			return nil
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("sweeping %s: %w", p, err)
		}
		removed++
		return nil
	})
	return removed, err
}
