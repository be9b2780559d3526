package schema

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// asJSON renders v for failure messages (pointers shown as their values).
func asJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

func ptr[T any](v T) *T { return &v }

// column returns the column of rec named name, failing the test if it is missing.
func column[A arrow.Array](t *testing.T, rec arrow.RecordBatch, name string) A {
	t.Helper()
	idx := rec.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("column %s: found %d times", name, len(idx))
	}
	a, ok := rec.Column(idx[0]).(A)
	if !ok {
		t.Fatalf("column %s is %T", name, rec.Column(idx[0]))
	}
	return a
}

func optString(a *array.String, i int) *string {
	if a.IsNull(i) {
		return nil
	}
	return ptr(a.Value(i))
}

func listStrings(a *array.List, i int) []string {
	if a.IsNull(i) {
		return nil
	}
	start, end := a.ValueOffsets(i)
	vals := a.ListValues().(*array.String)
	out := make([]string, 0, end-start)
	for j := start; j < end; j++ {
		out = append(out, vals.Value(int(j)))
	}
	return out
}

func msTime(a *array.Timestamp, i int) time.Time {
	return time.UnixMilli(int64(a.Value(i))).UTC()
}

// readMessages reads the rows of a messages record batch back into Message values, by column
// name, without using the builder's code.
func readMessages(t *testing.T, rec arrow.RecordBatch) []Message {
	t.Helper()
	s := func(name string) *array.String { return column[*array.String](t, rec, name) }
	ts := func(name string) *array.Timestamp { return column[*array.Timestamp](t, rec, name) }
	options := column[*array.List](t, rec, "options")
	out := make([]Message, rec.NumRows())
	for i := range out {
		out[i] = Message{
			CustomerID:       s("customer_id").Value(i),
			BotKey:           s("bot_key").Value(i),
			ChannelUserID:    s("channel_user_id").Value(i),
			Channel:          optString(s("channel"), i),
			UserID:           optString(s("user_id"), i),
			Sender:           s("sender").Value(i),
			MessageType:      s("message_type").Value(i),
			Text:             optString(s("text"), i),
			SentAt:           msTime(ts("sent_at"), i),
			SourceTimestamp:  s("source_timestamp").Value(i),
			FileURL:          optString(s("file_url"), i),
			FileMimeType:     optString(s("file_mime_type"), i),
			FileUploadType:   optString(s("file_upload_type"), i),
			AgentID:          optString(s("agent_id"), i),
			Options:          listStrings(options, i),
			TemplateName:     optString(s("template_name"), i),
			TemplateLanguage: optString(s("template_language"), i),
			BroadcastID:      optString(s("broadcast_id"), i),
			ExtraJSON:        optString(s("extra_json"), i),
			MessageKey:       s("message_key").Value(i),
			RunID:            s("run_id").Value(i),
			ExtractedAt:      msTime(ts("extracted_at"), i),
		}
		// The non-nullable columns must have no nulls at all.
		for _, name := range []string{"customer_id", "bot_key", "channel_user_id", "sender", "message_type", "source_timestamp", "message_key", "run_id"} {
			if s(name).IsNull(i) {
				t.Errorf("row %d: %s is NULL", i, name)
			}
		}
	}
	return out
}

func readUsers(t *testing.T, rec arrow.RecordBatch) []User {
	t.Helper()
	s := func(name string) *array.String { return column[*array.String](t, rec, name) }
	created := column[*array.Timestamp](t, rec, "created_at")
	out := make([]User, rec.NumRows())
	for i := range out {
		var c *time.Time
		if !created.IsNull(i) {
			c = ptr(msTime(created, i))
		}
		out[i] = User{
			CustomerID:      s("customer_id").Value(i),
			BotKey:          s("bot_key").Value(i),
			ChannelUserID:   s("channel_user_id").Value(i),
			Channel:         optString(s("channel"), i),
			CreatedAt:       c,
			SourceCreatedAt: optString(s("source_created_at"), i),
			AttributesJSON:  s("attributes_json").Value(i),
			Selectors:       listStrings(column[*array.List](t, rec, "selectors"), i),
			ExtraJSON:       optString(s("extra_json"), i),
			RunID:           s("run_id").Value(i),
			ExtractedAt:     msTime(column[*array.Timestamp](t, rec, "extracted_at"), i),
		}
	}
	return out
}

