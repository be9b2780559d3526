package schema

import (
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// AppendMessages decodes every row of rec, a record batch of the Messages() schema (as a
// Parquet file of the lake reads back), and appends the rows to dst. Columns are found by
// name, so their order does not matter; a missing column or one of another type is an error
// naming it. Strings are copied: the rows do not keep rec alive.
func AppendMessages(dst []Message, rec arrow.RecordBatch) ([]Message, error) {
	var cols [numMsgCols]arrow.Array
	sch := rec.Schema()
	want := Messages()
	for i, f := range want.Fields() {
		idx := sch.FieldIndices(f.Name)
		if len(idx) != 1 {
			return dst, fmt.Errorf("messages record: column %q missing", f.Name)
		}
		col := rec.Column(idx[0])
		if !arrow.TypeEqual(col.DataType(), f.Type) {
			return dst, fmt.Errorf("messages record: column %q is %s, want %s", f.Name, col.DataType(), f.Type)
		}
		cols[i] = col
	}
	str := func(c int) *array.String { return cols[c].(*array.String) }
	val := func(c, row int) string { return strings.Clone(str(c).Value(row)) }
	opt := func(c, row int) *string {
		a := str(c)
		if a.IsNull(row) {
			return nil
		}
		s := strings.Clone(a.Value(row))
		return &s
	}
	sentAt := cols[colMsgSentAt].(*array.Timestamp)
	extAt := cols[colMsgExtractedAt].(*array.Timestamp)
	options := cols[colMsgOptions].(*array.List)
	optVals := options.ListValues().(*array.String)
	offsets := options.Offsets()

	n := int(rec.NumRows())
	for row := range n {
		m := Message{
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
		}
		if !options.IsNull(row) {
			start, end := int(offsets[row+options.Offset()]), int(offsets[row+options.Offset()+1])
			m.Options = make([]string, 0, end-start)
			for j := start; j < end; j++ {
				m.Options = append(m.Options, strings.Clone(optVals.Value(j)))
			}
		}
		dst = append(dst, m)
	}
	return dst, nil
}

func fromMS(ts arrow.Timestamp) time.Time { return time.UnixMilli(int64(ts)).UTC() }
