package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/chatlake/chatlake/schema"
)

// sourceBatchRows is the number of rows a Parquet source decodes at a time.
const sourceBatchRows = 8 << 10

// rowSource yields rows one at a time; next returns io.EOF after the last row.
type rowSource interface {
	next(m *schema.Message) error
}

// verdict is what a source's filter says of one row.
type verdict int8

const (
	keepRow    verdict = iota
	dropRow            // removed (counted in dropped)
	otherShard         // not for this shard (counted in otherShard)
)

// parquetSource reads the rows of one local Parquet file of the messages table that its filter
// keeps, one record batch at a time. It counts the rows it read and those it left out, by cause.
type parquetSource struct {
	name   string // the object the file was downloaded from, for errors
	f      *os.File
	pf     *file.Reader
	rr     pqarrow.RecordReader
	filter func(*schema.Message) verdict

	buf        []schema.Message
	i          int
	read       int64
	dropped    int64
	otherShard int64
}

// openParquetSource opens the local file path (a copy of object name). A nil filter keeps
// every row.
func (l *Lake) openParquetSource(ctx context.Context, path, name string, filter func(*schema.Message) verdict) (s *parquetSource, err error) {
	s = &parquetSource{name: name, filter: filter}
	defer func() {
		if r := recover(); r != nil { // a corrupt file can make the reader panic
			s.close()
			s, err = nil, fmt.Errorf("read %s: corrupt parquet: %v", name, r)
		}
	}()
	if s.f, err = os.Open(path); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if s.pf, err = file.NewParquetReader(s.f); err != nil {
		s.close()
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	fr, err := pqarrow.NewFileReader(s.pf, pqarrow.ArrowReadProperties{BatchSize: sourceBatchRows}, l.opts.Allocator)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if s.rr, err = fr.GetRecordReader(ctx, nil, nil); err != nil {
		s.close()
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return s, nil
}

func (s *parquetSource) next(m *schema.Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("read %s: corrupt parquet: %v", s.name, r)
		}
	}()
	for {
		for s.i < len(s.buf) {
			row := &s.buf[s.i]
			s.i++
			if s.filter != nil {
				switch s.filter(row) {
				case dropRow:
					s.dropped++
					continue
				case otherShard:
					s.otherShard++
					continue
				}
			}
			*m = *row
			return nil
		}
		if !s.rr.Next() {
			if err := s.rr.Err(); err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("read %s: %w", s.name, err)
			}
			if s.read != s.pf.NumRows() {
				return fmt.Errorf("read %s: %d rows, the footer says %d", s.name, s.read, s.pf.NumRows())
			}
			return io.EOF
		}
		rec := s.rr.RecordBatch()
		s.buf, err = schema.AppendMessages(s.buf[:0], rec)
		if err != nil {
			return fmt.Errorf("read %s: %w", s.name, err)
		}
		s.i = 0
		s.read += int64(len(s.buf))
	}
}

func (s *parquetSource) close() {
	if s.rr != nil {
		s.rr.Release()
	}
	if s.pf != nil {
		_ = s.pf.Close()
	}
	if s.f != nil {
		_ = s.f.Close()
	}
}

// lazySource opens its Parquet source when first read and closes it at its end, so that a
// chain of many files holds one open reader (and one batch of decoded rows) at a time: the
// memory of a merge does not grow with the number of files it reads. done sees the source's
// counts when it ends.
type lazySource struct {
	open func() (*parquetSource, error)
	done func(*parquetSource)
	s    *parquetSource
	end  bool
}

func (z *lazySource) next(m *schema.Message) error {
	if z.end {
		return io.EOF
	}
	if z.s == nil {
		s, err := z.open()
		if err != nil {
			return err
		}
		z.s = s
	}
	err := z.s.next(m)
	if err == io.EOF {
		z.end = true
		if z.done != nil {
			z.done(z.s)
		}
		z.close()
	}
	return err
}

// close releases the source if it is open (after an error, or at its end).
func (z *lazySource) close() {
	if z.s != nil {
		z.s.close()
		z.s = nil
	}
}

// chainSource reads its sources one after the other.
type chainSource []rowSource

func (c *chainSource) next(m *schema.Message) error {
	for len(*c) > 0 {
		err := (*c)[0].next(m)
		if err != io.EOF {
			return err
		}
		*c = (*c)[1:]
	}
	return io.EOF
}

// download copies the object name into the local file path.
func (l *Lake) download(ctx context.Context, name, path string) error {
	r, err := l.store.Open(ctx, name)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer r.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("download %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("download %s: %w", name, err)
	}
	return nil
}
