package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/chatlake/chatlake/schema"
)

// sourceBatchRows is the number of rows a Parquet decoder decodes at a time.
const sourceBatchRows = 8 << 10

// rowSource yields rows one at a time; next returns io.EOF after the last row. A Stage's rows
// are read so (stage.go); a merge reads record batches (fileSource).
type rowSource interface {
	next(m *schema.Message) error
}

// batchDecoder decodes one local file of the messages table a record batch at a time: a
// Parquet file (parquetDecoder), a staged segment's Arrow IPC stream (streamDecoder) or a
// staged Arrow IPC file of the layout before (ipcDecoder, staged.go).
type batchDecoder interface {
	// next returns the next record batch, which the decoder owns until the next call or close
	// (Retain it to keep it longer); io.EOF after the last.
	next() (arrow.RecordBatch, error)
	close()
}

// fileSource reads the record batches of one local file of the messages table, counting the
// rows it read. A merge filters and sorts them by columns (shardWriter): no Go value per row.
type fileSource struct {
	name string    // the object the file was downloaded from, for errors
	f    io.Closer // the file read
	dec  batchDecoder
	read int64
}

// openSource opens the local file path, a copy of the object name, as a Parquet file, or as a
// staged Arrow IPC file if name says so.
func (l *Lake) openSource(ctx context.Context, path, name string) (*fileSource, error) {
	s := &fileSource{name: name}
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

// openStreamSource reads a staged segment's Arrow IPC stream of the staged columns columns
// returns (or a merge's spill of one shard's staged rows, format stagedFormatRows) from r,
// closed with the source, which must hold rows rows.
func openStreamSource(r io.ReadCloser, name string, rows int64, columns columnsOf) (*fileSource, error) {
	dec, err := newStreamDecoder(r, rows, columns)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return &fileSource{name: name, f: r, dec: dec}, nil
}

// next returns the next record batch of the file, owned by the source until the next call
// (Retain it to keep it); io.EOF after the last.
func (s *fileSource) next() (arrow.RecordBatch, error) {
	rec, err := s.dec.next()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.name, err)
	}
	s.read += rec.NumRows()
	return rec, nil
}

func (s *fileSource) close() {
	if s.dec != nil {
		s.dec.close()
	}
	if s.f != nil {
		_ = s.f.Close()
	}
}

// parquetDecoder decodes a Parquet file of the messages table sourceBatchRows rows at a time.
type parquetDecoder struct {
	pf   *file.Reader
	rr   pqarrow.RecordReader
	read int64
	mem  memory.Allocator
	conv arrow.RecordBatch // the last batch converted to milliseconds (millisOf), released by next and close
}

func (l *Lake) newParquetDecoder(ctx context.Context, r parquet.ReaderAtSeeker) (d *parquetDecoder, err error) {
	d = &parquetDecoder{mem: l.opts.Allocator}
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

func (d *parquetDecoder) next() (rec arrow.RecordBatch, err error) {
	defer func() {
		if p := recover(); p != nil {
			rec, err = nil, fmt.Errorf("corrupt parquet: %v", p)
		}
	}()
	if !d.rr.Next() {
		if err := d.rr.Err(); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if d.read != d.pf.NumRows() {
			return nil, fmt.Errorf("%d rows, the footer says %d", d.read, d.pf.NumRows())
		}
		return nil, io.EOF
	}
	rec = d.rr.RecordBatch()
	d.read += rec.NumRows()
	d.releaseConv()
	if c := millisOf(d.mem, rec); c != nil { // an Iceberg data file
		d.conv, rec = c, c
	}
	return rec, nil
}

func (d *parquetDecoder) releaseConv() {
	if d.conv != nil {
		d.conv.Release()
		d.conv = nil
	}
}

func (d *parquetDecoder) close() {
	d.releaseConv()
	if d.rr != nil {
		d.rr.Release()
		d.rr = nil
	}
	if d.pf != nil {
		_ = d.pf.Close()
		d.pf = nil
	}
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
	if _, err := copyToFile(path, r); err != nil {
		return fmt.Errorf("download %s: %w", name, err)
	}
	return nil
}

// copyToFile writes what r reads into the new local file path and returns how many bytes.
func copyToFile(path string, r io.Reader) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}
