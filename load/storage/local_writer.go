package storage

import (
	"context"
	"fmt"
	"os"
	"sync"
)

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
