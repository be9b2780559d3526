package transform

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/chatlake/chatlake/internal/jsonscan"
)

// The scanner below walks a message's JSON text in one pass, checking it as json.Valid does
// and finding where an object's members are, without allocating (but for keys with escapes).

// member is one member of an object: its key, unescaped, and its value as sent (offsets into
// the object's text, so that callers can take substrings of one copy of it).
type member struct {
	name       []byte // the key's value: a slice of the text when the key has no escapes
	kStart     int    // the key with its quotes: text[kStart:kEnd]
	kEnd       int
	vStart     int // the value: text[vStart:vEnd]
	vEnd       int
	simpleName bool                 // the key is ASCII without escapes: its JSON text is text[kStart:kEnd] as is
	vFlags     jsonscan.StringFlags // what a string value holds
}

// members appends the members of the object at b[start] (b[start] == '{') to dst, in the
// order sent, and keeps only the last of members with the same key (as encoding/json does when
// it decodes an object into a map). It checks the object as json.Valid does: ok is false when
// it is not valid JSON. end is the index after the object.
func members(dst []member, b []byte, start int) (out []member, end int, ok bool) {
	first := len(dst)
	i := jsonscan.SkipSpace(b, start+1)
	if i < len(b) && b[i] == '}' {
		return dst, i + 1, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return dst, i, false
		}
		var m member
		var kFlags jsonscan.StringFlags
		m.kStart = i
		if m.kEnd, kFlags, ok = jsonscan.String(b, i); !ok {
			return dst, m.kEnd, false
		}
		if i = jsonscan.SkipSpace(b, m.kEnd); i >= len(b) || b[i] != ':' {
			return dst, i, false
		}
		m.vStart = jsonscan.SkipSpace(b, i+1)
		if m.vStart < len(b) && b[m.vStart] == '"' {
			m.vEnd, m.vFlags, ok = jsonscan.String(b, m.vStart)
		} else {
			m.vEnd, ok = jsonscan.Value(b, m.vStart)
		}
		if !ok {
			return dst, m.vEnd, false
		}
		m.name, m.simpleName = keyName(b[m.kStart:m.kEnd], kFlags)
		dst = appendUnique(dst, first, m)
		if i = jsonscan.SkipSpace(b, m.vEnd); i >= len(b) {
			return dst, i, false
		}
		switch b[i] {
		case '}':
			return dst, i + 1, true
		case ',':
			i = jsonscan.SkipSpace(b, i+1)
		default:
			return dst, i, false
		}
	}
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

// keyName is the value of the JSON string key, which holds flags. simple: the key is ASCII
// without escapes, so its JSON encoding is key itself.
func keyName(key []byte, flags jsonscan.StringFlags) (name []byte, simple bool) {
	if flags == 0 {
		return key[1 : len(key)-1], true
	}
	return jsonscan.AppendUnquoted(nil, key), false
}

// plainString tells whether the JSON string s (with its quotes), which holds flags, means its
// bytes between the quotes exactly: no escapes and valid UTF-8 (encoding/json replaces invalid
// bytes).
func plainString(s []byte, flags jsonscan.StringFlags) bool {
	return flags&jsonscan.Escaped == 0 && (flags&jsonscan.NonASCII == 0 || utf8.Valid(s[1:len(s)-1]))
}

// keyText is the JSON encoding of a member's key, as json.Encoder with SetEscapeHTML(false)
// writes a map key: a slice of text when the key is simple.
func keyText(text []byte, m *member) []byte {
	if m.simpleName {
		return text[m.kStart:m.kEnd]
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(string(m.name)) // cannot fail on a string
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
