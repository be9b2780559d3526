package schema

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// MessageBuilder accumulates Message rows into Arrow record batches of the Messages() schema.
// It is not safe for concurrent use. Release it when done.
type MessageBuilder struct {
	rb *array.RecordBuilder

	strs    [numMsgCols]*array.StringBuilder // string columns by index; nil for the others
	sentAt  *array.TimestampBuilder
	extAt   *array.TimestampBuilder
	options *array.ListBuilder
	optVals *array.StringBuilder
}

// NewMessageBuilder returns an empty MessageBuilder that allocates from mem.
func NewMessageBuilder(mem memory.Allocator) *MessageBuilder {
	rb := array.NewRecordBuilder(mem, Messages())
	b := &MessageBuilder{rb: rb}
	for i := range numMsgCols {
		if sb, ok := rb.Field(i).(*array.StringBuilder); ok {
			b.strs[i] = sb
		}
	}
	b.sentAt = rb.Field(colMsgSentAt).(*array.TimestampBuilder)
	b.extAt = rb.Field(colMsgExtractedAt).(*array.TimestampBuilder)
	b.options = rb.Field(colMsgOptions).(*array.ListBuilder)
	b.optVals = b.options.ValueBuilder().(*array.StringBuilder)
	return b
}

// Append adds one row. Times are converted to UTC epoch milliseconds (sub-millisecond precision
// is truncated); nil pointers and a nil Options slice are NULL, an empty non-nil Options is an
// empty list.
func (b *MessageBuilder) Append(m *Message) {
	b.strs[colMsgCustomerID].Append(m.CustomerID)
	b.strs[colMsgBotKey].Append(m.BotKey)
	b.strs[colMsgChannelUserID].Append(m.ChannelUserID)
	appendOpt(b.strs[colMsgChannel], m.Channel)
	appendOpt(b.strs[colMsgUserID], m.UserID)
	b.strs[colMsgSender].Append(m.Sender)
	b.strs[colMsgMessageType].Append(m.MessageType)
	appendOpt(b.strs[colMsgText], m.Text)
	b.sentAt.Append(toMS(m.SentAt))
	b.strs[colMsgSourceTimestamp].Append(m.SourceTimestamp)
	appendOpt(b.strs[colMsgFileURL], m.FileURL)
	appendOpt(b.strs[colMsgFileMimeType], m.FileMimeType)
	appendOpt(b.strs[colMsgFileUploadType], m.FileUploadType)
	appendOpt(b.strs[colMsgAgentID], m.AgentID)
	appendList(b.options, b.optVals, m.Options)
	appendOpt(b.strs[colMsgTemplateName], m.TemplateName)
	appendOpt(b.strs[colMsgTemplateLanguage], m.TemplateLanguage)
	appendOpt(b.strs[colMsgBroadcastID], m.BroadcastID)
	appendOpt(b.strs[colMsgExtraJSON], m.ExtraJSON)
	b.strs[colMsgMessageKey].Append(m.MessageKey)
	b.strs[colMsgRunID].Append(m.RunID)
	b.extAt.Append(toMS(m.ExtractedAt))
}

// AppendRows appends rows, having reserved room for all of them first: one allocation per
// buffer rather than a series of doublings, each a copy of what came before.
func (b *MessageBuilder) AppendRows(rows []Message) {
	var sz MessageSizes
	opt := func(col int, s *string) {
		if s != nil {
			sz.Data[col] += len(*s)
		}
	}
	for i := range rows {
		m := &rows[i]
		sz.Data[colMsgCustomerID] += len(m.CustomerID)
		sz.Data[colMsgBotKey] += len(m.BotKey)
		sz.Data[colMsgChannelUserID] += len(m.ChannelUserID)
		opt(colMsgChannel, m.Channel)
		opt(colMsgUserID, m.UserID)
		sz.Data[colMsgSender] += len(m.Sender)
		sz.Data[colMsgMessageType] += len(m.MessageType)
		opt(colMsgText, m.Text)
		sz.Data[colMsgSourceTimestamp] += len(m.SourceTimestamp)
		opt(colMsgFileURL, m.FileURL)
		opt(colMsgFileMimeType, m.FileMimeType)
		opt(colMsgFileUploadType, m.FileUploadType)
		opt(colMsgAgentID, m.AgentID)
		opt(colMsgTemplateName, m.TemplateName)
		opt(colMsgTemplateLanguage, m.TemplateLanguage)
		opt(colMsgBroadcastID, m.BroadcastID)
		opt(colMsgExtraJSON, m.ExtraJSON)
		sz.Data[colMsgMessageKey] += len(m.MessageKey)
		sz.Data[colMsgRunID] += len(m.RunID)
		sz.Items += len(m.Options)
		for _, o := range m.Options {
			sz.ItemBytes += len(o)
		}
	}
	sz.Rows = len(rows)
	b.Reserve(sz)
	for i := range rows {
		b.Append(&rows[i])
	}
}

