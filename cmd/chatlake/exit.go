package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/pipelines"
)

// Exit codes, documented in the README.
const (
	exitOK       = 0 // everything asked for was exported (or verified)
	exitFailed   = 1 // the run failed or is incomplete; the next run continues it
	exitBadInput = 2 // wrong flags, dates or configuration; nothing was written
	exitLocked   = 3 // another run holds the lake's lock; nothing was written
)

// usageError is a wrong command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// exitCode prints err as one line and maps it to the process's exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	line := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintln(stderr, "chatlake: "+line)
	var ue *usageError
	switch {
	case errors.As(err, &ue), errors.Is(err, pipelines.ErrBadInput), errors.Is(err, extract.ErrInvalidInput):
		return exitBadInput
	case errors.Is(err, pipelines.ErrLocked):
		return exitLocked
	default:
		return exitFailed
	}
}
