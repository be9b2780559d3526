package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/schema"
)

// Source is what a row carries about the export that produced it rather than about the message.
type Source struct {
	CustomerID  string
	BotKey      string
	RunID       string
	ExtractedAt time.Time // stored in UTC, truncated to the millisecond
}

// Message types whose response Flatten derives a column from.
const (
	typeOptions = "OPTIONS"
	typeAgent   = "AGENT_PARTICIPATION_STATUS"
)

// Flatten turns one message object of the Conversations API, exactly as sent, into a row of the
// messages table. u is the user whose conversation held the message: ChannelUserID is u.ID and
// Channel is u.Channel (nil when empty or when u is nil). MessageKey is left empty: the caller
// sets it with MessageKey once it knows the message's occurrence number.
//
// Mapping (every field of the message object either lands in a column or in extra_json):
//
//	user_id                      -> UserID
//	sender                       -> Sender, lower case ("" when absent or null)
//	message_type                 -> MessageType, upper case ("" when absent or null)
//	response                     -> Text (a string as is; another JSON value as its compact JSON text; null -> nil)
//	timestamp                    -> SentAt (UTC, ms) and SourceTimestamp (the string, or the number's text)
//	file.url/mimeType/uploadType -> FileURL, FileMimeType, FileUploadType
//	template.name/language/broadcast_id -> TemplateName, TemplateLanguage, BroadcastID
//	OPTIONS response             -> Options ("[a, b]" or a JSON array of strings; items trimmed)
//	AGENT_PARTICIPATION_STATUS response -> AgentID (agentId of the JSON object, a string or a number's text)
//
// Everything else goes, unchanged, into ExtraJSON, a compact JSON object with sorted keys: every
// other top-level field (attachments only when not null), keys inside file or template that no
// column maps, and a modelled field whose value has an unexpected JSON type (a string where an
// object is expected, a number where a string is expected). A null value of a modelled field
// carries nothing and is not kept. ExtraJSON is nil when nothing is left. If a key occurs twice
// in one object, the last value wins, as with encoding/json.
//
// A failure to derive Options or AgentID is not an error: the column is NULL and Text keeps the
// data. A message that is not a JSON object (ErrNotObject), or whose timestamp is absent, null
// or unparseable (ErrTimestamp), is an error, a *FieldError; nothing is dropped silently.
func Flatten(src Source, u *extract.User, raw json.RawMessage) (schema.Message, error) {
	fields, err := decodeObject(raw)
	if err != nil {
		return schema.Message{}, &FieldError{Field: "message", Value: clip(bytes.TrimSpace(raw)), Err: err}
	}
	m := schema.Message{
		CustomerID:  src.CustomerID,
		BotKey:      src.BotKey,
		RunID:       src.RunID,
		ExtractedAt: src.ExtractedAt.UTC().Truncate(time.Millisecond),
	}
	if u != nil {
		m.ChannelUserID = u.ID
		if u.Channel != "" {
			m.Channel = ptr(u.Channel)
		}
	}

	ts, ok := fields["timestamp"]
	if !ok {
		return schema.Message{}, &FieldError{Field: "timestamp", Err: fmt.Errorf("%w: absent", ErrTimestamp)}
	}
	if m.SentAt, err = ParseTimestamp(ts); err != nil {
		return schema.Message{}, err
	}
	if ts[0] == '"' {
		_ = json.Unmarshal(ts, &m.SourceTimestamp) // cannot fail: ParseTimestamp decoded it
	} else {
		m.SourceTimestamp = string(ts)
	}

	extra := make(map[string]json.RawMessage)
	for key, v := range fields {
		switch key {
		case "timestamp":
		case "user_id":
			m.UserID = stringField(key, v, extra)
		case "sender":
			if s := stringField(key, v, extra); s != nil {
				m.Sender = strings.ToLower(*s)
			}
		case "message_type":
			if s := stringField(key, v, extra); s != nil {
				m.MessageType = strings.ToUpper(*s)
			}
		case "response":
			m.Text = responseText(v)
		case "file":
			nestedFields(key, v, extra, map[string]**string{
				"url":        &m.FileURL,
				"mimeType":   &m.FileMimeType,
				"uploadType": &m.FileUploadType,
			})
		case "template":
			nestedFields(key, v, extra, map[string]**string{
				"name":         &m.TemplateName,
				"language":     &m.TemplateLanguage,
				"broadcast_id": &m.BroadcastID,
			})
		case "attachments":
			if !isNull(v) {
				extra[key] = v
			}
		default:
			extra[key] = v
		}
	}

	if m.Text != nil {
		switch m.MessageType {
		case typeOptions:
			m.Options = parseOptions(*m.Text)
		case typeAgent:
			m.AgentID = agentID(*m.Text)
		}
	}
	if len(extra) > 0 {
		s, err := encodeObject(extra)
		if err != nil {
			return schema.Message{}, fmt.Errorf("extra_json: %w", err)
		}
		m.ExtraJSON = &s
	}
	return m, nil
}

