package transform

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/chatlake/chatlake/internal/jsonscan"
	"github.com/chatlake/chatlake/schema"
)

// DefaultPIIAttributes returns the attribute names a Pseudonymizer hashes unless told
// otherwise: phone, email, name.
func DefaultPIIAttributes() []string { return []string{"phone", "email", "name"} }

// MinPseudonymKeyLen is the shortest key NewPseudonymizer accepts, in bytes.
const MinPseudonymKeyLen = 16

// Labels of the values derived from the key; each use of the key has its own.
const (
	fingerprintLabel = "chatlake-fingerprint"
	sealingLabel     = "chatlake-sealing-key-v1"
)

// Pseudonymizer replaces user ids and PII attribute values by keyed hashes: the lower-case hex
// of HMAC-SHA256(key, value). Without the key nobody can compute a pseudonym, so nobody can
// recover an id by hashing candidates (phone numbers are few enough to enumerate). The key is
// kept only inside; no method returns it, and String/GoString/LogValue print nothing of it.
type Pseudonymizer struct {
	key []byte
	pii []string // lower case
}

// NewPseudonymizer makes a Pseudonymizer with key (used as given: the caller trims it) and the
// attribute names to hash (nil: DefaultPIIAttributes). A key shorter than MinPseudonymKeyLen is
// an error; the error never holds the key.
func NewPseudonymizer(key []byte, piiAttributes []string) (*Pseudonymizer, error) {
	if len(key) < MinPseudonymKeyLen {
		return nil, fmt.Errorf("the pseudonym key is %d bytes long; at least %d are needed", len(key), MinPseudonymKeyLen)
	}
	if piiAttributes == nil {
		piiAttributes = DefaultPIIAttributes()
	}
	p := &Pseudonymizer{key: slices.Clone(key)}
	for _, a := range piiAttributes {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "" {
			return nil, errors.New("an empty PII attribute name")
		}
		p.pii = append(p.pii, a)
	}
	return p, nil
}

// String prints no part of the key (a value receiver: a copy prints the same).
func (p Pseudonymizer) String() string {
	return "Pseudonymizer(key fingerprint " + p.Fingerprint() + ")"
}

// GoString prints no part of the key.
func (p Pseudonymizer) GoString() string { return p.String() }

// LogValue logs no part of the key.
func (p Pseudonymizer) LogValue() slog.Value { return slog.StringValue(p.String()) }

func (p Pseudonymizer) mac(s string) []byte {
	h := hmac.New(sha256.New, p.key)
	h.Write([]byte(s))
	return h.Sum(nil)
}

// PIIAttributes are the attribute names IsPII matches, lower case.
func (p *Pseudonymizer) PIIAttributes() []string { return slices.Clone(p.pii) }

// ID is the pseudonym of a user id: hex(HMAC-SHA256(key, id)), 64 lower-case hex digits.
func (p *Pseudonymizer) ID(id string) string { return hex.EncodeToString(p.mac(id)) }

// Fingerprint names the key without revealing it: the first 16 hex digits of
// HMAC-SHA256(key, "chatlake-fingerprint"). Two keys with one fingerprint are, in practice, one key.
func (p Pseudonymizer) Fingerprint() string { return hex.EncodeToString(p.mac(fingerprintLabel))[:16] }

// SealingKey is a 32-byte key derived from the key for encrypting (HMAC-SHA256(key,
// "chatlake-sealing-key-v1")): distinct from every pseudonym and from the fingerprint.
func (p *Pseudonymizer) SealingKey() []byte { return p.mac(sealingLabel) }

// IsPII reports whether the attribute named name is to be hashed. Matching is case-insensitive:
// a listed name matches an attribute whose whole name is it, or one of whose words is it, the
// words being what lies between '.', '_', '-' and ' ' (so "phone" matches "user.phone_no" and
// "Phone", "name" matches "user.user_name" but not "username" nor "filename").
func (p *Pseudonymizer) IsPII(name string) bool {
	n := strings.ToLower(name)
	words := strings.FieldsFunc(n, func(r rune) bool { return r == '.' || r == '_' || r == '-' || r == ' ' })
	for _, a := range p.pii {
		if n == a || slices.Contains(words, a) {
			return true
		}
	}
	return false
}

