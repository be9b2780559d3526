package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/chatlake/chatlake/schema"
)

// sourceBatchRows is the number of rows a Parquet decoder decodes at a time.
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

// batchDecoder decodes the rows of one local file of the messages table a record batch at a
// time: a Parquet file (parquetDecoder) or a staged Arrow IPC file (ipcDecoder, staged.go).
type batchDecoder interface {
	// decode appends the rows of the next record batch to dst; io.EOF after the last.
	decode(dst []schema.Message) ([]schema.Message, error)
	close()
}

// fileSource reads the rows of one local file of the messages table that its filter keeps, one
// record batch at a time. It counts the rows it read and those it left out, by cause.
type fileSource struct {
	name   string    // the object the file was downloaded from, for errors
	f      io.Closer // the file read
	dec    batchDecoder
	filter func(*schema.Message) verdict

	buf        []schema.Message
	i          int
	read       int64
	dropped    int64
	otherShard int64
}

// openSource opens the local file path, a copy of the object name, as a Parquet file, or as a
// staged Arrow IPC file if name says so. A nil filter keeps every row.
func (l *Lake) openSource(ctx context.Context, path, name string, filter func(*schema.Message) verdict) (*fileSource, error) {
	s := &fileSource{name: name, filter: filter}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	s.f = f
	if isStagedIPC(name) {
		s.dec, err = newIPCDecoder(f)
	} else {
		s.dec, err = l.newParquetDecoder(ctx, f)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return s, nil
}

// openStreamSource reads a staged segment's Arrow IPC stream from r (closed with the source),
// which must hold rows rows. A nil filter keeps every row.
func openStreamSource(r io.ReadCloser, name string, rows int64, filter func(*schema.Message) verdict) (*fileSource, error) {
	dec, err := newStreamDecoder(r, rows)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return &fileSource{name: name, f: r, dec: dec, filter: filter}, nil
}

func (s *fileSource) next(m *schema.Message) error {
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
		var err error
		s.buf, err = s.dec.decode(s.buf[:0])
		if err == io.EOF {
			return io.EOF
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", s.name, err)
		}
		s.i = 0
		s.read += int64(len(s.buf))
	}
}

func (s *fileSource) close() {
	if s.dec != nil {
		s.dec.close()
	}
	if s.f != nil {
		_ = s.f.Close()
	}
}

// parquetDecoder decodes a Parquet file of the messages table sourceBatchRows rows at a time,
// copying the strings (schema.AppendMessages: the reader reuses its memory).
type parquetDecoder struct {
	pf   *file.Reader
	rr   pqarrow.RecordReader
	read int64
}

func (l *Lake) newParquetDecoder(ctx context.Context, r parquet.ReaderAtSeeker) (d *parquetDecoder, err error) {
	d = &parquetDecoder{}
	defer func() {
		if p := recover(); p != nil { // a corrupt file can make the reader panic
			d.close()
			d, err = nil, fmt.Errorf("corrupt parquet: %v", p)
		}
	}()
	if d.pf, err = file.NewParquetReader(r); err != nil {
		return nil, err
	}
	fr, err := pqarrow.NewFileReader(d.pf, pqarrow.ArrowReadProperties{BatchSize: sourceBatchRows}, l.opts.Allocator)
	if err != nil {
		d.close()
		return nil, err
	}
	if d.rr, err = fr.GetRecordReader(ctx, nil, nil); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

func (d *parquetDecoder) decode(dst []schema.Message) (out []schema.Message, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = dst, fmt.Errorf("corrupt parquet: %v", p)
		}
	}()
	if !d.rr.Next() {
		if err := d.rr.Err(); err != nil && !errors.Is(err, io.EOF) {
			return dst, err
		}
		if d.read != d.pf.NumRows() {
			return dst, fmt.Errorf("%d rows, the footer says %d", d.read, d.pf.NumRows())
		}
		return dst, io.EOF
	}
	n := len(dst)
	if dst, err = schema.AppendMessages(dst, d.rr.RecordBatch()); err != nil {
		return dst, err
	}
	d.read += int64(len(dst) - n)
	return dst, nil
}

func (d *parquetDecoder) close() {
	if d.rr != nil {
		d.rr.Release()
		d.rr = nil
	}
	if d.pf != nil {
		_ = d.pf.Close()
		d.pf = nil
	}
}

// lazySource opens its file source when first read and closes it at its end, so that a
// chain of many files holds one open reader (and one batch of decoded rows) at a time: the
// memory of a merge does not grow with the number of files it reads. done sees the source's
// counts when it ends.
type lazySource struct {
	open func() (*fileSource, error)
	done func(*fileSource)
	s    *fileSource
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

// localFiles is a store whose objects are local files (storage.Local).
type localFiles interface {
	LocalPath(name string) (string, error)
}

// readable returns a local file with the content of the object name for reading: the store's
// own file if its objects are local files, else a copy downloaded into path. The file must
// not be written to.
func (l *Lake) readable(ctx context.Context, name, path string) (string, error) {
	if lf, ok := l.store.(localFiles); ok {
		return lf.LocalPath(name)
	}
	if err := l.download(ctx, name, path); err != nil {
		return "", err
	}
	return path, nil
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
