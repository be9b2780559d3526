package transform

import (
	"regexp"
	"testing"
	"time"

	"github.com/chatlake/chatlake/schema"
)

func keyMessage() schema.Message {
	return schema.Message{
		CustomerID: "1001", BotKey: "0123456789abcdef", ChannelUserID: "919565428256",
		SentAt: time.UnixMilli(1714644932123).UTC(), Sender: "user", MessageType: "TEXT", Text: ptr("Hi"),
		// Columns outside the identity.
		Channel: ptr("whatsapp"), UserID: ptr("919565428256"), SourceTimestamp: "2024-05-02 10:15:32.123+0000",
		FileURL: ptr("https://files.example/a.jpg?sig=1"), RunID: "run-1",
	}
}

// TestMessageKeyKnown pins the algorithm. The expected keys were computed outside Go:
//
//	lp() { printf '%016x' "${#1}" | xxd -r -p; printf '%s' "$1"; }
//	{ lp 1001; lp 0123456789abcdef; lp 919565428256; printf '%016x' 1714644932123 | xxd -r -p
//	  lp user; lp TEXT; printf '\x01'; lp Hi; } | sha256sum
//	# 50e5fa481c92fac248d77540511a6abe98db9728a19032dd6f76bb9f4c20e0fe
//	{ ...same first four...; lp bot; lp IMAGE; printf '\x00'; } | sha256sum
//	# 69a0a199895f72ddd5c2c4804c58dde5d28c8ee49d617e4b925bf18342003aa6
//
// If this test fails, message keys changed: every key in the lake would change, which needs a
// schema.MessagesVersion bump.
func TestMessageKeyKnown(t *testing.T) {
	m := keyMessage()
	nullText := keyMessage()
	nullText.Sender, nullText.MessageType, nullText.Text = "bot", "IMAGE", nil
	tests := []struct {
		name       string
		m          schema.Message
		occurrence int
		wantID     string
		wantKey    string
	}{
		{"text", m, 0, "50e5fa481c92fac248d77540511a6abe98db9728a19032dd6f76bb9f4c20e0fe", "50e5fa481c92fac248d77540511a6abe-0"},
		{"text third occurrence", m, 2, "50e5fa481c92fac248d77540511a6abe98db9728a19032dd6f76bb9f4c20e0fe", "50e5fa481c92fac248d77540511a6abe-2"},
		{"null text", nullText, 0, "69a0a199895f72ddd5c2c4804c58dde5d28c8ee49d617e4b925bf18342003aa6", "69a0a199895f72ddd5c2c4804c58dde5-0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := IdentityOf(&tt.m)
			if id.String() != tt.wantID {
				t.Errorf("IdentityOf = %s, want %s", id, tt.wantID)
			}
			if got := MessageKey(id, tt.occurrence); got != tt.wantKey {
				t.Errorf("MessageKey = %s, want %s", got, tt.wantKey)
			}
		})
	}
}

func TestIdentityFields(t *testing.T) {
	base := keyMessage()
	baseID := IdentityOf(&base)
	if again := IdentityOf(&base); again != baseID {
		t.Fatal("IdentityOf is not stable across calls")
	}
	tests := []struct {
		name     string
		change   func(m *schema.Message)
		wantSame bool
	}{
		{"twin", func(m *schema.Message) {}, true},
		{"same instant in another zone", func(m *schema.Message) { m.SentAt = m.SentAt.In(time.FixedZone("IST", 19800)) }, true},
		{"sub-millisecond difference", func(m *schema.Message) { m.SentAt = m.SentAt.Add(999 * time.Microsecond) }, true},
		{"file url", func(m *schema.Message) { m.FileURL = ptr("https://files.example/a.jpg?sig=2") }, true},
		{"source timestamp text", func(m *schema.Message) { m.SourceTimestamp = "1714644932123" }, true},
		{"run and extra", func(m *schema.Message) { m.RunID, m.ExtraJSON, m.UserID = "run-2", ptr(`{"x":1}`), nil }, true},
		{"customer", func(m *schema.Message) { m.CustomerID = "1002" }, false},
		{"bot", func(m *schema.Message) { m.BotKey = "0123456789abcdee" }, false},
		{"channel user", func(m *schema.Message) { m.ChannelUserID = "919565428257" }, false},
		{"sent_at one ms later", func(m *schema.Message) { m.SentAt = m.SentAt.Add(time.Millisecond) }, false},
		{"sender", func(m *schema.Message) { m.Sender = "bot" }, false},
		{"message type", func(m *schema.Message) { m.MessageType = "OPTIONS" }, false},
		{"text", func(m *schema.Message) { m.Text = ptr("Hi!") }, false},
		{"text null vs empty", func(m *schema.Message) { m.Text = nil }, false},
		// Length prefixes keep field boundaries: moving a byte from one field to the next changes the identity.
		{"boundary customer/bot", func(m *schema.Message) { m.CustomerID, m.BotKey = "10010", "123456789abcdef" }, false},
		{"boundary sender/type", func(m *schema.Message) { m.Sender, m.MessageType = "userT", "EXT" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := keyMessage()
			tt.change(&m)
			if same := IdentityOf(&m) == baseID; same != tt.wantSame {
				t.Errorf("identity equal = %v, want %v", same, tt.wantSame)
			}
		})
	}

	empty, nullText := keyMessage(), keyMessage()
	empty.Text, nullText.Text = ptr(""), nil
	if IdentityOf(&empty) == IdentityOf(&nullText) {
		t.Error("an empty text and a NULL text have the same identity")
	}
}

func TestMessageKeyFormat(t *testing.T) {
	m := keyMessage()
	id := IdentityOf(&m)
	re := regexp.MustCompile(`^[0-9a-f]{32}-(0|[1-9][0-9]*)$`)
	seen := map[string]bool{}
	for occ := range 12 {
		k := MessageKey(id, occ)
		if !re.MatchString(k) {
			t.Errorf("MessageKey(%d) = %q, not 32 hex digits, '-', occurrence", occ, k)
		}
		if seen[k] {
			t.Errorf("MessageKey(%d) = %q repeats an earlier occurrence's key", occ, k)
		}
		seen[k] = true
		if again := MessageKey(id, occ); again != k {
			t.Errorf("MessageKey not stable: %q then %q", k, again)
		}
	}
}

func BenchmarkIdentityOf(b *testing.B) {
	m := keyMessage()
	for b.Loop() {
		_ = MessageKey(IdentityOf(&m), 0)
	}
}
