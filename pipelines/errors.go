package pipelines

import (
	"errors"
	"fmt"

	"github.com/chatlake/chatlake/load"
)

var (
	// ErrLocked: another run holds the lake's lock (load.ErrLocked, as a *load.LockedError).
	ErrLocked = load.ErrLocked
	// ErrBadInput: the request itself is wrong (flags, dates, missing state); nothing was written.
	ErrBadInput = errors.New("bad input")
	// ErrCorruptState: the lake's state file does not decode (load.ErrCorruptState; see
	// CorruptStateError).
	ErrCorruptState = load.ErrCorruptState
	// ErrIncomplete: the run finished but did not export everything asked for.
	ErrIncomplete = errors.New("export incomplete")
)

func badInput(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadInput, fmt.Sprintf(format, args...))
}

// OptionError is an invalid field of Options, returned by New. It matches ErrBadInput.
type OptionError struct {
	Field  string // the field of Options, e.g. "LockLease"
	Reason string // what is wrong, with the value
}

func (e *OptionError) Error() string { return "bad input: Options." + e.Field + " " + e.Reason }

// Is matches ErrBadInput.
func (e *OptionError) Is(target error) bool { return target == ErrBadInput }

func optErr(field, format string, args ...any) error {
	return &OptionError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
