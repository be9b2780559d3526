package load

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// shardFile is one file written: a Parquet shard (to staging), or a batch's staged rows of a day.
type shardFile struct {
	shard    int
	name     string // base name
	rows     int64
	bytes    int64
	min, max time.Time
}

// shardOf is the shard of a message key: fnv-1a-64(key) mod p.
func shardOf(key string, p int) int {
	return int(keyHash(key) % uint64(p))
}

// writeRows streams the rows of src into the object dst as one Parquet file of day's rows,
// Options.RowGroupRows rows at a time, each sorted into a row group. A row of another day, or a
// message_key twice, is an error and nothing is written. Without rows nothing is written and
// the result has rows 0.
func (l *Lake) writeRows(ctx context.Context, src rowSource, day, dst, runID string) (sf shardFile, err error) {
	dayStart, err := schema.ParseDay(day)
	if err != nil {
		return sf, fmt.Errorf("%s: %w", dst, err)
	}
	dayNumber := utcDayNumber(dayStart)
	keys := make(map[string]struct{})
	// Up to a row group of rows, in a buffer the lake's merges share: a row group of 64Ki rows
	// is about 25 MB of Go values, too much to grow afresh for every file.
	buf := l.rowBufs.get()
	defer l.rowBufs.put(buf)
	batch := (*buf)[:0]
	defer func() { *buf = batch }()

	var w storage.Writer
	var rw *messageFileWriter
	defer func() {
		if err != nil && rw != nil {
			rw.abort()
		}
		if err != nil && w != nil {
			_ = w.Abort() // nothing becomes visible; a later run sweeps what is left
		}
	}()

	for eof := false; !eof; {
		if err := ctx.Err(); err != nil {
			return sf, err
		}
		batch = batch[:0]
		for len(batch) < l.opts.RowGroupRows {
			batch = append(batch, schema.Message{})
			m := &batch[len(batch)-1]
			err := src.next(m)
			if err == io.EOF {
				batch = batch[:len(batch)-1]
				eof = true
				break
			}
			if err != nil {
				return sf, err
			}
			if utcDayNumber(m.SentAt) != dayNumber {
				return sf, fmt.Errorf("message %s sent at %s is not of day %s", m.MessageKey, m.SentAt, day)
			}
			if _, dup := keys[m.MessageKey]; dup {
				return sf, fmt.Errorf("message_key %q: %w", m.MessageKey, ErrDuplicateKey)
			}
			keys[m.MessageKey] = struct{}{}
			if sf.rows == 0 || m.SentAt.Before(sf.min) {
				sf.min = m.SentAt
			}
			if sf.rows == 0 || m.SentAt.After(sf.max) {
				sf.max = m.SentAt
			}
			sf.rows++
		}
		if len(batch) == 0 {
			break
		}
		if w == nil {
			if w, err = l.store.Create(ctx, dst); err != nil {
				w = nil
				return sf, fmt.Errorf("create %s: %w", dst, err)
			}
			if rw, err = newMessageFileWriter(w, l.opts.Allocator, l.opts.RowGroupRows, runID); err != nil {
				rw = nil
				return sf, err
			}
		}
		if err := rw.write(batch); err != nil {
			return sf, fmt.Errorf("%s: %w", dst, err)
		}
	}
	if w == nil {
		return sf, nil
	}
	if err := rw.close(); err != nil {
		return sf, fmt.Errorf("%s: %w", dst, err)
	}
	sf.bytes = rw.size()
	rw = nil
	if err := w.Close(); err != nil {
		w = nil // a failed Close leaves nothing to abort
		return sf, fmt.Errorf("close %s: %w", dst, err)
	}
	w = nil
	return sf, nil
}

// rowBuffers lends buffers of rows to writeRows, one per file being written at a time.
type rowBuffers struct{ pool sync.Pool }

func (r *rowBuffers) get() *[]schema.Message {
	if b, ok := r.pool.Get().(*[]schema.Message); ok {
		return b
	}
	return new([]schema.Message)
}

// put takes a buffer back, cleared so that it keeps no row's strings alive.
func (r *rowBuffers) put(b *[]schema.Message) {
	clear((*b)[:cap(*b)])
	*b = (*b)[:0]
	r.pool.Put(b)
}