func TestMessageBuilderRoundTrip(t *testing.T) {
	ist := time.FixedZone("IST", 5*3600+30*60)
	brt := time.FixedZone("BRT", -3*3600)
	extracted := time.Date(2024, 5, 4, 1, 2, 3, 456_789_000, time.UTC)

	full := Message{
		CustomerID: "42", BotKey: "0123456789abcdef", ChannelUserID: "919565428256",
		Channel: ptr("whatsapp"), UserID: ptr("919565428256"),
		Sender: "bot", MessageType: "TEMPLATE", Text: ptr("Your order has shipped ⭐"),
		SentAt:          time.Date(2024, 5, 3, 9, 0, 0, 0, time.UTC),
		SourceTimestamp: "2024-05-03 09:00:00.000+0000",
		FileURL:         ptr("https://files.example/a.pdf"), FileMimeType: ptr("application/pdf"), FileUploadType: ptr("DOCUMENT"),
		AgentID:      ptr("128654"),
		Options:      []string{"⭐", "⭐⭐", ""},
		TemplateName: ptr("order_shipped"), TemplateLanguage: ptr("en"), BroadcastID: ptr("nov-promo"),
		ExtraJSON:  ptr(`{"location":{"lat":1}}`),
		MessageKey: "0123abcd-0", RunID: "run-1", ExtractedAt: extracted,
	}
	fullTruncated := full
	fullTruncated.ExtractedAt = time.Date(2024, 5, 4, 1, 2, 3, 456_000_000, time.UTC)
	tests := []struct {
		name string
		in   Message
		want Message
	}{
		{name: "all columns set", in: full, want: fullTruncated},
		{
			name: "every nullable column null",
			in: Message{CustomerID: "42", BotKey: "b", ChannelUserID: "u", Sender: "user", MessageType: "TEXT",
				SentAt: time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC), SourceTimestamp: "1714608000000",
				MessageKey: "k-0", RunID: "r", ExtractedAt: extracted},
			want: Message{CustomerID: "42", BotKey: "b", ChannelUserID: "u", Sender: "user", MessageType: "TEXT",
				SentAt: time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC), SourceTimestamp: "1714608000000",
				MessageKey: "k-0", RunID: "r", ExtractedAt: time.Date(2024, 5, 4, 1, 2, 3, 456_000_000, time.UTC)},
		},
		{
			name: "empty strings and empty options are values, not nulls",
			in: Message{Channel: ptr(""), Text: ptr(""), Options: []string{},
				SentAt: time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC), ExtractedAt: extracted},
			want: Message{Channel: ptr(""), Text: ptr(""), Options: []string{},
				SentAt: time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC), ExtractedAt: time.Date(2024, 5, 4, 1, 2, 3, 456_000_000, time.UTC)},
		},
		{
			name: "non-UTC times are converted to UTC and truncated to ms",
			in: Message{
				SentAt:      time.Date(2024, 5, 3, 2, 0, 0, 123_999_999, ist),   // 2024-05-02 20:30:00.123 UTC
				ExtractedAt: time.Date(2024, 5, 1, 22, 30, 0, 500_000_001, brt), // 2024-05-02 01:30:00.500 UTC
			},
			want: Message{
				SentAt:      time.Date(2024, 5, 2, 20, 30, 0, 123_000_000, time.UTC),
				ExtractedAt: time.Date(2024, 5, 2, 1, 30, 0, 500_000_000, time.UTC),
			},
		},
		{
			name: "times before 1970 floor to the millisecond below",
			in:   Message{SentAt: time.Date(1969, 12, 31, 23, 59, 59, 999_500_000, time.UTC), ExtractedAt: extracted},
			want: Message{SentAt: time.Date(1969, 12, 31, 23, 59, 59, 999_000_000, time.UTC), ExtractedAt: time.Date(2024, 5, 4, 1, 2, 3, 456_000_000, time.UTC)},
		},
	}

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := NewMessageBuilder(mem)
	defer b.Release()

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b.Append(&tt.in)
			if b.Len() != 1 {
				t.Fatalf("Len = %d after one Append, want 1", b.Len())
			}
			rec := b.NewRecord()
			defer rec.Release()
			if b.Len() != 0 {
				t.Errorf("Len = %d after NewRecord, want 0", b.Len())
			}
			if !rec.Schema().Equal(Messages()) {
				t.Errorf("record schema:\n%s\nwant:\n%s", rec.Schema(), Messages())
			}
			got := readMessages(t, rec)
			if len(got) != 1 {
				t.Fatalf("%d rows, want 1", len(got))
			}
			if !reflect.DeepEqual(got[0], tt.want) {
				t.Errorf("round trip:\ngot  %s\nwant %s", asJSON(got[0]), asJSON(tt.want))
			}
			// AppendMessages, the lake's own reader, decodes the same row.
			dec, err := AppendMessages(nil, rec)
			if err != nil {
				t.Fatal(err)
			}
			if len(dec) != 1 || !reflect.DeepEqual(dec[0], tt.want) {
				t.Errorf("AppendMessages:\ngot  %s\nwant %s", asJSON(dec), asJSON(tt.want))
			}
		})
	}

	t.Run("AppendRows makes the record that Append row by row makes", func(t *testing.T) {
		var rows []Message
		for range 40 {
			for _, tt := range tests {
				rows = append(rows, tt.in)
			}
		}
		// Row by row.
		for i := range rows {
			b.Append(&rows[i])
		}
		want := b.NewRecord()
		defer want.Release()
		// One row first, then the rest at once: the reservation adds to what is there.
		b.Append(&rows[0])
		b.AppendRows(rows[1:])
		got := b.NewRecord()
		defer got.Release()
		if !array.RecordEqual(got, want) {
			t.Errorf("AppendRows:\n%v\nrow by row:\n%v", got, want)
		}
	})

	t.Run("several rows in one batch keep their order", func(t *testing.T) {
		for i := range 3 {
			b.Append(&Message{MessageKey: fmt.Sprintf("k-%d", i), SentAt: full.SentAt, ExtractedAt: full.SentAt})
		}
		rec := b.NewRecord()
		defer rec.Release()
		got := readMessages(t, rec)
		if len(got) != 3 {
			t.Fatalf("%d rows, want 3", len(got))
		}
		for i, m := range got {
			if want := fmt.Sprintf("k-%d", i); m.MessageKey != want {
				t.Errorf("row %d key %q, want %q", i, m.MessageKey, want)
			}
		}
	})
}

