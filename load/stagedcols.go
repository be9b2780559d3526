package load

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/chatlake/chatlake/schema"
)

// The staged columns: what a staged part's record batches hold, by the part's format
// (StagedPart.Format, in the batch's done record; the part's schema says it too).
//
// Format 0 (stagedFormatRows, the binaries before this one): the rows as the messages schema
// (schema.Messages()).
//
// Format 1 (stagedFormatCompact): the messages schema less what the part can rebuild. Chosen
// by BenchmarkStagedColumns: format 0 is about 132 bytes a row of LZ4-compressed columns on
// the simulator's rows, of which message_key 38, source_timestamp 18, user_id 8, and
// customer_id, bot_key, run_id and extracted_at 13 together (mostly their offsets, which LZ4
// barely compresses); format 1 is about 77:
//   - customer_id, bot_key, run_id and extracted_at, where every row of the batch has the
//     same value (one run and one source: always, from package pipelines), are not columns:
//     the part's schema metadata holds the value (metaConstPrefix and the column's name). A
//     column whose value varies stays.
//   - message_key is NULL where it has the form transform.MessageKey makes (32 lower-case hex
//     digits, '-', an occurrence without sign or leading zero, below 2^31): then
//     message_key_id holds the 16 bytes of the digits and message_key_n the occurrence. Any
//     other key is the string itself, and those two are zero.
//   - source_timestamp is NULL where it is sent_at written in one of the API's forms at a
//     whole-minute UTC offset: source_timestamp_form says which and at what offset
//     (tsCode, below); else it is the string as received, and the form 0.
//   - user_id is NULL where it is the row's channel_user_id, and user_id_is_channel_user_id
//     true; else it is as in the messages schema and the flag false.
//
// Every other column is as in the messages schema, in its order; the four added columns come
// last. Whether a value can be rebuilt is decided by writing it back and comparing, so any
// row round-trips. One encoder (stagedColumns.encode, used by stagedWriter) and one decoder
// (stagedColumns.decode, used by streamDecoder for every staged segment) make and read it;
// whatever reads staged rows gets record batches of the messages schema.
//
// Format 2 (stagedFramed, what FinishBatch writes): format 1's columns in another container.
// Formats 0 and 1 are Arrow IPC files with LZ4 body compression, one LZ4 frame per buffer of
// each record batch (about 70 per record batch of format 1, each with its own frame header,
// block buffer and hash table, and decoded into a buffer of its own); a batch's record batch
// of one day holds about 140 rows at 200k messages, so the frames, not the bytes, made most of
// the cost of writing and reading staged rows. A format 2 part starts as an Arrow IPC file
// does (magic, schema message: the same header) and then holds each segment (a day's record
// batches, StagedDay) as one S2 stream (github.com/klauspost/compress/s2: Snappy's framing
// format, extended; a CRC-32C per block) of their IPC messages, uncompressed inside; it has no
// footer. A segment decompressed behind the header is an Arrow IPC stream, as a segment of
// format 1 is (segmentStreamOf).
const (
	stagedFormatRows    = 0
	stagedFormatCompact = 1
	stagedFormatFramed  = 2
)

// metaStagedFormat is the key of a format 1 part's format in its schema metadata; an omitted
// constant column's value is under metaConstPrefix and the column's name.
const (
	metaStagedFormat = "chatlake.staged.format"
	metaConstPrefix  = "chatlake.staged.const."
)

// Column indexes of schema.Messages() that format 1 changes.
const (
	msgCustomerID      = 0
	msgBotKey          = 1
	msgChannelUserID   = 2
	msgUserID          = 4
	msgSentAt          = 8
	msgSourceTimestamp = 9
	msgMessageKey      = 19
	msgRunID           = 20
	msgExtractedAt     = 21
	msgCols            = 22
)

// isConstColumn tells the columns that format 1 leaves out when a batch's rows share a value.
func isConstColumn(i int) bool {
	return i == msgCustomerID || i == msgBotKey || i == msgRunID || i == msgExtractedAt
}

// messageKeyIDLen is the number of bytes of a message key's hex digits.
const messageKeyIDLen = 16

// batchConstants notes which of customer_id, bot_key, run_id and extracted_at every row added
// to a Stage has the same value of, and the value.
type batchConstants struct {
	rows        int64
	customerID  string
	botKey      string
	runID       string
	extractedAt int64 // epoch milliseconds
	varies      [msgCols]bool
}

