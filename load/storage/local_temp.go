package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// dirAttempts bounds the tries of a write whose directory, or one above it, another call
// pruned (pruneDirs) while it was being made or before the write's file was in it.
const dirAttempts = 20

// inDir makes dir and its parents and runs op, which makes a file in dir; when the making or
// op fails because dir, or one above it, is gone (pruned meanwhile), both are tried again. An
// error of op while dir is there (a missing source of a rename) is returned as it is.
func inDir(dir string, op func() error) error {
	for attempt := 1; ; attempt++ {
		err := os.MkdirAll(dir, 0o755)
		if err == nil {
			err = op()
		}
		if err == nil || attempt == dirAttempts || !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if _, serr := os.Stat(dir); serr == nil {
			return err
		}
	}
}

// createTemp makes the parent directories of p and a temporary file beside it.
func createTemp(p string) (*os.File, error) {
	dir := filepath.Dir(p)
	var f *os.File
	err := inDir(dir, func() (err error) {
		f, err = os.CreateTemp(dir, "."+filepath.Base(p)+tmpMarker+"*")
		return err
	})
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

// syncDir fsyncs dir. A directory already gone (emptied and pruned by another call) has
// nothing to make durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

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
		l.pruneDirs(filepath.Dir(p))
		removed++
		return nil
	})
	return removed, err
}