// TestAppendMessagesBatch: every row of a batch of several rows, with NULLs, empty strings and
// lists between them, decodes as it was appended, from the whole batch and from a slice of it,
// with and without shared memory.
func TestAppendMessagesBatch(t *testing.T) {
	sent := time.Date(2024, 5, 2, 10, 0, 0, 0, time.UTC)
	var rows []Message
	for i := range 9 {
		m := Message{CustomerID: "42", BotKey: "b", ChannelUserID: fmt.Sprintf("u%d", i%3), Sender: "user",
			MessageType: "TEXT", SentAt: sent.Add(time.Duration(i) * time.Second), SourceTimestamp: fmt.Sprint(i),
			MessageKey: fmt.Sprintf("k-%d", i), RunID: "r", ExtractedAt: sent}
		switch i % 3 {
		case 0:
			m.Text, m.Options, m.ExtraJSON = ptr(fmt.Sprintf("text %d", i)), []string{"a", fmt.Sprint(i)}, ptr("{}")
		case 1:
			m.Text, m.Options, m.Channel = ptr(""), []string{}, ptr("whatsapp")
		}
		rows = append(rows, m)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := NewMessageBuilder(mem)
	defer b.Release()
	for i := range rows {
		b.Append(&rows[i])
	}
	rec := b.NewRecord()
	defer rec.Release()
	slice := rec.NewSlice(2, 7)
	defer slice.Release()
	for _, tc := range []struct {
		name string
		rec  arrow.RecordBatch
		want []Message
	}{{"whole", rec, rows}, {"slice", slice, rows[2:7]}} {
		for name, decode := range map[string]func([]Message, arrow.RecordBatch) ([]Message, error){
			"AppendMessages": AppendMessages, "AppendMessagesShared": AppendMessagesShared,
		} {
			got, err := decode(nil, tc.rec)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s of the %s batch:\ngot  %s\nwant %s", name, tc.name, asJSON(got), asJSON(tc.want))
			}
		}
	}
}

