package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// timeoutError is the cause of a context that a deadline of this package ended. It matches
// ErrTimeout.
type timeoutError struct {
	what string        // "no answer", "no progress"
	d    time.Duration // the deadline that passed
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("%v (%s within %s)", ErrTimeout, e.what, e.d)
}

func (e *timeoutError) Is(target error) bool { return target == ErrTimeout }

// withDeadline bounds one call: the returned context ends after d with a timeoutError cause.
func withDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, d, &timeoutError{what: "no answer", d: d})
}

// timedOut returns err with this package's timeout cause in front when ctx was ended by one
// of its deadlines, so that the error matches ErrTimeout and says which deadline passed;
// otherwise err unchanged.
func timedOut(ctx context.Context, err error) error {
	var te *timeoutError
	if err == nil || !errors.As(context.Cause(ctx), &te) || errors.Is(err, ErrTimeout) {
		return err
	}
	return fmt.Errorf("%w: %w", te, err)
}

// watchdog cancels a long-lived context (a reader's, a writer's, a listing's) when one guarded
// step takes longer than its allowance. Time between steps is not counted: a caller that
// reads or writes slowly is never timed out, a step that gets no answer is.
type watchdog struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
}

func newWatchdog(parent context.Context) *watchdog {
	ctx, cancel := context.WithCancelCause(parent)
	return &watchdog{ctx: ctx, cancel: cancel}
}

// guard runs step, cancelling the watchdog's context if it has not returned within d. The
// step's error carries the timeout cause when that happened.
func (w *watchdog) guard(d time.Duration, what string, step func() error) error {
	t := time.AfterFunc(d, func() { w.cancel(&timeoutError{what: what, d: d}) })
	err := step()
	t.Stop()
	return timedOut(w.ctx, err)
}

// stop releases the context.
func (w *watchdog) stop() { w.cancel(context.Canceled) }

// guardedReader is an object being read whose every Read is bounded by d (a backend's
// OpTimeout) through the watchdog of the request that opened it; time between Reads is not
// counted. A failed Read is described by wrap (op "read", the object's name), io.EOF passed on
// as it is. Close closes the body, then releases the watchdog.
type guardedReader struct {
	name string
	body io.ReadCloser
	wd   *watchdog
	d    time.Duration
	wrap func(op, name string, err error) error
}

func (r *guardedReader) Read(p []byte) (int, error) {
	var n int
	err := r.wd.guard(r.d, "no answer", func() error {
		var err error
		n, err = r.body.Read(p)
		return err
	})
	if err != nil && err != io.EOF {
		return n, r.wrap("read", r.name, err)
	}
	return n, err
}

func (r *guardedReader) Close() error {
	err := r.body.Close()
	r.wd.stop()
	return err
}

// readErr is the error of a failed Read of name, for backends whose read errors need no more
// than the operation and the name (GCS, S3).
func readErr(op, name string, err error) error {
	return fmt.Errorf("%s %s: %w", op, name, err)
}