// add notes the values of m.
func (c *batchConstants) add(m *schema.Message) {
	ext := m.ExtractedAt.UnixMilli()
	if c.rows == 0 {
		*c = batchConstants{customerID: strings.Clone(m.CustomerID), botKey: strings.Clone(m.BotKey),
			runID: strings.Clone(m.RunID), extractedAt: ext}
	}
	c.rows++
	c.varies[msgCustomerID] = c.varies[msgCustomerID] || m.CustomerID != c.customerID
	c.varies[msgBotKey] = c.varies[msgBotKey] || m.BotKey != c.botKey
	c.varies[msgRunID] = c.varies[msgRunID] || m.RunID != c.runID
	c.varies[msgExtractedAt] = c.varies[msgExtractedAt] || ext != c.extractedAt
}

// stagedColumns makes and reads the record batches of one staged format.
type stagedColumns struct {
	format int
	schema *arrow.Schema   // of the part's record batches
	omit   [msgCols]bool   // format 1: a constant column, left out
	value  [msgCols]string // the value of an omitted column (extracted_at: epoch ms, decimal)
	ext    int64           // extracted_at's value, if omitted
	col    [msgCols]int    // format 1: the staged column of a messages column
	keyID  int             // format 1: message_key_id's column
	fields int             // format 1: the number of columns
	// messages is schema.Messages(), of the record batches decode returns (made once: a
	// schema costs about 50 allocations).
	messages *arrow.Schema
}

// newStagedColumns returns the staged columns of format for rows with the constants c.
func newStagedColumns(format int, c batchConstants) (*stagedColumns, error) {
	switch format {
	case stagedFormatRows:
		sc := schema.Messages()
		return &stagedColumns{format: format, schema: sc, messages: sc}, nil
	case stagedFormatCompact, stagedFormatFramed:
		var omit [msgCols]bool
		var value [msgCols]string
		for i := range msgCols {
			if isConstColumn(i) && c.rows > 0 && !c.varies[i] {
				omit[i] = true
			}
		}
		value[msgCustomerID], value[msgBotKey], value[msgRunID] = c.customerID, c.botKey, c.runID
		value[msgExtractedAt] = strconv.FormatInt(c.extractedAt, 10)
		return compactColumns(format, omit, value, c.extractedAt), nil
	}
	return nil, fmt.Errorf("%w: staged format %d is not known", errCorruptStaged, format)
}

// compactColumns returns the staged columns of format (1 or 2: the same columns) that leave out
// the columns omit, of the values value (extracted_at's: ext).
func compactColumns(format int, omit [msgCols]bool, value [msgCols]string, ext int64) *stagedColumns {
	c := &stagedColumns{format: format, omit: omit, ext: ext, messages: schema.Messages()}
	keys := []string{schema.MetaTable, schema.MetaSchemaVersion, metaStagedFormat}
	vals := []string{schema.MessagesTable, schema.MessagesVersion, strconv.Itoa(format)}
	var fields []arrow.Field
	for i, f := range c.messages.Fields() {
		c.col[i] = -1
		if omit[i] {
			c.value[i] = value[i]
			keys, vals = append(keys, metaConstPrefix+f.Name), append(vals, value[i])
			continue
		}
		if i == msgSourceTimestamp || i == msgMessageKey {
			f.Nullable = true
		}
		c.col[i] = len(fields)
		fields = append(fields, f)
	}
	c.keyID = len(fields)
	fields = append(fields,
		arrow.Field{Name: "message_key_id", Type: &arrow.FixedSizeBinaryType{ByteWidth: messageKeyIDLen}},
		arrow.Field{Name: "message_key_n", Type: arrow.PrimitiveTypes.Int32},
		arrow.Field{Name: "source_timestamp_form", Type: arrow.PrimitiveTypes.Int16},
		arrow.Field{Name: "user_id_is_channel_user_id", Type: arrow.FixedWidthTypes.Boolean})
	c.fields = len(fields)
	md := arrow.NewMetadata(keys, vals)
	c.schema = arrow.NewSchema(fields, &md)
	return c
}

// columnsOf returns the staged columns of a stream of the schema sc.
type columnsOf func(sc *arrow.Schema) (*stagedColumns, error)

