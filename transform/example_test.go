package transform_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/transform"
)

func ExampleFlatten() {
	src := transform.Source{CustomerID: "1001", BotKey: "0123456789abcdef", RunID: "run-1", ExtractedAt: time.Now()}
	user := &extract.User{ID: "919565428256", Channel: "whatsapp"}
	raw := json.RawMessage(`{"user_id": "919565428256", "sender": "Bot", "message_type": "options",
		"response": "[⭐, ⭐⭐, ⭐⭐⭐]", "timestamp": "2024-05-02 15:45:33.001+0530",
		"file": null, "attachments": null, "quick_reply": true}`)

	m, err := transform.Flatten(src, user, raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	m.MessageKey = transform.MessageKey(transform.IdentityOf(&m), 0)

	fmt.Println(m.Sender, m.MessageType, m.Options)
	fmt.Println(m.SentAt.Format(time.RFC3339Nano), "from", m.SourceTimestamp)
	fmt.Println(*m.ExtraJSON)
	fmt.Println(len(m.MessageKey))
	// Output:
	// bot OPTIONS [⭐ ⭐⭐ ⭐⭐⭐]
	// 2024-05-02T10:15:33.001Z from 2024-05-02 15:45:33.001+0530
	// {"quick_reply":true}
	// 34
}
