package transform

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"

	"github.com/chatlake/chatlake/schema"
)

// Identity is what makes a message itself, hashed: two messages with the same Identity are
// indistinguishable in the source.
type Identity [32]byte

// IdentityOf hashes, with SHA-256, in this order:
//
//	customer_id, bot_key, channel_user_id  each as uint64 big-endian byte length, then the bytes
//	sent_at                                int64 big-endian epoch milliseconds (UTC)
//	sender, message_type                   length-prefixed like the first three
//	text                                   one byte 0 when NULL; else one byte 1, then length-prefixed
//
// It does not hash file URLs or any other column: signed file URLs and extra fields can change
// between runs while the message stays the same. The algorithm is part of the schema: changing
// it changes every message_key and needs a schema.MessagesVersion bump.
func IdentityOf(m *schema.Message) Identity {
	var stack [512]byte
	b := stack[:0]
	b = appendLenString(b, m.CustomerID)
	b = appendLenString(b, m.BotKey)
	b = appendLenString(b, m.ChannelUserID)
	b = binary.BigEndian.AppendUint64(b, uint64(m.SentAt.UnixMilli()))
	b = appendLenString(b, m.Sender)
	b = appendLenString(b, m.MessageType)
	if m.Text == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = appendLenString(b, *m.Text)
	}
	return sha256.Sum256(b)
}

// appendLenString appends s's byte length as uint64 big-endian, then s.
func appendLenString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// String is the identity in lower-case hex.
func (id Identity) String() string { return hex.EncodeToString(id[:]) }

// MessageKey is the message_key of the occurrence-th message (0 for the first) among messages
// with the same identity id (so of one user, in one millisecond), in the order the API returned
// them: the first 32 hex digits
// (128 bits) of the identity, "-", and the occurrence number in decimal, e.g.
// "3f9a0c...e1-0". The format is stable forever: changing it needs a schema.MessagesVersion bump.
func MessageKey(id Identity, occurrence int) string {
	var b [keyHexLen + 1 + 20]byte
	return string(AppendMessageKey(b[:0], id, occurrence))
}

// keyHexLen is the number of hex digits of the identity in a message key (128 bits).
const keyHexLen = 32

// AppendMessageKey appends MessageKey(id, occurrence) to dst: the keys of a page can share one
// string.
func AppendMessageKey(dst []byte, id Identity, occurrence int) []byte {
	dst = hex.AppendEncode(dst, id[:keyHexLen/2])
	dst = append(dst, '-')
	return strconv.AppendInt(dst, int64(occurrence), 10)
}