// formatColumns is the columnsOf of a stream of format.
func formatColumns(format int) columnsOf {
	return func(sc *arrow.Schema) (*stagedColumns, error) { return stagedColumnsOf(format, sc) }
}

// partColumns is the columnsOf of the segments of the staged part p, which all have its header:
// its staged columns are made from the first and kept (one allocation per segment after).
func (l *Lake) partColumns(p StagedPart) columnsOf {
	return func(sc *arrow.Schema) (*stagedColumns, error) {
		if c, ok := l.columns.Load(p.Name); ok {
			return c.(*stagedColumns), nil
		}
		c, err := stagedColumnsOf(p.Format, sc)
		if err != nil {
			return nil, err
		}
		l.columns.Store(p.Name, c)
		return c, nil
	}
}

// stagedColumnsOf returns the staged columns of a part whose stream has the schema sc and that
// the done record says is of format.
func stagedColumnsOf(format int, sc *arrow.Schema) (*stagedColumns, error) {
	switch format {
	case stagedFormatRows:
		c, _ := newStagedColumns(stagedFormatRows, batchConstants{})
		if !c.schema.Equal(sc) {
			return nil, fmt.Errorf("%w: not the messages schema: %s", errCorruptStaged, sc)
		}
		return c, nil
	case stagedFormatCompact, stagedFormatFramed:
	default:
		return nil, fmt.Errorf("%w: staged format %d is not known", errCorruptStaged, format)
	}
	md := sc.Metadata()
	if i := md.FindKey(metaStagedFormat); i < 0 || md.Values()[i] != strconv.Itoa(format) {
		return nil, fmt.Errorf("%w: a part not of format %d, which the index says", errCorruptStaged, format)
	}
	var omit [msgCols]bool
	var value [msgCols]string
	var ext int64
	for i, f := range schema.Messages().Fields() {
		k := md.FindKey(metaConstPrefix + f.Name)
		if k < 0 {
			continue
		}
		if !isConstColumn(i) {
			return nil, fmt.Errorf("%w: %s left out", errCorruptStaged, f.Name)
		}
		omit[i], value[i] = true, md.Values()[k]
		if i == msgExtractedAt {
			var err error
			if ext, err = strconv.ParseInt(value[i], 10, 64); err != nil {
				return nil, fmt.Errorf("%w: extracted_at %q", errCorruptStaged, value[i])
			}
		}
	}
	c := compactColumns(format, omit, value, ext)
	if !arrow.NewSchema(c.schema.Fields(), nil).Equal(arrow.NewSchema(sc.Fields(), nil)) {
		return nil, fmt.Errorf("%w: not the staged schema of format %d: %s", errCorruptStaged, format, sc)
	}
	return c, nil
}

// encode returns rec, a record batch of the messages schema, as a record batch of c's format.
// The caller releases both. A row whose value of an omitted column is not c's is an error.
func (c *stagedColumns) encode(rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	if c.format == stagedFormatRows {
		rec.Retain()
		return rec, nil
	}
	n := int(rec.NumRows())
	keys, id, occ := encodeMessageKeys(rec.Column(msgMessageKey).(*array.String))
	ts, forms := encodeSourceTimestamps(rec.Column(msgSourceTimestamp).(*array.String), rec.Column(msgSentAt).(*array.Timestamp).Values())
	users, same := encodeUserIDs(rec.Column(msgUserID).(*array.String), rec.Column(msgChannelUserID).(*array.String))
	cols := make([]arrow.Array, 0, c.fields)
	defer func() {
		for _, a := range cols {
			a.Release()
		}
	}()
	for i, a := range rec.Columns() {
		if c.omit[i] {
			if err := c.checkConstant(i, a); err != nil {
				cols = append(cols, keys, id, occ, ts, forms, users, same)
				return nil, fmt.Errorf("column %s: %w", rec.ColumnName(i), err)
			}
			continue
		}
		switch i {
		case msgSourceTimestamp:
			cols = append(cols, ts)
		case msgUserID:
			cols = append(cols, users)
		case msgMessageKey:
			cols = append(cols, keys)
		default:
			a.Retain()
			cols = append(cols, a)
		}
	}
	cols = append(cols, id, occ, forms, same)
	return array.NewRecordBatch(c.schema, cols, int64(n)), nil
}

