package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/internal/jsonscan"
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
	f := flattener{str: string(raw), left: 1, ms: make([]member, 0, 8)}
	return f.message(src, u, raw)
}

// FlattenPage flattens msgs, the messages of one page, as Flatten flattens each, and appends
// their rows to dst in order. The rows share one copy of the page's text and one block of
// nullable columns: a page costs a few allocations, not a few per message. An error says which
// message (from 1) and wraps Flatten's *FieldError; the rows before it are appended.
func FlattenPage(dst []schema.Message, src Source, u *extract.User, msgs []json.RawMessage) ([]schema.Message, error) {
	n := 0
	for _, raw := range msgs {
		n += len(raw)
	}
	var b strings.Builder
	b.Grow(n)
	for _, raw := range msgs {
		b.Write(raw)
	}
	f := flattener{str: b.String(), left: len(msgs)}
	var s scratch
	f.use(&s)
	dst = slices.Grow(dst, len(msgs))
	for i, raw := range msgs {
		m, err := f.message(src, u, raw)
		if err != nil {
			return dst, fmt.Errorf("message %d: %w", i+1, err)
		}
		dst = append(dst, m)
		f.base += len(raw)
		f.left--
	}
	return dst, nil
}

// flattener flattens the messages of one page, one after the other. Every string of a row that
// needs no unescaping is a substring of one copy of the page's text (str), and every nullable
// column points into a block shared by the page's rows (cols): a page costs a few allocations,
// not a few per field or per message. The scratch slices are reused from message to message.
type flattener struct {
	str  string // the page's messages, one after the other
	base int    // where the message's raw text starts in str
	left int    // messages left in the page, this one included
	text []byte // the message, without surrounding white space
	off  int    // where text starts in str

	cols  []string // unused nullable column values
	opts  []string // unused options items
	ms    []member
	sub   []member
	extra []extraMember
	buf   []byte // extra_json being encoded
	tmp   []byte // nested objects' leftovers, and unescaped strings
}

// scratch is the first scratch space of a page's flattener, one allocation: most messages
// need no more.
type scratch struct {
	ms    [16]member
	sub   [8]member
	extra [8]extraMember
	buf   [512]byte
	tmp   [512]byte
}

func (f *flattener) use(s *scratch) {
	f.ms, f.sub, f.extra, f.buf, f.tmp = s.ms[:0], s.sub[:0], s.extra[:0], s.buf[:0], s.tmp[:0]
}

// numPtrCols is the number of nullable string columns of schema.Message.
const numPtrCols = 11

// extraMember is one member of extra_json: its key and its compact value.
type extraMember struct {
	name  []byte
	key   []byte // the key's JSON text
	value []byte
}

func (f *flattener) message(src Source, u *extract.User, raw json.RawMessage) (schema.Message, error) {
	f.text = bytes.TrimSpace(raw)
	if len(f.text) == 0 || f.text[0] != '{' {
		return schema.Message{}, &FieldError{Field: "message", Value: clip(f.text), Err: ErrNotObject}
	}
	f.off = f.base + len(raw) - len(bytes.TrimLeft(raw, " \t\n\r"))
	var end int
	var ok bool
	f.ms, end, ok = members(f.ms[:0], f.text, 0)
	if !ok || end != len(f.text) {
		var fields map[string]json.RawMessage
		err := json.Unmarshal(f.text, &fields) // for encoding/json's words on what is wrong
		return schema.Message{}, &FieldError{Field: "message", Value: clip(f.text), Err: fmt.Errorf("%w: %v", ErrNotObject, err)}
	}
	f.extra, f.tmp = f.extra[:0], f.tmp[:0]

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
	ms := f.ms
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
		m.SourceTimestamp, _ = f.stringValue(&ms[ts])
	} else {
		m.SourceTimestamp = f.substr(ms[ts].vStart, ms[ts].vEnd)
	}

	var textBytes []byte // the bytes of m.Text
	for i := range ms {
		mb := &ms[i]
		v := f.value(mb)
		switch string(mb.name) {
		case "timestamp":
		case "user_id":
			m.UserID = f.stringField(mb)
		case "sender":
			if s := f.stringField(mb); s != nil {
				k := knownSenders()
				m.Sender = foldKnown(*s, k[:], strings.ToLower)
			}
		case "message_type":
			if s := f.stringField(mb); s != nil {
				k := knownTypes()
				m.MessageType = foldKnown(*s, k[:], strings.ToUpper)
			}
		case "response":
			m.Text, textBytes = f.responseText(mb)
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
			m.Options = f.parseOptions(*m.Text)
		case typeAgent:
			if id, ok := f.agentID(textBytes, *m.Text); ok {
				m.AgentID = f.ptr(id)
			}
		}
	}
	if len(f.extra) > 0 {
		f.buf = encodeMembers(f.buf[:0], f.extra)
		m.ExtraJSON = f.ptr(string(f.buf))
	}
	return m, nil
}

