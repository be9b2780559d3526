package load

import (
	"context"
	"errors"
	"io"

	"github.com/chatlake/chatlake/schema"
)

// writeRows writes the rows of src into the object dst as one Parquet file of day's rows,
// through the merge's shardWriter: the tests write old partition files so.
func (l *Lake) writeRows(ctx context.Context, src rowSource, day, dst, runID string) (sf shardFile, err error) {
	lay := newMsgLayout()
	w, err := l.newShardWriter(ctx, lay, day, dst, runID)
	if err != nil {
		return sf, err
	}
	defer func() {
		if err != nil {
			w.abort()
		}
	}()
	b := schema.NewMessageBuilder(l.opts.Allocator)
	defer b.Release()
	add := func() error {
		rec := b.NewRecord()
		defer rec.Release()
		mb, err := lay.batch(rec)
		if err != nil {
			return err
		}
		return w.add(mb, w.all(int(rec.NumRows())))
	}
	for {
		var m schema.Message
		err := src.next(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return sf, err
		}
		b.Append(&m)
		if b.Len() == sourceBatchRows {
			if err := add(); err != nil {
				return sf, err
			}
		}
	}
	if b.Len() > 0 {
		if err := add(); err != nil {
			return sf, err
		}
	}
	return w.close()
}