// checkConstant checks that the column i of a record batch holds c's value in every row.
func (c *stagedColumns) checkConstant(i int, a arrow.Array) error {
	if a.NullN() > 0 {
		return errors.New("a NULL in a constant column")
	}
	if i == msgExtractedAt {
		for _, v := range a.(*array.Timestamp).Values() {
			if int64(v) != c.ext {
				return fmt.Errorf("%d, not the batch's %d", v, c.ext)
			}
		}
		return nil
	}
	s := a.(*array.String)
	for j := range s.Len() {
		if s.Value(j) != c.value[i] {
			return fmt.Errorf("%q, not the batch's %q", s.Value(j), c.value[i])
		}
	}
	return nil
}

// stringArray makes a string array of n values from its buffers (Go memory).
func stringArray(n, nulls int, valid []byte, offs []int32, data []byte) arrow.Array {
	var vb *memory.Buffer
	if nulls > 0 {
		vb = memory.NewBufferBytes(valid)
	}
	d := array.NewData(arrow.BinaryTypes.String, n,
		[]*memory.Buffer{vb, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offs)), memory.NewBufferBytes(data)}, nil, nulls, 0)
	defer d.Release()
	return array.MakeFromData(d)
}

// encodeMessageKeys returns the message_key, message_key_id and message_key_n columns of
// format 1.
func encodeMessageKeys(a *array.String) (keys, id, occ arrow.Array) {
	n := a.Len()
	valid := make([]byte, bitutil.BytesForBits(int64(n)))
	offs := make([]int32, n+1)
	var data []byte
	ids := make([]byte, n*messageKeyIDLen)
	ns := make([]int32, n)
	nulls := 0
	for i := range n {
		v := a.Value(i)
		if o, ok := parseMessageKey(v, ids[i*messageKeyIDLen:(i+1)*messageKeyIDLen]); ok {
			ns[i] = o
			nulls++
		} else {
			clear(ids[i*messageKeyIDLen : (i+1)*messageKeyIDLen])
			bitutil.SetBit(valid, i)
			data = append(data, v...)
		}
		offs[i+1] = int32(len(data))
	}
	keys = stringArray(n, nulls, valid, offs, data)
	idd := array.NewData(&arrow.FixedSizeBinaryType{ByteWidth: messageKeyIDLen}, n, []*memory.Buffer{nil, memory.NewBufferBytes(ids)}, nil, 0, 0)
	defer idd.Release()
	nd := array.NewData(arrow.PrimitiveTypes.Int32, n, []*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(ns))}, nil, 0, 0)
	defer nd.Release()
	return keys, array.MakeFromData(idd), array.MakeFromData(nd)
}

// parseMessageKey decodes k into id and returns its occurrence, if k is a key of the form
// transform.MessageKey makes, which appendMessageKey writes back the same: 32 lower-case hex
// digits, '-', an occurrence without sign or leading zero, below 2^31.
func parseMessageKey(k string, id []byte) (int32, bool) {
	const hexLen = 2 * messageKeyIDLen
	if len(k) < hexLen+2 || len(k) > hexLen+11 || k[hexLen] != '-' {
		return 0, false
	}
	for i := range messageKeyIDLen {
		hi, lo := unhex(k[2*i]), unhex(k[2*i+1])
		if hi|lo > 0xf {
			return 0, false
		}
		id[i] = hi<<4 | lo
	}
	digits := k[hexLen+1:]
	if len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	var o int64
	for i := range len(digits) {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		o = o*10 + int64(c-'0')
	}
	if o > 1<<31-1 {
		return 0, false
	}
	return int32(o), true
}

// unhex is the value of the lower-case hex digit c, or 0xff (a table: which digits a key has
// is random, and a branch on it costs more than the rest of the decoding).
func unhex(c byte) byte { return unhexTable[c] }

// unhexTable is the value of each byte as a lower-case hex digit, 0xff for others.
const unhexTable = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x0a\x0b\x0c\x0d\x0e\x0f\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"

// appendMessageKey appends the key of id and occurrence o, as transform.MessageKey writes it.
func appendMessageKey(dst, id []byte, o int32) []byte {
	dst = hex.AppendEncode(dst, id)
	dst = append(dst, '-')
	return strconv.AppendInt(dst, int64(o), 10)
}