// isUserIDKey tells the keys under which a user or a message may carry a user id.
func isUserIDKey(k string) bool { return k == "channel_user_id" || k == "user_id" || k == "userId" }

// User pseudonymises a row of the users table made by FlattenUser from the raw user: the
// channel user id becomes its pseudonym, the values of PII attributes (IsPII) in attributes_json
// become their hashes, and in extra_json so do the string values of user id keys
// (channel_user_id, user_id, userId) and of PII-named keys. The keys stay as they are.
func (p *Pseudonymizer) User(row *schema.User) error {
	row.ChannelUserID = p.ID(row.ChannelUserID)
	attrs, err := p.hashObject(row.AttributesJSON, p.IsPII)
	if err != nil {
		return fmt.Errorf("attributes_json: %w", err)
	}
	row.AttributesJSON = attrs
	if row.ExtraJSON != nil {
		extra, err := p.hashObject(*row.ExtraJSON, func(k string) bool { return isUserIDKey(k) || p.IsPII(k) })
		if err != nil {
			return fmt.Errorf("extra_json: %w", err)
		}
		row.ExtraJSON = &extra
	}
	return nil
}

// hashObject hashes the values of the keys of a JSON object that hash says to: strings by their
// text, other values by their compact JSON text (a number or an object can hold a phone
// number as well). It writes the object back with sorted keys.
func (p *Pseudonymizer) hashObject(obj string, hash func(string) bool) (string, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(obj), &fields); err != nil {
		return "", err
	}
	changed := false
	for k, v := range fields {
		if !hash(k) || isNull(v) {
			continue
		}
		text := string(v)
		var s string
		if json.Unmarshal(v, &s) == nil {
			text = s
		}
		b, err := marshalString(p.ID(text))
		if err != nil {
			return "", err
		}
		fields[k], changed = b, true
	}
	if !changed {
		return obj, nil
	}
	return encodeObject(fields)
}

// RewriteMessage returns a message object of the Conversations API with its user id fields
// (user_id, userId, channel_user_id: string values) replaced by their pseudonyms when p is not
// nil, and its response (a string) passed through r when r is not nil. Everything
// else stays byte for byte as sent, so Flatten maps the result as it maps the original. A
// message that is not a JSON object is returned unchanged (Flatten reports it).
func RewriteMessage(raw json.RawMessage, p *Pseudonymizer, r *Redactor) json.RawMessage {
	text := raw
	i := jsonscan.SkipSpace(text, 0)
	if i >= len(text) || text[i] != '{' || !jsonscan.Valid(text) {
		return raw
	}
	var buf [16]member
	ms, _, _ := members(buf[:0], text, i) // valid: checked above
	type splice struct {
		start, end int
		value      []byte
	}
	var edits []splice
	for _, m := range ms {
		v := text[m.vStart:m.vEnd]
		if len(v) == 0 || v[0] != '"' {
			continue
		}
		name := string(m.name)
		var s string
		switch {
		case p != nil && isUserIDKey(name):
			_ = json.Unmarshal(v, &s) // valid: checked above
			b, _ := marshalString(p.ID(s))
			edits = append(edits, splice{m.vStart, m.vEnd, b})
		case r != nil && name == "response":
			_ = json.Unmarshal(v, &s)
			if red := r.Text(s); red != s {
				b, _ := marshalString(red)
				edits = append(edits, splice{m.vStart, m.vEnd, b})
			}
		}
	}
	if len(edits) == 0 {
		return raw
	}
	slices.SortFunc(edits, func(a, b splice) int { return a.start - b.start })
	out := make([]byte, 0, len(text)+64)
	at := 0
	for _, e := range edits {
		out = append(out, text[at:e.start]...)
		out = append(out, e.value...)
		at = e.end
	}
	return append(out, text[at:]...)
}