func TestUserBuilderRoundTrip(t *testing.T) {
	ist := time.FixedZone("IST", 5*3600+30*60)
	extracted := time.Date(2024, 5, 4, 1, 2, 3, 0, time.UTC)
	tests := []struct {
		name string
		in   User
		want User
	}{
		{
			name: "all columns set, created_at converted to UTC",
			in: User{CustomerID: "42", BotKey: "b", ChannelUserID: "919565428256", Channel: ptr("whatsapp"),
				CreatedAt: ptr(time.Date(2024, 5, 1, 5, 0, 0, 1_900_000, ist)), SourceCreatedAt: ptr("2024-05-01 05:00:00.001+0530"),
				AttributesJSON: `{"feedback":"1"}`, Selectors: []string{"feedback=1"}, ExtraJSON: ptr(`{"x":1}`),
				RunID: "r", ExtractedAt: extracted},
			want: User{CustomerID: "42", BotKey: "b", ChannelUserID: "919565428256", Channel: ptr("whatsapp"),
				CreatedAt: ptr(time.Date(2024, 4, 30, 23, 30, 0, 1_000_000, time.UTC)), SourceCreatedAt: ptr("2024-05-01 05:00:00.001+0530"),
				AttributesJSON: `{"feedback":"1"}`, Selectors: []string{"feedback=1"}, ExtraJSON: ptr(`{"x":1}`),
				RunID: "r", ExtractedAt: extracted},
		},
		{
			name: "nullable columns null",
			in:   User{AttributesJSON: "{}", ExtractedAt: extracted},
			want: User{AttributesJSON: "{}", ExtractedAt: extracted},
		},
		{
			name: "empty selectors is an empty list",
			in:   User{Selectors: []string{}, ExtractedAt: extracted},
			want: User{Selectors: []string{}, ExtractedAt: extracted},
		},
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := NewUserBuilder(mem)
	defer b.Release()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b.Append(&tt.in)
			if b.Len() != 1 {
				t.Fatalf("Len = %d, want 1", b.Len())
			}
			rec := b.NewRecord()
			defer rec.Release()
			if !rec.Schema().Equal(Users()) {
				t.Errorf("record schema:\n%s\nwant:\n%s", rec.Schema(), Users())
			}
			got := readUsers(t, rec)
			if len(got) != 1 || !reflect.DeepEqual(got[0], tt.want) {
				t.Errorf("round trip:\ngot  %s\nwant %s", asJSON(got), asJSON(tt.want))
			}
		})
	}
}

// TestBuilderReleaseWithoutRecord proves a builder holding appended rows frees everything on
// Release, even when NewRecord was never called.
func TestBuilderReleaseWithoutRecord(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	mb := NewMessageBuilder(mem)
	mb.Append(&Message{Text: ptr("x"), Options: []string{"a"}})
	ub := NewUserBuilder(mem)
	ub.Append(&User{Selectors: []string{"a=b"}})
	if mem.CurrentAlloc() == 0 {
		t.Fatal("builders allocated nothing: the check below would prove nothing")
	}
	mb.Release()
	ub.Release()
}