// decode returns rec, a record batch of c's format, as a record batch of the messages schema.
// The caller releases both. rec's arrays must have been checked (checkArrays).
func (c *stagedColumns) decode(rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	if c.format == stagedFormatRows {
		rec.Retain()
		return rec, nil
	}
	if int(rec.NumCols()) != c.fields {
		return nil, fmt.Errorf("%w: %d columns, the part's schema has %d", errCorruptStaged, rec.NumCols(), c.fields)
	}
	n := int(rec.NumRows())
	sent := rec.Column(c.col[msgSentAt]).(*array.Timestamp).Values()
	cols := make([]arrow.Array, msgCols)
	defer func() {
		for _, a := range cols {
			if a != nil {
				a.Release()
			}
		}
	}()
	for i := range msgCols {
		switch {
		case c.omit[i] && i == msgExtractedAt:
			ts := make([]arrow.Timestamp, n)
			for k := range ts {
				ts[k] = arrow.Timestamp(c.ext)
			}
			d := array.NewData(c.messages.Field(msgExtractedAt).Type, n,
				[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.TimestampTraits.CastToBytes(ts))}, nil, 0, 0)
			cols[i] = array.MakeFromData(d)
			d.Release()
		case c.omit[i]:
			cols[i] = constantStrings(c.value[i], n)
		case i == msgSourceTimestamp:
			cols[i] = decodeSourceTimestamps(rec.Column(c.col[i]).(*array.String), rec.Column(c.keyID+2).(*array.Int16), sent)
		case i == msgUserID:
			cols[i] = decodeUserIDs(rec.Column(c.col[i]).(*array.String), rec.Column(c.col[msgChannelUserID]).(*array.String), rec.Column(c.keyID+3).(*array.Boolean))
		case i == msgMessageKey:
			a, err := decodeMessageKeys(rec.Column(c.col[i]).(*array.String), rec.Column(c.keyID).(*array.FixedSizeBinary), rec.Column(c.keyID+1).(*array.Int32))
			if err != nil {
				return nil, err
			}
			cols[i] = a
		default:
			a := rec.Column(c.col[i])
			a.Retain()
			cols[i] = a
		}
	}
	return array.NewRecordBatch(c.messages, cols, int64(n)), nil
}

// constantStrings is a string array of n times v.
func constantStrings(v string, n int) arrow.Array {
	data := make([]byte, 0, len(v)*n)
	offs := make([]int32, n+1)
	for i := range n {
		data = append(data, v...)
		offs[i+1] = int32(len(data))
	}
	return stringArray(n, 0, nil, offs, data)
}

// encodeUserIDs returns the user_id and user_id_is_channel_user_id columns of format 1: NULL and
// true where user_id is the row's channel_user_id, else user_id as it is and false.
func encodeUserIDs(a, channelUser *array.String) (users, same arrow.Array) {
	n := a.Len()
	valid := make([]byte, bitutil.BytesForBits(int64(n)))
	is := make([]byte, bitutil.BytesForBits(int64(n)))
	offs := make([]int32, n+1)
	var data []byte
	nulls := 0
	for i := range n {
		switch {
		case a.IsNull(i):
			nulls++
		case a.Value(i) == channelUser.Value(i):
			bitutil.SetBit(is, i)
			nulls++
		default:
			bitutil.SetBit(valid, i)
			data = append(data, a.Value(i)...)
		}
		offs[i+1] = int32(len(data))
	}
	d := array.NewData(arrow.FixedWidthTypes.Boolean, n, []*memory.Buffer{nil, memory.NewBufferBytes(is)}, nil, 0, 0)
	defer d.Release()
	return stringArray(n, nulls, valid, offs, data), array.MakeFromData(d)
}

// decodeUserIDs rebuilds the user_id column from its format 1 columns.
func decodeUserIDs(a, channelUser *array.String, same *array.Boolean) arrow.Array {
	n := a.Len()
	valid := make([]byte, bitutil.BytesForBits(int64(n)))
	offs := make([]int32, n+1)
	data := make([]byte, 0, len(a.ValueBytes())+len(channelUser.ValueBytes()))
	nulls := 0
	for i := range n {
		switch {
		case same.Value(i):
			bitutil.SetBit(valid, i)
			data = append(data, channelUser.Value(i)...)
		case a.IsNull(i):
			nulls++
		default:
			bitutil.SetBit(valid, i)
			data = append(data, a.Value(i)...)
		}
		offs[i+1] = int32(len(data))
	}
	return stringArray(n, nulls, valid, offs, data)
}

