package load

import (
	"cmp"
	"fmt"
	"io"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/chatlake/chatlake/load/icetable"
	"github.com/chatlake/chatlake/schema"
)

// metaRunID is the Parquet key-value metadata naming the run that wrote a file. The table name
// and schema version (schema.MetaTable, schema.MetaSchemaVersion) come from the Arrow schema's
// metadata, which pqarrow copies into the file's key-value metadata.
const metaRunID = "chatlake.run_id"

// fileFormat is how a table's Parquet files are encoded, beyond what every file shares (zstd,
// statistics, the stored Arrow schema).
type fileFormat struct {
	dictColumns   []string // dictionary encoded; every other column is plain unless in deltaColumns
	deltaColumns  []string // DELTA_BINARY_PACKED (integer and timestamp columns only)
	prefixColumns []string // DELTA_BYTE_ARRAY (string columns: each value stored as its prefix shared with the previous one and the rest)
	zstdLevel     int      // 0: the codec's default (3)
	pageSize      int64    // target data page size; 0: the writer's default (1 MiB)
	// iceberg: a data file of an Iceberg table: every column has its field id
	// (icetable.WithFieldIDs), timestamps are TIMESTAMP(MICROS, isAdjustedToUTC=true) as the
	// Iceberg spec requires, and no Arrow schema is stored (it would say milliseconds).
	iceberg bool
}

// messageFormat is the encoding of the messages table, chosen by BenchmarkLakeEncoding (see
// docs/benchmarks.md, issue 10): dictionaries for the columns whose values repeat within a
// file but are not one value per file (channel, sender, message_type, text, the template and
// file columns, broadcast_id, agent_id); plain for the rest: customer_id, bot_key and run_id
// hold one value per file, which zstd stores as cheaply as a dictionary without a hash lookup
// per value, and message_key, extra_json, source_timestamp, channel_user_id, user_id, file_url,
// the timestamps and options gain nothing from one. zstd at level 1: smaller and no slower
// than the default level on these files.
func messageFormat() fileFormat {
	return fileFormat{
		dictColumns: []string{
			"channel", "sender", "message_type", "text", "template_name", "template_language",
			"broadcast_id", "file_mime_type", "file_upload_type", "agent_id",
		},
		zstdLevel: 1,
	}
}

// schema is the Arrow schema of a file of table sch in this format: with field ids in an
// Iceberg data file (icetable.WithFieldIDs).
func (f fileFormat) schema(sch *arrow.Schema) (*arrow.Schema, error) {
	if !f.iceberg {
		return sch, nil
	}
	return icetable.WithFieldIDs(sch)
}

// messageFileFormat is the format of the lake's messages files: messageFormat, as Iceberg data
// files on an Iceberg lake.
func (l *Lake) messageFileFormat() fileFormat {
	f := messageFormat()
	f.iceberg = l.iceberg()
	return f
}

// Columns of the users table written with a dictionary.
func userDictionaryColumns() []string { return []string{"customer_id", "bot_key", "channel", "run_id"} }

// writerProperties are the Parquet properties of the lake's files: zstd, f's encodings, row
// groups of rowGroupRows, statistics on (the default).
func writerProperties(mem memory.Allocator, rowGroupRows int, f fileFormat) (*parquet.WriterProperties, pqarrow.ArrowWriterProperties) {
	opts := []parquet.WriterProperty{
		parquet.WithAllocator(mem),
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithDictionaryDefault(false),
		parquet.WithMaxRowGroupLength(int64(rowGroupRows)),
		parquet.WithCreatedBy("chatlake"),
	}
	if f.zstdLevel != 0 {
		opts = append(opts, parquet.WithCompressionLevel(f.zstdLevel))
	}
	if f.pageSize != 0 {
		opts = append(opts, parquet.WithDataPageSize(f.pageSize))
	}
	for _, c := range f.dictColumns {
		opts = append(opts, parquet.WithDictionaryFor(c, true))
	}
	for _, c := range f.deltaColumns {
		opts = append(opts, parquet.WithEncodingFor(c, parquet.Encodings.DeltaBinaryPacked))
	}
	for _, c := range f.prefixColumns {
		opts = append(opts, parquet.WithEncodingFor(c, parquet.Encodings.DeltaByteArray))
	}
	// The Arrow schema is stored so that readers keep timestamp[ms, tz=UTC]; Parquet itself
	// gets TIMESTAMP(MILLIS, isAdjustedToUTC=true). An Iceberg data file gets microseconds.
	arrOpts := []pqarrow.WriterOption{
		pqarrow.WithAllocator(mem),
		pqarrow.WithCoerceTimestamps(arrow.Millisecond),
		pqarrow.WithTruncatedTimestamps(true),
	}
	if f.iceberg {
		arrOpts[1] = pqarrow.WithCoerceTimestamps(arrow.Microsecond)
	} else {
		arrOpts = append(arrOpts, pqarrow.WithStoreSchema())
	}
	return parquet.NewWriterProperties(opts...), pqarrow.NewArrowWriterProperties(arrOpts...)
}

// countingWriter counts bytes and hides the Close of the underlying writer, so that pqarrow's
// Close does not commit the object: the caller Closes (or Aborts) it and checks the result.
//
// A write error is kept and reported by err, and later writes are discarded while reporting
// success: pqarrow leaks buffers when its sink fails mid-page, so it is never shown a failure.
// Callers check err after every row group and after the footer.
type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return len(p), nil
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		c.err = err
	}
	return len(p), nil
}

