package transform

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/chatlake/chatlake/internal/jsonscan"
)

// The scanner below walks JSON text that json.Valid accepted, in one pass, without allocating:
// it finds where values end and where an object's members are. It does not validate; every
// caller checks the text with json.Valid first.

// member is one member of an object: its key, unescaped, and its value as sent (offsets into
// the object's text, so that callers can take substrings of one copy of it).
type member struct {
	name       []byte // the key's value: a slice of the text when the key has no escapes
	kStart     int    // the key with its quotes: text[kStart:kEnd]
	kEnd       int
	vStart     int // the value: text[vStart:vEnd]
	vEnd       int
	simpleName bool // the key is ASCII without escapes: its JSON text is text[kStart:kEnd] as is
}

// members appends the members of the object b[start:] (valid JSON, b[start] == '{') to dst,
// in the order sent, and keeps only the last of members with the same key (as encoding/json
// does when it decodes an object into a map).
func members(dst []member, b []byte, start int) []member {
	first := len(dst)
	i := jsonscan.SkipSpace(b, start+1)
	if i < len(b) && b[i] == '}' {
		return dst
	}
	for i < len(b) {
		var m member
		m.kStart = i
		m.kEnd = jsonscan.SkipString(b, i)
		m.name, m.simpleName = keyName(b[m.kStart:m.kEnd])
		i = jsonscan.SkipSpace(b, m.kEnd)
		i = jsonscan.SkipSpace(b, i+1) // the colon
		m.vStart = i
		m.vEnd = jsonscan.SkipValue(b, i)
		i = jsonscan.SkipSpace(b, m.vEnd)
		dst = appendUnique(dst, first, m)
		if i >= len(b) || b[i] == '}' {
			break
		}
		i = jsonscan.SkipSpace(b, i+1) // the comma
	}
	return dst
}

// appendUnique appends m to dst, replacing an earlier member (from dst[first:]) with its key.
func appendUnique(dst []member, first int, m member) []member {
	for j := first; j < len(dst); j++ {
		if bytes.Equal(dst[j].name, m.name) {
			copy(dst[j:], dst[j+1:])
			dst[len(dst)-1] = m
			return dst
		}
	}
	return append(dst, m)
}

// keyName is the value of the JSON string key. simple: the key is printable ASCII without
// escapes, so its JSON encoding is key itself.
func keyName(key []byte) (name []byte, simple bool) {
	inner := key[1 : len(key)-1]
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf {
			var s string
			_ = json.Unmarshal(key, &s) // cannot fail: the text is valid
			return []byte(s), false
		}
	}
	return inner, true
}

// plainString tells whether the JSON string s (with its quotes) means its bytes between the
// quotes exactly: no escapes and valid UTF-8 (encoding/json replaces invalid bytes).
func plainString(s []byte) bool {
	inner := s[1 : len(s)-1]
	ascii := true
	for _, c := range inner {
		if c == '\\' {
			return false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	return ascii || utf8.Valid(inner)
}

// appendCompact appends the valid JSON value v without insignificant white space, as
// json.Compact does.
func appendCompact(dst, v []byte) []byte {
	if bytes.IndexAny(v, " \t\n\r") < 0 {
		return append(dst, v...)
	}
	for i := 0; i < len(v); {
		switch c := v[i]; {
		case c == '"':
			j := jsonscan.SkipString(v, i)
			dst = append(dst, v[i:j]...)
			i = j
		case jsonscan.IsSpace(c):
			i++
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst
}

// appendKey appends the JSON encoding of a member's key, as json.Encoder with SetEscapeHTML(false)
// writes a map key.
func appendKey(dst []byte, text []byte, m *member) []byte {
	if m.simpleName {
		return append(dst, text[m.kStart:m.kEnd]...)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(string(m.name)) // cannot fail on a string
	return append(dst, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
}