// MessageSizes is how much a MessageBuilder holds, or is to make room for: rows, the bytes of
// values of each string column (by its index in Messages(); 0 for the other columns), and the
// items of options and their bytes.
type MessageSizes struct {
	Rows      int
	Data      [numMsgCols]int
	Items     int
	ItemBytes int
}

// Sizes is what the builder holds: the rows appended since the last NewRecord and their
// values' sizes.
func (b *MessageBuilder) Sizes() MessageSizes {
	sz := MessageSizes{Rows: b.Len(), Items: b.optVals.Len(), ItemBytes: b.optVals.DataLen()}
	for col, sb := range b.strs {
		if sb != nil {
			sz.Data[col] = sb.DataLen()
		}
	}
	return sz
}

// Reserve makes room for sz more rows and values, so that appending them allocates nothing.
func (b *MessageBuilder) Reserve(sz MessageSizes) {
	b.rb.Reserve(sz.Rows)
	for col, sb := range b.strs {
		if sb != nil && sz.Data[col] > 0 {
			sb.ReserveData(sz.Data[col])
		}
	}
	b.optVals.Reserve(sz.Items)
	b.optVals.ReserveData(sz.ItemBytes)
}

// Len is the number of rows appended since the last NewRecord.
func (b *MessageBuilder) Len() int { return b.strs[colMsgCustomerID].Len() }

// NewRecord returns the rows appended so far as one record batch and resets the builder. The
// caller owns the batch and must Release it.
func (b *MessageBuilder) NewRecord() arrow.RecordBatch { return b.rb.NewRecordBatch() }

// Release frees the builder's buffers. The builder must not be used afterwards.
func (b *MessageBuilder) Release() { b.rb.Release() }

// UserBuilder accumulates User rows into Arrow record batches of the Users() schema.
// It is not safe for concurrent use. Release it when done.
type UserBuilder struct {
	rb *array.RecordBuilder

	strs      [numUserCols]*array.StringBuilder
	createdAt *array.TimestampBuilder
	extAt     *array.TimestampBuilder
	selectors *array.ListBuilder
	selVals   *array.StringBuilder
}

// NewUserBuilder returns an empty UserBuilder that allocates from mem.
func NewUserBuilder(mem memory.Allocator) *UserBuilder {
	rb := array.NewRecordBuilder(mem, Users())
	b := &UserBuilder{rb: rb}
	for i := range numUserCols {
		if sb, ok := rb.Field(i).(*array.StringBuilder); ok {
			b.strs[i] = sb
		}
	}
	b.createdAt = rb.Field(colUserCreatedAt).(*array.TimestampBuilder)
	b.extAt = rb.Field(colUserExtractedAt).(*array.TimestampBuilder)
	b.selectors = rb.Field(colUserSelectors).(*array.ListBuilder)
	b.selVals = b.selectors.ValueBuilder().(*array.StringBuilder)
	return b
}

// Append adds one row, with the same conversions as MessageBuilder.Append.
func (b *UserBuilder) Append(u *User) {
	b.strs[colUserCustomerID].Append(u.CustomerID)
	b.strs[colUserBotKey].Append(u.BotKey)
	b.strs[colUserChannelUserID].Append(u.ChannelUserID)
	appendOpt(b.strs[colUserChannel], u.Channel)
	if u.CreatedAt == nil {
		b.createdAt.AppendNull()
	} else {
		b.createdAt.Append(toMS(*u.CreatedAt))
	}
	appendOpt(b.strs[colUserSourceCreatedAt], u.SourceCreatedAt)
	b.strs[colUserAttributesJSON].Append(u.AttributesJSON)
	appendList(b.selectors, b.selVals, u.Selectors)
	appendOpt(b.strs[colUserExtraJSON], u.ExtraJSON)
	b.strs[colUserRunID].Append(u.RunID)
	b.extAt.Append(toMS(u.ExtractedAt))
}

// Len is the number of rows appended since the last NewRecord.
func (b *UserBuilder) Len() int { return b.strs[colUserCustomerID].Len() }

// NewRecord returns the rows appended so far as one record batch and resets the builder. The
// caller owns the batch and must Release it.
func (b *UserBuilder) NewRecord() arrow.RecordBatch { return b.rb.NewRecordBatch() }

// Release frees the builder's buffers. The builder must not be used afterwards.
func (b *UserBuilder) Release() { b.rb.Release() }

// toMS converts t to epoch milliseconds in UTC, truncating (flooring) sub-millisecond digits.
func toMS(t time.Time) arrow.Timestamp { return arrow.Timestamp(t.UnixMilli()) }

func appendOpt(b *array.StringBuilder, s *string) {
	if s == nil {
		b.AppendNull()
		return
	}
	b.Append(*s)
}

func appendList(lb *array.ListBuilder, vb *array.StringBuilder, items []string) {
	if items == nil {
		lb.AppendNull()
		return
	}
	lb.Append(true)
	// One Append per item: AppendValues reserves exactly the bytes it needs on every call,
	// which reallocates the whole value buffer for every row (quadratic).
	for _, it := range items {
		vb.Append(it)
	}
}
