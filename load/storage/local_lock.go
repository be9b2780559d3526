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
	"syscall"
	"time"
)

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
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	l.pruneDirs(filepath.Dir(p))
	return nil
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

// lock takes the exclusive flock of the store's lock file, waiting at most OpTimeout and
// until ctx is done.
func (l *Local) lock(ctx context.Context) (unlock func(), err error) {
	ctx, cancel := context.WithTimeoutCause(ctx, l.opts.OpTimeout, &timeoutError{what: "the lock file stayed locked", d: l.opts.OpTimeout})
	defer cancel()
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
			return nil, fmt.Errorf("lock %s: %w", f.Name(), timedOut(ctx, ctx.Err()))
		case <-t.C:
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
