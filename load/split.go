package load

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// splitStaged reads a day's staged sources once and writes the rows of each of the p shards,
// in the order they were staged, to a local spill file of its own in tmp (an uncompressed
// Arrow IPC stream of the messages schema, codec.go), so that no staged segment is decoded
// once per shard. It returns the staged source of each shard: its spill file, or none.
func (l *Lake) splitStaged(ctx context.Context, lay *msgLayout, day string, staged []stagedSource, p int, tmp string) (_ [][]stagedSource, err error) {
	type spill struct {
		path string
		f    *os.File
		s    *spillStream
		rows int64
	}
	spills := make([]*spill, p)
	defer func() {
		for _, sp := range spills {
			if sp != nil && sp.f != nil { // left open by an error
				_ = sp.s.w.Close()
				_ = sp.f.Close()
			}
		}
	}()
	write := func(i int, b *msgBatch, refs []rowRef) error {
		sp := spills[i]
		if sp == nil {
			sp = &spill{path: filepath.Join(tmp, fmt.Sprintf("shard-%05d.arrows", i))}
			f, err := os.Create(sp.path)
			if err != nil {
				return fmt.Errorf("split staged rows: %w", err)
			}
			sp.f, sp.s = f, newSpillStream(f, l.opts.Allocator)
			spills[i] = sp
		}
		rec, err := gatherRecord(l.opts.Allocator, lay, []*msgBatch{b}, refs)
		if err != nil {
			return fmt.Errorf("split staged rows: %w", err)
		}
		defer rec.Release()
		if err := sp.s.Write(rec); err != nil {
			return fmt.Errorf("split staged rows into %s: %w", sp.path, err)
		}
		sp.rows += rec.NumRows()
		return nil
	}

	byShard := make([][]rowRef, p)
	for _, c := range staged {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, err := c.open()
		if err != nil {
			return nil, err
		}
		err = readBatches(s, lay, func(b *msgBatch) error {
			for i := range byShard {
				byShard[i] = byShard[i][:0]
			}
			for r := range int(b.rec.NumRows()) {
				i := shardOf(b.key.Value(r), p)
				byShard[i] = append(byShard[i], rowRef{row: int32(r)})
			}
			for i, refs := range byShard {
				if len(refs) > 0 {
					if err := write(i, b, refs); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}

	out := make([][]stagedSource, p)
	for i, sp := range spills {
		if sp == nil {
			continue
		}
		err := errors.Join(sp.s.w.Close(), sp.s.flush())
		if cerr := sp.f.Close(); err == nil {
			err = cerr
		}
		sp.f = nil
		if err != nil {
			return nil, fmt.Errorf("split staged rows into %s: %w", sp.path, err)
		}
		name := fmt.Sprintf("the staged rows of %s, shard %d", day, i)
		out[i] = []stagedSource{{name: name, open: func() (*fileSource, error) {
			f, err := os.Open(sp.path)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", name, err)
			}
			return openStreamSource(f, name, sp.rows)
		}}}
	}
	return out, nil
}
