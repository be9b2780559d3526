package load

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// shardFile is one Parquet file written (to staging, or as a batch's staged rows of a day).
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
// one sorted row group at a time. A row of another day, or a message_key twice, is an error
// and nothing is written. Without rows nothing is written and the result has rows 0.
func (l *Lake) writeRows(ctx context.Context, src rowSource, day, dst, runID string) (sf shardFile, err error) {
	keys := make(map[string]struct{})
	batch := make([]schema.Message, 0, min(l.opts.RowGroupRows, 4096))

	var w storage.Writer
	var pw *messageFileWriter
	defer func() {
		if err != nil && pw != nil {
			pw.abort()
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
			if got := dayOf(m.SentAt); got != day {
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
			if pw, err = newMessageFileWriter(w, l.opts.Allocator, l.opts.RowGroupRows, runID); err != nil {
				pw = nil
				return sf, err
			}
		}
		if err := pw.writeRowGroup(batch); err != nil {
			return sf, fmt.Errorf("%s: %w", dst, err)
		}
	}
	if w == nil {
		return sf, nil
	}
	if err := pw.close(); err != nil {
		return sf, fmt.Errorf("%s: %w", dst, err)
	}
	sf.bytes = pw.cw.n
	pw = nil
	if err := w.Close(); err != nil {
		w = nil // a failed Close leaves nothing to abort
		return sf, fmt.Errorf("close %s: %w", dst, err)
	}
	w = nil
	return sf, nil
}
