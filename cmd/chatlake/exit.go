package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/pipelines"
)

// Exit codes, documented in the README.
const (
	exitOK       = 0 // everything asked for was exported (or verified)
	exitFailed   = 1 // the run failed or is incomplete; the next run continues it
	exitBadInput = 2 // wrong flags, dates or configuration; nothing was written
	exitLocked   = 3 // another run holds the lake's lock; nothing was written
	exitStale    = 4 // status --max-lag: the lake's newest exported day is older than that
	// A run stopped by a signal exits 128 + the signal's number, as shells report it:
	// 130 for SIGINT (Ctrl-C), 143 for SIGTERM; the state records it as interrupted.
	exitSIGINT  = 128 + int(syscall.SIGINT)
	exitSIGTERM = 128 + int(syscall.SIGTERM)
)

// usageError is a wrong command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// signalError is the cause of a run's context when a signal stopped it.
type signalError struct{ sig syscall.Signal }

func (e *signalError) Error() string { return "interrupted by " + signalName(e.sig) }

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

func signalExit(s syscall.Signal) int { return 128 + int(s) }

// interruptedError is a command's error when a signal stopped it.
type interruptedError struct {
	sig *signalError
	err error
}

func (e *interruptedError) Error() string {
	if e.err == nil {
		return e.sig.Error()
	}
	return e.sig.Error() + ": " + e.err.Error()
}

func (e *interruptedError) Unwrap() []error { return []error{e.sig, e.err} }

// interrupted wraps err as an interruption when a signal ended ctx; else it returns err.
func interrupted(ctx context.Context, err error) error {
	var se *signalError
	if errors.As(context.Cause(ctx), &se) && !errors.As(err, &se) {
		return &interruptedError{sig: se, err: err}
	}
	return err
}

// staleError is status --max-lag finding the lake older than that.
type staleError struct{ msg string }

func (e *staleError) Error() string { return e.msg }

// codeOf maps an error to the process's exit code.
func codeOf(err error) int {
	var ue *usageError
	var se *signalError
	var stale *staleError
	var bots *botsError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &bots):
		return bots.code
	case errors.As(err, &se):
		return signalExit(se.sig)
	case errors.As(err, &ue), errors.Is(err, pipelines.ErrBadInput), errors.Is(err, extract.ErrInvalidInput):
		return exitBadInput
	case errors.Is(err, pipelines.ErrLocked):
		return exitLocked
	case errors.As(err, &stale):
		return exitStale
	default:
		return exitFailed
	}
}

// outcomeOf names how a run ended, for the summary, the state and the metrics.
func outcomeOf(code int) string {
	switch code {
	case exitOK:
		return "ok"
	case exitBadInput:
		return "bad_input"
	case exitLocked:
		return "locked"
	case exitSIGINT, exitSIGTERM:
		return "interrupted"
	default:
		return "failed"
	}
}

// exitCode prints err as one line and maps it to the process's exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	line := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintln(stderr, "chatlake: "+line)
	return codeOf(err)
}
