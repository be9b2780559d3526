package transform

// The Flatten and ParseTimestamp of before the single-pass scanner (commit b04007d), kept as the
// reference the differential tests and FuzzFlattenReference compare the scanner with.

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

func refFlatten(src Source, u *extract.User, raw json.RawMessage) (schema.Message, error) {
	fields, err := ref_decodeObject(raw)
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
	if m.SentAt, err = refParseTimestamp(ts); err != nil {
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
			m.UserID = ref_stringField(key, v, extra)
		case "sender":
			if s := ref_stringField(key, v, extra); s != nil {
				m.Sender = strings.ToLower(*s)
			}
		case "message_type":
			if s := ref_stringField(key, v, extra); s != nil {
				m.MessageType = strings.ToUpper(*s)
			}
		case "response":
			m.Text = ref_responseText(v)
		case "file":
			ref_nestedFields(key, v, extra, map[string]**string{
				"url":        &m.FileURL,
				"mimeType":   &m.FileMimeType,
				"uploadType": &m.FileUploadType,
			})
		case "template":
			ref_nestedFields(key, v, extra, map[string]**string{
				"name":         &m.TemplateName,
				"language":     &m.TemplateLanguage,
				"broadcast_id": &m.BroadcastID,
			})
		case "attachments":
			if !ref_isNull(v) {
				extra[key] = v
			}
		default:
			extra[key] = v
		}
	}

	if m.Text != nil {
		switch m.MessageType {
		case typeOptions:
			m.Options = ref_parseOptions(*m.Text)
		case typeAgent:
			m.AgentID = ref_agentID(*m.Text)
		}
	}
	if len(extra) > 0 {
		s, err := ref_encodeObject(extra)
		if err != nil {
			return schema.Message{}, fmt.Errorf("extra_json: %w", err)
		}
		m.ExtraJSON = &s
	}
	return m, nil
}

// decodeObject decodes a JSON object into its fields, each value exactly as sent.
func ref_decodeObject(raw []byte) (map[string]json.RawMessage, error) {
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

func ref_isNull(v json.RawMessage) bool { return string(v) == "null" }

// stringField returns a JSON string's value. null gives nil; any other JSON type gives nil and
// goes to extra under key, unchanged.
func ref_stringField(key string, v json.RawMessage, extra map[string]json.RawMessage) *string {
	if ref_isNull(v) {
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
func ref_responseText(v json.RawMessage) *string {
	if ref_isNull(v) {
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
func ref_nestedFields(key string, v json.RawMessage, extra map[string]json.RawMessage, cols map[string]**string) {
	if ref_isNull(v) {
		return
	}
	sub, err := ref_decodeObject(v)
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
		*col = ref_stringField(k, sv, left)
	}
	if len(left) > 0 {
		s, err := ref_encodeObject(left)
		if err != nil { // cannot happen on validated values; keep the object as sent
			extra[key] = v
			return
		}
		extra[key] = json.RawMessage(s)
	}
}

// encodeObject writes fields as a compact JSON object with sorted keys and values as sent.
func ref_encodeObject(fields map[string]json.RawMessage) (string, error) {
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
func ref_parseOptions(text string) []string {
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
func ref_agentID(text string) *string {
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

func refParseTimestamp(raw json.RawMessage) (time.Time, error) {
	// Each layout covers no fraction, ".SSS" and more or fewer digits: time.Parse accepts a
	// fractional second after the seconds even when the layout has none. Z0700 accepts "Z" or
	// "+hhmm"; Z07:00 accepts "Z" or "+hh:mm".
	layouts := [...]string{
		"2006-01-02 15:04:05Z0700",  // the API's canonical form: 2024-05-02 10:15:32.123+0000
		"2006/01/02 15:04:05Z0700",  // 2024/05/02 10:15:32.123+0530
		"2006-01-02T15:04:05Z07:00", // RFC 3339: 2024-05-02T10:15:32.123Z, ...-03:00
		"2006-01-02T15:04:05Z0700",  // RFC 3339 with a colon-less offset
		"2006-01-02 15:04:05Z07:00",
		"2006/01/02 15:04:05Z07:00",
	}
	raw = bytes.TrimSpace(raw)
	bad := func(reason string) (time.Time, error) {
		return time.Time{}, &FieldError{Field: "timestamp", Value: clip(raw), Err: fmt.Errorf("%w: %s", ErrTimestamp, reason)}
	}
	if len(raw) == 0 {
		return bad("empty")
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return bad("invalid JSON string")
		}
		s = strings.TrimSpace(s)
		if isDigits(s) {
			return fromEpochMS(s, bad)
		}
		for _, layout := range layouts {
			if t, err := time.Parse(layout, s); err == nil {
				t = t.UTC()
				if t.Year() < 1 || t.Year() > 9999 {
					return bad("year out of range 0001-9999 in UTC")
				}
				return t.Truncate(time.Millisecond), nil
			}
		}
		return bad("not yyyy-MM-dd HH:mm:ss.SSS+hhmm, yyyy/MM/dd HH:mm:ss.SSS+hhmm, RFC 3339 or epoch milliseconds")
	case c == '-' || (c >= '0' && c <= '9'):
		s := string(raw)
		if !isDigits(strings.TrimPrefix(s, "-")) {
			return bad("a number that is not an integer of epoch milliseconds")
		}
		return fromEpochMS(s, bad)
	default:
		return bad("not a string or a number")
	}
}