// messageFileWriter writes one Parquet file of messages, one row group per write.
type messageFileWriter struct {
	cw  *countingWriter
	fw  *pqarrow.FileWriter
	sch *arrow.Schema // the file's: schema.Messages(), with field ids in an Iceberg data file
	mem memory.Allocator
	b   *schema.MessageBuilder // for write, made by its first call
}

func newMessageFileWriter(w io.Writer, mem memory.Allocator, rowGroupRows int, runID string) (*messageFileWriter, error) {
	return newMessageFileWriterFormat(w, mem, rowGroupRows, runID, messageFormat())
}

func newMessageFileWriterFormat(w io.Writer, mem memory.Allocator, rowGroupRows int, runID string, f fileFormat) (*messageFileWriter, error) {
	props, arrProps := writerProperties(mem, rowGroupRows, f)
	cw := &countingWriter{w: w}
	sch, err := f.schema(schema.Messages())
	if err != nil {
		return nil, err
	}
	fw, err := pqarrow.NewFileWriter(sch, cw, props, arrProps)
	if err != nil {
		return nil, fmt.Errorf("parquet writer: %w", err)
	}
	if err := fw.AppendKeyValueMetadata(metaRunID, runID); err != nil {
		return nil, fmt.Errorf("parquet metadata: %w", err)
	}
	return &messageFileWriter{cw: cw, fw: fw, sch: sch, mem: mem}, nil
}

// write sorts rows by (channel_user_id, sent_at, message_key) and writes them as one row group.
// A merge writes record batches (writeRecord); the floor benchmark and tests write rows.
func (w *messageFileWriter) write(rows []schema.Message) error {
	slices.SortFunc(rows, compareMessages)
	if w.b == nil {
		w.b = schema.NewMessageBuilder(w.mem)
	}
	w.b.AppendRows(rows)
	// The rows are in the builders now: dropping them lets the collector take the memory their
	// strings point into while the row group is encoded.
	clear(rows)
	rec := w.b.NewRecord()
	defer rec.Release()
	return w.writeRecord(rec)
}

// writeRecord writes rec, a record batch of schema.Messages() in the order its row group
// keeps, as one row group.
func (w *messageFileWriter) writeRecord(rec arrow.RecordBatch) error {
	if !rec.Schema().Equal(w.sch) { // an Iceberg data file's field ids
		rec = array.NewRecordBatch(w.sch, rec.Columns(), rec.NumRows())
		defer rec.Release()
	}
	if err := w.fw.Write(rec); err != nil {
		return fmt.Errorf("write row group: %w", err)
	}
	if w.cw.err != nil {
		return fmt.Errorf("write row group: %w", w.cw.err)
	}
	return nil
}

// close writes the footer; it does not close the underlying object writer.
func (w *messageFileWriter) close() error {
	w.release()
	if err := w.fw.Close(); err != nil {
		return fmt.Errorf("parquet footer: %w", err)
	}
	if w.cw.err != nil {
		return fmt.Errorf("parquet footer: %w", w.cw.err)
	}
	return nil
}

// size is the number of bytes written.
func (w *messageFileWriter) size() int64 { return w.cw.n }

// abort releases the writer's memory after a failure.
func (w *messageFileWriter) abort() {
	w.release()
	_ = w.fw.Close() // the file is discarded; this only frees buffers
}

func (w *messageFileWriter) release() {
	if w.b != nil {
		w.b.Release()
		w.b = nil
	}
}

func compareMessages(a, b schema.Message) int {
	if c := cmp.Compare(a.ChannelUserID, b.ChannelUserID); c != 0 {
		return c
	}
	if c := a.SentAt.Compare(b.SentAt); c != 0 {
		return c
	}
	return cmp.Compare(a.MessageKey, b.MessageKey)
}

// writeRecords writes the record batches next returns (until nil), one row group each, as one
// Parquet file of sch into w, without closing w; it releases each batch. The batches are
// re-wrapped in sch, so batches read back from a file (whose schema carries the file's
// metadata) can be written again.
func (l *Lake) writeRecords(w io.Writer, sch *arrow.Schema, dictColumns []string, next func() (arrow.RecordBatch, error), runID string) (err error) {
	f := fileFormat{dictColumns: dictColumns, iceberg: l.iceberg()}
	props, arrProps := writerProperties(l.opts.Allocator, l.opts.RowGroupRows, f)
	if sch, err = f.schema(sch); err != nil {
		return err
	}
	cw := &countingWriter{w: w}
	fw, err := pqarrow.NewFileWriter(sch, cw, props, arrProps)
	if err != nil {
		return fmt.Errorf("parquet writer: %w", err)
	}
	defer func() {
		if err != nil {
			_ = fw.Close() // frees buffers; the object is aborted
		}
	}()
	if err := fw.AppendKeyValueMetadata(metaRunID, runID); err != nil {
		return fmt.Errorf("parquet metadata: %w", err)
	}
	for {
		rec, err := next()
		if err != nil {
			return err
		}
		if rec == nil {
			break
		}
		r := array.NewRecordBatch(sch, rec.Columns(), rec.NumRows())
		rec.Release()
		if r.NumRows() > 0 {
			err = fw.Write(r)
		}
		r.Release()
		if err == nil {
			err = cw.err
		}
		if err != nil {
			return fmt.Errorf("write row group: %w", err)
		}
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("parquet footer: %w", err)
	}
	if cw.err != nil {
		return fmt.Errorf("parquet footer: %w", cw.err)
	}
	return nil
}