// decodeMessageKeys rebuilds the message_key column from its three format 1 columns.
func decodeMessageKeys(keys *array.String, id *array.FixedSizeBinary, occ *array.Int32) (arrow.Array, error) {
	n := keys.Len()
	if id.Len() != n || occ.Len() != n || len(occ.Int32Values()) < n {
		return nil, fmt.Errorf("%w: message key columns of %d, %d and %d rows", errCorruptStaged, n, id.Len(), occ.Len())
	}
	ns := occ.Int32Values()
	offs := make([]int32, n+1)
	data := make([]byte, 0, keys.NullN()*(2*messageKeyIDLen+3)+len(keys.ValueBytes()))
	for i := range n {
		if keys.IsNull(i) {
			if ns[i] < 0 {
				return nil, fmt.Errorf("%w: message key occurrence %d", errCorruptStaged, ns[i])
			}
			data = appendMessageKey(data, id.Value(i), ns[i])
		} else {
			data = append(data, keys.Value(i)...)
		}
		offs[i+1] = int32(len(data))
	}
	return stringArray(n, 0, nil, offs, data), nil
}

// Source timestamps in format 1 (stagedcols.go): most are sent_at written in one of the
// forms the API sends (transform.ParseTimestamp), at a UTC offset, so format 1 keeps a
// timestamp's form and offset (source_timestamp_form: offset minutes << 3 | form) and
// rebuilds the string from sent_at; a timestamp that is not so written back (another form,
// finer digits, an offset of seconds) is kept as it came, with form 0.
const (
	tsVerbatim = iota // the string is in source_timestamp
	tsDash            // 2006-01-02 15:04:05.000-0700
	tsSlash           // 2006/01/02 15:04:05.000-0700
	tsRFC             // 2006-01-02T15:04:05.000Z07:00
	tsEpoch           // epoch milliseconds, decimal
)

// tsLayout is the time package's layout of a form, for what appendTimestamp does not write.
func tsLayout(form int) string {
	switch form {
	case tsSlash:
		return "2006/01/02 15:04:05.000-0700"
	case tsRFC:
		return "2006-01-02T15:04:05.000Z07:00"
	}
	return "2006-01-02 15:04:05.000-0700"
}

// tsMaxOffset is the largest UTC offset, in minutes, a form code holds (under a day).
const tsMaxOffset = 24*60 - 1

// tsCode returns the form code of v, a source timestamp of the instant ms (sent_at), and
// whether appendTimestamp writes v back from it.
func tsCode(v string, ms int64, buf []byte) (int16, bool) {
	form, off := tsVerbatim, 0
	switch {
	case len(v) == len("2006-01-02 15:04:05.000-0700") && (v[4] == '-' || v[4] == '/') && v[10] == ' ':
		form = tsDash
		if v[4] == '/' {
			form = tsSlash
		}
		off = parseOffset(v[23], v[24:26], v[26:28])
	case len(v) == len("2006-01-02T15:04:05.000Z") && v[10] == 'T' && v[23] == 'Z':
		form = tsRFC
	case len(v) == len("2006-01-02T15:04:05.000+07:00") && v[10] == 'T' && v[26] == ':':
		form, off = tsRFC, parseOffset(v[23], v[24:26], v[27:29])
	case len(v) > 0 && len(v) <= 20 && (v[0] == '-' || '0' <= v[0] && v[0] <= '9'):
		form = tsEpoch
	default:
		return 0, false
	}
	if off < -tsMaxOffset || off > tsMaxOffset {
		return 0, false
	}
	code := int16(off<<3 | form)
	if string(appendTimestamp(buf[:0], ms, code)) != v {
		return 0, false
	}
	return code, true
}

// parseOffset is the offset in minutes of sign, hours and minutes (two digits each), or a value
// out of range if they are not an offset.
func parseOffset(sign byte, hh, mm string) int {
	digit := func(c byte) bool { return '0' <= c && c <= '9' }
	if (sign != '+' && sign != '-') || !digit(hh[0]) || !digit(hh[1]) || !digit(mm[0]) || !digit(mm[1]) {
		return tsMaxOffset + 1
	}
	off := int(hh[0]-'0')*600 + int(hh[1]-'0')*60 + int(mm[0]-'0')*10 + int(mm[1]-'0')
	if sign == '-' {
		off = -off
	}
	return off
}