// decodeObject decodes a JSON object into its fields, each value exactly as sent.
func decodeObject(raw []byte) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, ErrNotObject
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotObject, err)
	}
	return fields, nil
}

func isNull(v json.RawMessage) bool { return string(v) == "null" }

// stringField returns a JSON string's value. null gives nil; any other JSON type gives nil and
// goes to extra under key, unchanged.
func stringField(key string, v json.RawMessage, extra map[string]json.RawMessage) *string {
	if isNull(v) {
		return nil
	}
	if v[0] != '"' {
		extra[key] = v
		return nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil { // cannot happen on a validated string
		extra[key] = v
		return nil
	}
	return &s
}

// responseText is the response's text: a string as is, null as nil, any other JSON value as its
// compact JSON text.
func responseText(v json.RawMessage) *string {
	if isNull(v) {
		return nil
	}
	if v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			return &s
		}
	}
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil { // cannot happen on a validated value
		return ptr(string(v))
	}
	return ptr(b.String())
}

// nestedFields maps the string fields of the object v to columns. Keys that no column maps, and
// mapped keys holding a non-string, go to extra[key] as an object; v itself goes to extra[key]
// unchanged when it is not an object. null values of mapped keys are dropped.
func nestedFields(key string, v json.RawMessage, extra map[string]json.RawMessage, cols map[string]**string) {
	if isNull(v) {
		return
	}
	sub, err := decodeObject(v)
	if err != nil {
		extra[key] = v
		return
	}
	left := make(map[string]json.RawMessage)
	for k, sv := range sub {
		col, ok := cols[k]
		if !ok {
			left[k] = sv
			continue
		}
		*col = stringField(k, sv, left)
	}
	if len(left) > 0 {
		s, err := encodeObject(left)
		if err != nil { // cannot happen on validated values; keep the object as sent
			extra[key] = v
			return
		}
		extra[key] = json.RawMessage(s)
	}
}

// encodeObject writes fields as a compact JSON object with sorted keys and values as sent.
func encodeObject(fields map[string]json.RawMessage) (string, error) {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := enc.Encode(k); err != nil {
			return "", err
		}
		b.Truncate(b.Len() - 1) // Encode's newline
		b.WriteByte(':')
		if err := json.Compact(&b, fields[k]); err != nil {
			return "", fmt.Errorf("value of %q: %w", k, err)
		}
	}
	b.WriteByte('}')
	return b.String(), nil
}

// parseOptions reads the items of an OPTIONS response: "[a, b, c]" or a JSON array of strings,
// each item trimmed of spaces; "[]" is an empty, non-nil list. Anything else gives nil.
func parseOptions(text string) []string {
	t := strings.TrimSpace(text)
	if len(t) < 2 || t[0] != '[' || t[len(t)-1] != ']' {
		return nil
	}
	var items []string
	if err := json.Unmarshal([]byte(t), &items); err != nil {
		inner := strings.TrimSpace(t[1 : len(t)-1])
		if inner == "" {
			return []string{}
		}
		items = strings.Split(inner, ",")
	}
	for i := range items {
		items[i] = strings.TrimSpace(items[i])
	}
	return items
}

// agentID reads agentId from an AGENT_PARTICIPATION_STATUS response, a JSON object: a string as
// is, a number as its JSON text. Anything else gives nil.
func agentID(text string) *string {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &obj); err != nil {
		return nil
	}
	v, ok := obj["agentId"]
	if !ok || len(v) == 0 {
		return nil
	}
	switch c := v[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil
		}
		return &s
	case c == '-' || (c >= '0' && c <= '9'):
		return ptr(string(v))
	default:
		return nil
	}
}

func ptr[T any](v T) *T { return &v }
