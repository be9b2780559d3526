package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// Local is a Store in a local directory. Object names map to files below the directory.
//
// A write goes to a temporary file beside its target (".<base>.tmp-<random>", which no glob
// such as "*.parquet" matches and List never shows), is fsynced, renamed into place at Close,
// and the directory is fsynced (local_writer.go, local_temp.go). PutIf and DeleteIf hold an
// exclusive flock on a lock file at the root (".chatlake-storage.lock") while they compare and
// write, so they are atomic across goroutines and processes on the same machine, not across
// machines on a network filesystem (local_lock.go).
type Local struct {
	root string // absolute, cleaned
	opts LocalOptions
}

// NewLocal returns the directory dir as a Store, creating it if missing. A path that is not a
// usable directory (a file, not writable) is an error naming it.
func NewLocal(dir string) (*Local, error) {
	return NewLocalWithOptions(dir, nil)
}

// NewLocalWithOptions is NewLocal with options. With MustExist a missing directory is an error
// matching ErrNotExist, and nothing is created.
func NewLocalWithOptions(dir string, o *LocalOptions) (*Local, error) {
	opts, err := o.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("local store %s: %w", dir, err)
	}
	if dir == "" {
		return nil, errors.New("local store: empty directory path")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local store %s: %w", dir, err)
	}
	if !opts.MustExist {
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, fmt.Errorf("local store %s: %w", abs, err)
		}
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, notExist("local store", abs, err)
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
	return &Local{root: abs, opts: opts}, nil
}

// URL returns the absolute directory path.
func (l *Local) URL() string { return l.root }

// LocalPath is the file that holds the object name, for a reader that wants the file itself
// (to read it in place rather than through Open). The file may not exist; it must not be
// written to.
func (l *Local) LocalPath(name string) (string, error) { return l.path(name) }

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

// OpenRange reads length bytes of name from offset.
func (l *Local) OpenRange(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	if err := checkRange(offset, length); err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	r, err := l.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	f := r.(*os.File)
	return &sectionFile{SectionReader: io.NewSectionReader(f, offset, length), f: f}, nil
}

// sectionFile reads a section of an open file and closes the file.
type sectionFile struct {
	*io.SectionReader
	f *os.File
}

func (s *sectionFile) Close() error { return s.f.Close() }

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

// ListPage returns a page of List (the directory below prefix is walked for each page).
func (l *Local) ListPage(ctx context.Context, prefix, after string, pageSize int) ([]Object, string, error) {
	if pageSize < 1 {
		return nil, "", fmt.Errorf("list: page size %d: %w", pageSize, ErrBadRange)
	}
	objs, err := l.List(ctx, prefix)
	if err != nil {
		return nil, "", err
	}
	page, next := pageOf(objs, after, pageSize)
	return page, next, nil
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
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a directory emptied and pruned while walking
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

// Move renames src to dst, creating dst's parent directories, and describes dst (no request:
// a stat of the file).
func (l *Local) Move(ctx context.Context, src, dst string) (Object, error) {
	ps, err := l.path(src)
	if err != nil {
		return Object{}, fmt.Errorf("move: %w", err)
	}
	pd, err := l.path(dst)
	if err != nil {
		return Object{}, fmt.Errorf("move: %w", err)
	}
	if _, err := os.Lstat(ps); err != nil {
		return Object{}, notExist("move", src, err)
	}
	if err := inDir(filepath.Dir(pd), func() error { return os.Rename(ps, pd) }); err != nil {
		return Object{}, notExist("move "+src+" to", dst, err)
	}
	if err := syncDir(filepath.Dir(pd)); err != nil {
		return Object{}, fmt.Errorf("move %s to %s: %w", src, dst, err)
	}
	if filepath.Dir(ps) != filepath.Dir(pd) {
		if err := syncDir(filepath.Dir(ps)); err != nil {
			return Object{}, fmt.Errorf("move %s to %s: %w", src, dst, err)
		}
	}
	fi, err := os.Lstat(pd)
	if err != nil {
		return Object{}, fmt.Errorf("move %s to %s: %w", src, dst, err)
	}
	if filepath.Dir(ps) != filepath.Dir(pd) {
		l.pruneDirs(filepath.Dir(ps))
	}
	return object(dst, fi), nil
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
	l.pruneDirs(filepath.Dir(p))
	return nil
}

// pruneDirs removes the empty directories from dir up to the store's root, which stays: as on
// a cloud store, a name's "directories" last only while objects are under them, so that a run's
// scratch names (_chatlake/runs/PLAN/..., _chatlake/staging/RUN/...) leave nothing behind. The
// first directory that is not empty (or is gone) ends it. A writer that makes a directory and
// then a file in it retries if the directory went in between (createTemp, Move).
func (l *Local) pruneDirs(dir string) {
	for strings.HasPrefix(dir, l.root+string(filepath.Separator)) {
		if err := os.Remove(dir); err != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
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

var _ Store = (*Local)(nil)