// knownSenders and knownTypes are the senders and message types the API is known to send, in
// the letter case of the row.
func knownSenders() [3]string { return [...]string{"user", "bot", "agent"} }
func knownTypes() [12]string {
	return [...]string{"TEXT", "OPTIONS", typeAgent, "FILE_RECEIVED", "IMAGE", "VIDEO", "AUDIO",
		"DOCUMENT", "TEMPLATE", "CAROUSEL", "BUTTON", "LOCATION"}
}

// foldKnown is fold(s), without allocating when s is one of known in another letter case. A
// string of the same byte length as an ASCII one that EqualFold matches is ASCII itself, so
// that fold(s) is then that known value.
func foldKnown(s string, known []string, fold func(string) string) string {
	for _, k := range known {
		if len(s) == len(k) && strings.EqualFold(s, k) {
			return k
		}
	}
	return fold(s)
}

func (f *flattener) value(m *member) []byte { return f.text[m.vStart:m.vEnd] }

// substr is text[i:j] as a string sharing the page's one copy.
func (f *flattener) substr(i, j int) string { return f.str[f.off+i : f.off+j] }

// stringValue is the value of the JSON string of member m, and its bytes.
func (f *flattener) stringValue(m *member) (string, []byte) {
	v := f.value(m)
	if plainString(v, m.vFlags) {
		return f.substr(m.vStart+1, m.vEnd-1), v[1 : len(v)-1]
	}
	start := len(f.tmp)
	f.tmp = jsonscan.AppendUnquoted(f.tmp, v)
	b := f.tmp[start:]
	return string(b), b
}

// ptr points at s, stored in the page's block of nullable columns.
func (f *flattener) ptr(s string) *string {
	if len(f.cols) == 0 {
		// Three to five nullable columns of a message are set: one block for the page's rows.
		f.cols = make([]string, max(numPtrCols, 5*f.left))
	}
	p := &f.cols[0]
	f.cols = f.cols[1:]
	*p = s
	return p
}

// addExtra keeps member m, with value v, for extra_json.
func (f *flattener) addExtra(m *member, v []byte) {
	f.extra = append(f.extra, extraMember{name: m.name, key: keyText(f.text, m), value: v})
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
	s, _ := f.stringValue(m)
	return f.ptr(s)
}

