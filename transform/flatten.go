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
	text := bytes.TrimSpace(raw)
	if len(text) == 0 || text[0] != '{' {
		return schema.Message{}, &FieldError{Field: "message", Value: clip(text), Err: ErrNotObject}
	}
	if !json.Valid(text) {
		var fields map[string]json.RawMessage
		err := json.Unmarshal(text, &fields) // for encoding/json's words on what is wrong
		return schema.Message{}, &FieldError{Field: "message", Value: clip(text), Err: fmt.Errorf("%w: %v", ErrNotObject, err)}
	}
	f := flattener{text: text}
	return f.flatten(src, u)
}

// flattener holds one message's text while it is flattened. Every string of the row that needs
// no unescaping is a substring of one copy of the text (str), and every nullable column points
// into one array (cols): a row costs a few allocations, not one per field.
type flattener struct {
	text  []byte
	str   string // string(text), made on first use
	cols  *[numPtrCols]string
	used  int
	extra []extraMember
}

// numPtrCols is the number of nullable string columns of schema.Message.
const numPtrCols = 11

// extraMember is one member of extra_json: its key and its compact value.
type extraMember struct {
	name  []byte
	key   []byte // the key's JSON text
	value []byte
}

func (f *flattener) flatten(src Source, u *extract.User) (schema.Message, error) {
	m := schema.Message{
		CustomerID:  src.CustomerID,
		BotKey:      src.BotKey,
		RunID:       src.RunID,
		ExtractedAt: src.ExtractedAt.UTC().Truncate(time.Millisecond),
	}
	if u != nil {
		m.ChannelUserID = u.ID
		if u.Channel != "" {
			m.Channel = f.ptr(u.Channel)
		}
	}
	var buf [16]member
	ms := members(buf[:0], f.text, 0)
	var ebuf [8]extraMember
	f.extra = ebuf[:0]

	ts := -1
	for i := range ms {
		if string(ms[i].name) == "timestamp" {
			ts = i
		}
	}
	if ts < 0 {
		return schema.Message{}, &FieldError{Field: "timestamp", Err: fmt.Errorf("%w: absent", ErrTimestamp)}
	}
	tsv := f.value(&ms[ts])
	var err error
	if m.SentAt, err = ParseTimestamp(tsv); err != nil {
		return schema.Message{}, err
	}
	if tsv[0] == '"' {
		m.SourceTimestamp = f.stringValue(ms[ts].vStart, ms[ts].vEnd)
	} else {
		m.SourceTimestamp = f.substr(ms[ts].vStart, ms[ts].vEnd)
	}

	for i := range ms {
		mb := &ms[i]
		v := f.value(mb)
		switch string(mb.name) {
		case "timestamp":
		case "user_id":
			m.UserID = f.stringField(mb)
		case "sender":
			if s := f.stringField(mb); s != nil {
				m.Sender = strings.ToLower(*s)
			}
		case "message_type":
			if s := f.stringField(mb); s != nil {
				m.MessageType = strings.ToUpper(*s)
			}
		case "response":
			m.Text = f.responseText(mb)
		case "file":
			f.nested(mb, [3]string{"url", "mimeType", "uploadType"}, [3]**string{&m.FileURL, &m.FileMimeType, &m.FileUploadType})
		case "template":
			f.nested(mb, [3]string{"name", "language", "broadcast_id"}, [3]**string{&m.TemplateName, &m.TemplateLanguage, &m.BroadcastID})
		case "attachments":
			if !isNull(v) {
				f.addExtra(mb, v)
			}
		default:
			f.addExtra(mb, v)
		}
	}

	if m.Text != nil {
		switch m.MessageType {
		case typeOptions:
			m.Options = parseOptions(*m.Text)
		case typeAgent:
			if id, ok := agentID(*m.Text); ok {
				m.AgentID = f.ptr(id)
			}
		}
	}
	if len(f.extra) > 0 {
		m.ExtraJSON = f.ptr(string(encodeMembers(nil, f.extra)))
	}
	return m, nil
}

func (f *flattener) value(m *member) []byte { return f.text[m.vStart:m.vEnd] }

// substr is text[i:j] as a string sharing the message's one copy.
func (f *flattener) substr(i, j int) string {
	if f.str == "" {
		f.str = string(f.text)
	}
	return f.str[i:j]
}

// stringValue is the value of the JSON string text[i:j].
func (f *flattener) stringValue(i, j int) string {
	if plainString(f.text[i:j]) {
		return f.substr(i+1, j-1)
	}
	var s string
	_ = json.Unmarshal(f.text[i:j], &s) // cannot fail: the text is valid
	return s
}

