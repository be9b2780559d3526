package schema_test

import (
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/chatlake/chatlake/schema"
)

func ExampleMessageBuilder() {
	b := schema.NewMessageBuilder(memory.NewGoAllocator())
	defer b.Release()

	text := "Hi"
	b.Append(&schema.Message{
		CustomerID: "1001", BotKey: "0123456789abcdef", ChannelUserID: "919565428256",
		Sender: "user", MessageType: "TEXT", Text: &text,
		SentAt:          time.Date(2024, 5, 2, 15, 45, 32, 123_000_000, time.FixedZone("IST", 19800)),
		SourceTimestamp: "2024-05-02 15:45:32.123+0530",
		MessageKey:      "50e5fa481c92fac248d77540511a6abe-0", RunID: "run-1",
		ExtractedAt: time.Date(2024, 5, 4, 1, 0, 0, 0, time.UTC),
	})
	rec := b.NewRecord()
	defer rec.Release()

	fmt.Println(rec.NumRows(), "row,", rec.NumCols(), "columns")
	fmt.Println("sent_at:", rec.Column(8).ValueStr(0))
	fmt.Println("file_url null:", rec.Column(10).IsNull(0))
	// Output:
	// 1 row, 22 columns
	// sent_at: 2024-05-02T10:15:32.123Z
	// file_url null: true
}