// responseText is the response's text, and its bytes: a string as is, null as nil, any other
// JSON value as its compact JSON text.
func (f *flattener) responseText(m *member) (*string, []byte) {
	v := f.value(m)
	switch {
	case isNull(v):
		return nil, nil
	case v[0] == '"':
		s, b := f.stringValue(m)
		return f.ptr(s), b
	case bytes.IndexAny(v, " \t\n\r") < 0:
		return f.ptr(f.substr(m.vStart, m.vEnd)), v
	}
	start := len(f.tmp)
	f.tmp = jsonscan.AppendCompact(f.tmp, v)
	b := f.tmp[start:]
	return f.ptr(string(b)), b
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
	f.sub, _, _ = members(f.sub[:0], f.text, m.vStart) // valid: the message was checked
	var lbuf [8]extraMember
	left := lbuf[:0]
	for i := range f.sub {
		sm := &f.sub[i]
		sv := f.value(sm)
		col := -1
		for k, name := range keys {
			if string(sm.name) == name {
				col = k
			}
		}
		switch {
		case col < 0 || (!isNull(sv) && sv[0] != '"'):
			left = append(left, extraMember{name: sm.name, key: keyText(f.text, sm), value: sv})
		case isNull(sv):
			*cols[col] = nil
		default:
			s, _ := f.stringValue(sm)
			*cols[col] = f.ptr(s)
		}
	}
	if len(left) > 0 {
		start := len(f.tmp)
		f.tmp = encodeMembers(f.tmp, left)
		f.extra = append(f.extra, extraMember{name: m.name, key: keyText(f.text, m), value: f.tmp[start:]})
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
		dst = jsonscan.AppendCompact(dst, ms[i].value)
	}
	return append(dst, '}')
}

// parseOptions reads the items of an OPTIONS response: "[a, b, c]" or a JSON array of strings,
// each item trimmed of spaces; "[]" is an empty, non-nil list. Anything else gives nil. Items
// that need no unescaping are substrings of text, in a block shared by the page's rows.
func (f *flattener) parseOptions(text string) []string {
	t := strings.TrimSpace(text)
	if len(t) < 2 || t[0] != '[' || t[len(t)-1] != ']' {
		return nil
	}
	// Only an array whose first item is a string or null can decode as a JSON array of strings.
	i := 1
	for jsonscan.IsSpace(t[i]) { // t ends with ']'
		i++
	}
	if c := t[i]; c == '"' || c == 'n' {
		var items []string
		if b := []byte(t); jsonscan.Valid(b) && json.Unmarshal(b, &items) == nil {
			for i := range items {
				items[i] = strings.TrimSpace(items[i])
			}
			return items
		}
	}
	inner := strings.TrimSpace(t[1 : len(t)-1])
	if inner == "" {
		return []string{}
	}
	n := strings.Count(inner, ",") + 1
	if len(f.opts) < n {
		f.opts = make([]string, max(n, 4*f.left))
	}
	items := f.opts[:0:n]
	f.opts = f.opts[n:]
	for {
		item, rest, more := strings.Cut(inner, ",")
		items = append(items, strings.TrimSpace(item))
		if !more {
			return items
		}
		inner = rest
	}
}

// agentID reads agentId from an AGENT_PARTICIPATION_STATUS response, a JSON object: a string as
// is, a number as its JSON text. Anything else gives false. b holds text's bytes; the id is a
// substring of text when it needs no unescaping.
func (f *flattener) agentID(b []byte, text string) (string, bool) {
	lead := len(b) - len(bytes.TrimLeft(b, " \t\n\r"))
	b = bytes.TrimRight(b[lead:], " \t\n\r")
	if len(b) == 0 || b[0] != '{' {
		return "", false
	}
	var buf [8]member
	ms, end, ok := members(buf[:0], b, 0)
	if !ok || end != len(b) {
		return "", false
	}
	for _, m := range ms {
		if string(m.name) != "agentId" {
			continue
		}
		v := b[m.vStart:m.vEnd]
		switch c := v[0]; {
		case c == '"':
			if plainString(v, m.vFlags) {
				return text[lead+m.vStart+1 : lead+m.vEnd-1], true
			}
			return string(jsonscan.AppendUnquoted(nil, v)), true
		case c == '-' || (c >= '0' && c <= '9'):
			return text[lead+m.vStart : lead+m.vEnd], true
		}
		return "", false
	}
	return "", false
}