// ptr points at s, stored in the row's array of nullable columns.
func (f *flattener) ptr(s string) *string {
	if f.cols == nil || f.used == len(f.cols) {
		f.cols = new([numPtrCols]string)
		f.used = 0
	}
	p := &f.cols[f.used]
	f.used++
	*p = s
	return p
}

// addExtra keeps member m, with value v, for extra_json.
func (f *flattener) addExtra(m *member, v []byte) {
	f.extra = append(f.extra, extraMember{name: m.name, key: appendKey(nil, f.text, m), value: v})
}

func isNull(v []byte) bool { return string(v) == "null" }

// stringField returns the value of the member m, a JSON string. null gives nil; any other JSON
// type gives nil and m goes to extra_json (of the object or, in a nested object, of it), as sent.
func (f *flattener) stringField(m *member) *string {
	v := f.value(m)
	if isNull(v) {
		return nil
	}
	if v[0] != '"' {
		f.addExtra(m, v)
		return nil
	}
	return f.ptr(f.stringValue(m.vStart, m.vEnd))
}

// responseText is the response's text: a string as is, null as nil, any other JSON value as its
// compact JSON text.
func (f *flattener) responseText(m *member) *string {
	v := f.value(m)
	switch {
	case isNull(v):
		return nil
	case v[0] == '"':
		return f.ptr(f.stringValue(m.vStart, m.vEnd))
	case bytes.IndexAny(v, " \t\n\r") < 0:
		return f.ptr(f.substr(m.vStart, m.vEnd))
	}
	return f.ptr(string(appendCompact(nil, v)))
}

// nested maps the string fields keys of the object in member m to cols. Keys that no column
// maps, and mapped keys holding a non-string, go to extra_json under m's key as an object; m's
// value goes there unchanged when it is not an object. null values of mapped keys are dropped.
func (f *flattener) nested(m *member, keys [3]string, cols [3]**string) {
	v := f.value(m)
	if isNull(v) {
		return
	}
	if v[0] != '{' {
		f.addExtra(m, v)
		return
	}
	var buf [8]member
	sub := members(buf[:0], f.text, m.vStart)
	var lbuf [8]extraMember
	left := lbuf[:0]
	for i := range sub {
		sm := &sub[i]
		sv := f.value(sm)
		col := -1
		for k, name := range keys {
			if string(sm.name) == name {
				col = k
			}
		}
		switch {
		case col < 0 || (!isNull(sv) && sv[0] != '"'):
			left = append(left, extraMember{name: sm.name, key: appendKey(nil, f.text, sm), value: sv})
		case isNull(sv):
			*cols[col] = nil
		default:
			*cols[col] = f.ptr(f.stringValue(sm.vStart, sm.vEnd))
		}
	}
	if len(left) > 0 {
		f.extra = append(f.extra, extraMember{name: m.name, key: appendKey(nil, f.text, m), value: encodeMembers(nil, left)})
	}
}

// encodeMembers appends a compact JSON object of ms, keys sorted, values as sent, to dst.
func encodeMembers(dst []byte, ms []extraMember) []byte {
	slices.SortFunc(ms, func(a, b extraMember) int { return bytes.Compare(a.name, b.name) })
	n := 2
	for i := range ms {
		n += len(ms[i].key) + len(ms[i].value) + 2
	}
	dst = slices.Grow(dst, n)
	dst = append(dst, '{')
	for i := range ms {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, ms[i].key...)
		dst = append(dst, ':')
		dst = appendCompact(dst, ms[i].value)
	}
	return append(dst, '}')
}

// parseOptions reads the items of an OPTIONS response: "[a, b, c]" or a JSON array of strings,
// each item trimmed of spaces; "[]" is an empty, non-nil list. Anything else gives nil.
func parseOptions(text string) []string {
	t := strings.TrimSpace(text)
	if len(t) < 2 || t[0] != '[' || t[len(t)-1] != ']' {
		return nil
	}
	var items []string
	if b := []byte(t); !json.Valid(b) || json.Unmarshal(b, &items) != nil {
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
// is, a number as its JSON text. Anything else gives false.
func agentID(text string) (string, bool) {
	b := []byte(strings.Trim(text, " \t\n\r"))
	if len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		return "", false
	}
	var buf [8]member
	for _, m := range members(buf[:0], b, 0) {
		if string(m.name) != "agentId" {
			continue
		}
		v := b[m.vStart:m.vEnd]
		switch c := v[0]; {
		case c == '"':
			var s string
			if plainString(v) {
				return string(v[1 : len(v)-1]), true
			}
			if err := json.Unmarshal(v, &s); err != nil {
				return "", false
			}
			return s, true
		case c == '-' || (c >= '0' && c <= '9'):
			return string(v), true
		}
		return "", false
	}
	return "", false
}