func BenchmarkMessageBuilderAppend100k(b *testing.B) {
	const rows = 100_000
	msgs := make([]Message, 1000)
	base := time.Date(2024, 5, 2, 10, 15, 32, 123_000_000, time.UTC)
	for i := range msgs {
		m := Message{
			CustomerID: "42", BotKey: "0123456789abcdef", ChannelUserID: fmt.Sprintf("9195654%05d", i),
			Channel: ptr("whatsapp"), UserID: ptr(fmt.Sprintf("9195654%05d", i)),
			Sender: "user", MessageType: "TEXT", Text: ptr(fmt.Sprintf("message number %d with some words", i)),
			SentAt: base.Add(time.Duration(i) * time.Second), SourceTimestamp: "2024-05-02 10:15:32.123+0000",
			MessageKey: fmt.Sprintf("%032x-0", i), RunID: "run-1", ExtractedAt: base,
		}
		switch i % 4 {
		case 1:
			m.Sender, m.MessageType, m.Options = "bot", "OPTIONS", []string{"⭐", "⭐⭐", "⭐⭐⭐"}
		case 2:
			m.MessageType, m.FileURL, m.FileMimeType, m.FileUploadType = "FILE_RECEIVED", ptr("https://files.example/x.jpeg"), ptr("image/jpeg"), ptr("IMAGE")
		case 3:
			m.ExtraJSON = ptr(`{"attachments":[{"url":"https://x"}]}`)
		}
		msgs[i] = m
	}
	mem := memory.NewGoAllocator()
	bld := NewMessageBuilder(mem)
	defer bld.Release()
	b.ReportAllocs()
	for b.Loop() {
		for i := range rows {
			bld.Append(&msgs[i%len(msgs)])
		}
		rec := bld.NewRecord()
		if rec.NumRows() != rows {
			b.Fatalf("%d rows", rec.NumRows())
		}
		rec.Release()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}

// TestMessageBuilderReserve: Sizes says what a builder holds, and a builder that reserved the
// sizes of rows appends them without allocating.
func TestMessageBuilderReserve(t *testing.T) {
	sent := time.Date(2024, 5, 2, 10, 0, 0, 0, time.UTC)
	var rows []Message
	for i := range 50 {
		m := Message{CustomerID: "42", BotKey: "b", ChannelUserID: fmt.Sprintf("user-%d", i%7), Sender: "user",
			MessageType: "TEXT", SentAt: sent, SourceTimestamp: fmt.Sprint(i), MessageKey: fmt.Sprintf("key-%d", i),
			RunID: "r", ExtractedAt: sent}
		if i%2 == 0 {
			m.Text, m.Options = ptr(fmt.Sprintf("text of row %d", i)), []string{"a", fmt.Sprint(i)}
		}
		rows = append(rows, m)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := NewMessageBuilder(mem)
	defer b.Release()
	b.AppendRows(rows)
	sz := b.Sizes()
	want := MessageSizes{Rows: len(rows)}
	for _, m := range rows {
		want.Data[colMsgCustomerID] += len(m.CustomerID)
		want.Data[colMsgBotKey] += len(m.BotKey)
		want.Data[colMsgChannelUserID] += len(m.ChannelUserID)
		want.Data[colMsgSender] += len(m.Sender)
		want.Data[colMsgMessageType] += len(m.MessageType)
		want.Data[colMsgSourceTimestamp] += len(m.SourceTimestamp)
		want.Data[colMsgMessageKey] += len(m.MessageKey)
		want.Data[colMsgRunID] += len(m.RunID)
		if m.Text != nil {
			want.Data[colMsgText] += len(*m.Text)
		}
		want.Items += len(m.Options)
		for _, o := range m.Options {
			want.ItemBytes += len(o)
		}
	}
	if sz != want {
		t.Fatalf("Sizes() = %+v, want %+v", sz, want)
	}
	b.NewRecord().Release()
	b.Reserve(sz)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range rows {
		b.Append(&rows[i])
	}
	runtime.ReadMemStats(&after)
	if allocs := after.Mallocs - before.Mallocs; allocs != 0 {
		t.Errorf("%v allocations appending what was reserved", allocs)
	}
	if got := b.Sizes(); got != sz {
		t.Errorf("after appending again: %+v, want %+v", got, sz)
	}
	b.NewRecord().Release()
}
