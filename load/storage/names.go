package storage

import (
	"fmt"
	"strings"
)

// tmpMarker is part of the base name of every temporary file of an unfinished local write
// (".<base>.tmp-<random>"). No name ending in an extension such as ".parquet" matches it.
const tmpMarker = ".tmp-"

// lockName is the local lock file at the root of a Local store, used by PutIf and DeleteIf.
const lockName = ".chatlake-storage.lock"

// isReserved reports whether a base name belongs to the store's own bookkeeping (a temporary
// file or the lock file) and so is neither listed nor accepted as an object name.
func isReserved(base string) bool {
	return base == lockName || (strings.HasPrefix(base, ".") && strings.Contains(base, tmpMarker))
}

// checkName validates an object name: relative, slash-separated, every element non-empty and
// neither "." nor "..", no NUL, and not reserved. The same rules hold for every backend.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrBadName)
	}
	if strings.HasPrefix(name, "/") {
		return fmt.Errorf("%w %q: absolute", ErrBadName, name)
	}
	if strings.ContainsRune(name, 0) || strings.Contains(name, "\\") {
		return fmt.Errorf("%w %q: NUL or backslash", ErrBadName, name)
	}
	for _, el := range strings.Split(name, "/") {
		switch el {
		case "":
			return fmt.Errorf("%w %q: empty element", ErrBadName, name)
		case ".", "..":
			return fmt.Errorf("%w %q: element %q", ErrBadName, name, el)
		}
		if isReserved(el) {
			return fmt.Errorf("%w %q: reserved for temporary or lock files", ErrBadName, name)
		}
	}
	return nil
}

// checkPrefix validates a List prefix: "" (everything) or a string that could start a valid name
// (the last element may be partial, e.g. "dt=2024-05"; a trailing slash is allowed).
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	trimmed := strings.TrimSuffix(prefix, "/")
	if trimmed == "" {
		return fmt.Errorf("%w: list prefix %q", ErrBadName, prefix)
	}
	if err := checkName(trimmed); err != nil {
		return fmt.Errorf("list prefix: %w", err)
	}
	return nil
}