// appendTimestamp appends the instant ms in the form and at the offset of code: what the time
// package writes (time.UnixMilli(ms).In(time.FixedZone("", offset*60)).Format), without its
// cost for years 0 to 9999.
func appendTimestamp(dst []byte, ms int64, code int16) []byte {
	form, off := int(code&7), int64(code>>3)
	if form == tsEpoch {
		return strconv.AppendInt(dst, ms, 10)
	}
	local := ms + off*60000
	msPart := local % 1000
	if msPart < 0 {
		msPart += 1000
	}
	sec := (local - msPart) / 1000
	days, rem := sec/86400, sec%86400
	if rem < 0 {
		rem += 86400
		days--
	}
	y, m, d := civilFromDays(days)
	if y < 0 || y > 9999 {
		return time.UnixMilli(ms).In(time.FixedZone("", int(off)*60)).AppendFormat(dst, tsLayout(form))
	}
	sep, tsep := byte('-'), byte(' ')
	switch form {
	case tsSlash:
		sep = '/'
	case tsRFC:
		tsep = 'T'
	}
	dst = appendDigits(dst, y, 4)
	dst = append(dst, sep)
	dst = appendDigits(dst, m, 2)
	dst = append(dst, sep)
	dst = appendDigits(dst, d, 2)
	dst = append(dst, tsep)
	dst = appendDigits(dst, rem/3600, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, rem/60%60, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, rem%60, 2)
	dst = append(dst, '.')
	dst = appendDigits(dst, msPart, 3)
	if form == tsRFC && off == 0 {
		return append(dst, 'Z')
	}
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	dst = append(dst, sign)
	dst = appendDigits(dst, off/60, 2)
	if form == tsRFC {
		dst = append(dst, ':')
	}
	return appendDigits(dst, off%60, 2)
}

// encodeSourceTimestamps returns the source_timestamp and source_timestamp_form columns of
// format 1: NULL and a form code where a value is sent's written in a form, else the value and
// tsVerbatim.
func encodeSourceTimestamps(a *array.String, sent []arrow.Timestamp) (strs, forms arrow.Array) {
	n := a.Len()
	valid := make([]byte, bitutil.BytesForBits(int64(n)))
	offs := make([]int32, n+1)
	codes := make([]int16, n)
	var data []byte
	nulls := 0
	var buf [32]byte
	for i := range n {
		v := a.Value(i)
		if code, ok := tsCode(v, int64(sent[i]), buf[:]); ok {
			codes[i] = code
			nulls++
		} else {
			bitutil.SetBit(valid, i)
			data = append(data, v...)
		}
		offs[i+1] = int32(len(data))
	}
	fd := array.NewData(arrow.PrimitiveTypes.Int16, n, []*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int16Traits.CastToBytes(codes))}, nil, 0, 0)
	defer fd.Release()
	return stringArray(n, nulls, valid, offs, data), array.MakeFromData(fd)
}

// decodeSourceTimestamps rebuilds the source_timestamp column from its format 1 columns.
func decodeSourceTimestamps(a *array.String, forms *array.Int16, sent []arrow.Timestamp) arrow.Array {
	n := a.Len()
	codes := forms.Int16Values()
	offs := make([]int32, n+1)
	data := make([]byte, 0, a.NullN()*len("2006-01-02T15:04:05.000+07:00")+len(a.ValueBytes()))
	for i := range n {
		if a.IsNull(i) {
			data = appendTimestamp(data, int64(sent[i]), codes[i])
		} else {
			data = append(data, a.Value(i)...)
		}
		offs[i+1] = int32(len(data))
	}
	return stringArray(n, 0, nil, offs, data)
}

// appendDigits appends v, 0 <= v < 10^width, in width decimal digits (width 2, 3 or 4).
func appendDigits(dst []byte, v int64, width int) []byte {
	const pairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
		"8081828384858687888990919293949596979899"
	switch width {
	case 4:
		hi, lo := v/100, v%100
		return append(dst, pairs[2*hi], pairs[2*hi+1], pairs[2*lo], pairs[2*lo+1])
	case 3:
		return append(dst, byte('0'+v/100), pairs[2*(v%100)], pairs[2*(v%100)+1])
	}
	return append(dst, pairs[2*v], pairs[2*v+1])
}

// civilFromDays is the proleptic Gregorian date of the day days after 1970-01-01 (Howard
// Hinnant's civil_from_days).
func civilFromDays(days int64) (y, m, d int64) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}
