package schema

import (
	"fmt"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// AppendMessages decodes every row of rec, a record batch of the Messages() schema (as a
// Parquet file of the lake reads back), and appends the rows to dst. Columns are found by
// name, so their order does not matter; a missing column or one of another type is an error
// naming it. Strings are copied: the rows do not keep rec alive. Each column's values are
// copied at once (one allocation per column of the batch), so a row keeps its batch's copies
// of the columns it still refers to.
func AppendMessages(dst []Message, rec arrow.RecordBatch) ([]Message, error) {
	return appendMessages(dst, rec, false)
}

// AppendMessagesShared is AppendMessages without the copies: the rows' strings are views of
// rec's buffers. Use it only on a batch whose memory comes from a Go allocator
// (memory.NewGoAllocator), which the garbage collector keeps while a row refers to it and never
// reuses; Releasing rec is then harmless.
func AppendMessagesShared(dst []Message, rec arrow.RecordBatch) ([]Message, error) {
	return appendMessages(dst, rec, true)
}

// stringColumn reads the values of one string column of a batch: views of the array's buffer
// when shared, else views of one copy of its value bytes.
type stringColumn struct {
	a     *array.String
	share bool
	data  string // the copy, when not shared
	offs  []int32
}

func newStringColumn(a *array.String, share bool) stringColumn {
	c := stringColumn{a: a, share: share, offs: a.ValueOffsets()}
	if !share {
		c.data = string(a.ValueBytes())
	}
	return c
}

func (c *stringColumn) isNull(i int) bool { return c.a.IsNull(i) }

func (c *stringColumn) value(i int) string {
	if c.share {
		return c.a.Value(i)
	}
	base := c.offs[0]
	return c.data[c.offs[i]-base : c.offs[i+1]-base]
}

// nullableMsgCols are the nullable string columns of Messages(): their values are pointers,
// which appendMessages points into one block of strings per batch rather than allocating one
// string per value.
func nullableMsgCols() [11]int {
	return [...]int{colMsgChannel, colMsgUserID, colMsgText, colMsgFileURL, colMsgFileMimeType, colMsgFileUploadType,
		colMsgAgentID, colMsgTemplateName, colMsgTemplateLanguage, colMsgBroadcastID, colMsgExtraJSON}
}

// MessageColumns puts rec's columns into cols in the order of want's fields (Messages()), by
// name, whatever their order in rec (a Parquet file's may differ): a missing column or one of
// another type is an error naming it. It does not retain rec; cols has a slot per field of want.
func MessageColumns(rec arrow.RecordBatch, want *arrow.Schema, cols []arrow.Array) error {
	sch := rec.Schema()
	for i, f := range want.Fields() {
		idx := sch.FieldIndices(f.Name)
		if len(idx) != 1 {
			return fmt.Errorf("messages record: column %q missing", f.Name)
		}
		col := rec.Column(idx[0])
		if !arrow.TypeEqual(col.DataType(), f.Type) {
			return fmt.Errorf("messages record: column %q is %s, want %s", f.Name, col.DataType(), f.Type)
		}
		cols[i] = col
	}
	return nil
}

func appendMessages(dst []Message, rec arrow.RecordBatch, share bool) ([]Message, error) {
	var cols [numMsgCols]arrow.Array
	if err := MessageColumns(rec, Messages(), cols[:]); err != nil {
		return dst, err
	}
	var strs [numMsgCols]stringColumn
	for i, c := range cols {
		if a, ok := c.(*array.String); ok {
			strs[i] = newStringColumn(a, share)
		}
	}
	n := int(rec.NumRows())
	// One block for every non-null value of the nullable columns of the batch.
	slots := 0
	for _, c := range nullableMsgCols() {
		slots += n - strs[c].a.NullN()
	}
	block := make([]string, slots)
	val := func(c, row int) string { return strs[c].value(row) }
	opt := func(c, row int) *string {
		if strs[c].isNull(row) {
			return nil
		}
		p := &block[0]
		*p = strs[c].value(row)
		block = block[1:]
		return p
	}
	sentAt := cols[colMsgSentAt].(*array.Timestamp)
	extAt := cols[colMsgExtractedAt].(*array.Timestamp)
	options := cols[colMsgOptions].(*array.List)
	optVals := newStringColumn(options.ListValues().(*array.String), share)
	offsets := options.Offsets()
	// and one for the items of every list, each row's list being a full slice expression of it.
	items := make([]string, optVals.a.Len())
	for j := range items {
		items[j] = optVals.value(j)
	}

	dst = slices.Grow(dst, n)
	for row := range n {
		dst = append(dst, Message{
			CustomerID:       val(colMsgCustomerID, row),
			BotKey:           val(colMsgBotKey, row),
			ChannelUserID:    val(colMsgChannelUserID, row),
			Channel:          opt(colMsgChannel, row),
			UserID:           opt(colMsgUserID, row),
			Sender:           val(colMsgSender, row),
			MessageType:      val(colMsgMessageType, row),
			Text:             opt(colMsgText, row),
			SentAt:           fromMS(sentAt.Value(row)),
			SourceTimestamp:  val(colMsgSourceTimestamp, row),
			FileURL:          opt(colMsgFileURL, row),
			FileMimeType:     opt(colMsgFileMimeType, row),
			FileUploadType:   opt(colMsgFileUploadType, row),
			AgentID:          opt(colMsgAgentID, row),
			TemplateName:     opt(colMsgTemplateName, row),
			TemplateLanguage: opt(colMsgTemplateLanguage, row),
			BroadcastID:      opt(colMsgBroadcastID, row),
			ExtraJSON:        opt(colMsgExtraJSON, row),
			MessageKey:       val(colMsgMessageKey, row),
			RunID:            val(colMsgRunID, row),
			ExtractedAt:      fromMS(extAt.Value(row)),
		})
		if !options.IsNull(row) {
			start, end := int(offsets[row+options.Offset()]), int(offsets[row+options.Offset()+1])
			dst[len(dst)-1].Options = items[start:end:end]
		}
	}
	return dst, nil
}

func fromMS(ts arrow.Timestamp) time.Time { return time.UnixMilli(int64(ts)).UTC() }
