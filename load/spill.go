package load

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Local spill directories are named chatlake-<kind>-<pid>-<random> under Options.TempDir, so
// that the spill of a process that was killed (and so never ran its cleanup) can be told from
// a live one and removed.
const spillDirPrefix = "chatlake-"

func spillPrefix(kind string) string {
	if !slices.Contains(spillKinds(), kind) {
		// A kind SweepSpill does not know would be left behind by a killed process for ever.
		panic("load: spill kind " + kind + " is not in spillKinds")
	}
	return fmt.Sprintf("%s%s-%d-", spillDirPrefix, kind, os.Getpid())
}

// spillKinds are the kinds of spill directory this package makes, which SweepSpill removes
// when their process is gone (a directory of another kind is left alone).
func spillKinds() []string {
	return []string{"stage", "merge", "fetch", "forget", "verify", "users", "copy"}
}

// SweepSpill removes the spill directories that processes of this host left under TempDir when
// they were killed: those whose process no longer exists. It returns how many it removed.
func (l *Lake) SweepSpill() (int, error) {
	entries, err := os.ReadDir(l.opts.TempDir)
	if err != nil {
		return 0, fmt.Errorf("sweeping spill in %s: %w", l.opts.TempDir, err)
	}
	removed := 0
	var errs []error
	for _, e := range entries {
		pid, ok := spillPID(e.Name())
		if !e.IsDir() || !ok || pid == os.Getpid() || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		if err := os.RemoveAll(filepath.Join(l.opts.TempDir, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// spillPID reads the pid of a spill directory's name: chatlake-<kind>-<pid>-<random>.
func spillPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, spillDirPrefix)
	if !ok {
		return 0, false
	}
	parts := strings.SplitN(rest, "-", 3)
	if len(parts) != 3 {
		return 0, false
	}
	if !slices.Contains(spillKinds(), parts[0]) {
		return 0, false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}
