package extract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/chatlake/chatlake/internal/jsonscan"
)

// listPage is one decoded page of the User or Conversations API.
type listPage struct {
	items    []json.RawMessage // each element exactly as sent; every one a JSON object
	pageSize int               // page_size when sent, else -1
	total    int               // total_elements when sent, else -1
}

// decodeConversations reads a Conversations API body. Errors are *bodyError (retryable) or
// *statusError (the body's status.code is not 1000).
func decodeConversations(r io.Reader) (listPage, error) {
	return decodeList(r, conversationKeys())
}

// decodeUsers reads a User API body; errors as decodeConversations. Each user is also parsed, so
// that a user without an id is a body error here rather than a surprise later.
func decodeUsers(r io.Reader) (listPage, []User, error) {
	p, err := decodeList(r, []string{"users"})
	if err != nil {
		return p, nil, err
	}
	users := make([]User, 0, len(p.items))
	for i, raw := range p.items {
		u, err := parseUser(raw)
		if err != nil {
			return p, nil, &bodyError{fmt.Errorf("user %d: %w", i, err)}
		}
		users = append(users, u)
	}
	return p, users, nil
}

// listDecoder holds the state of one body being decoded.
type listDecoder struct {
	d       *json.Decoder
	keys    []string
	page    listPage
	found   bool   // a list key was seen (its value may have been null)
	unknown string // key of a non-empty list under an unknown key, if any
	status  bool   // a status object with a code was seen
	code    int
	desc    string
	details string
}

// decodeList decodes {"status":…, "responseObject":{"<key>":[…], paging…}} and the variants of
// the contract: the list and paging at the top level, no status, no paging. Each list element is
// kept as the raw bytes sent.
//
// The body is read whole and, when it is valid JSON of a shape the contract allows, walked once
// (scan): each element is a slice of the body, not a copy. Anything else (invalid JSON, escaped
// keys, a shape that is an error) is decoded again as a stream of tokens (body), whose errors
// are the ones reported.
func decodeList(r io.Reader, keys []string) (listPage, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return listPage{pageSize: -1, total: -1}, &bodyError{unexpectedEOF(err)}
	}
	return decodeData(data, keys, true)
}

// decodeData is decodeList on the body data; scan false skips the one-pass way (for tests that
// compare both).
func decodeData(data []byte, keys []string, scan bool) (listPage, error) {
	return decodeInto(nil, data, keys, scan)
}

// decodeInto is decodeData appending the elements to items[:0], whose memory it reuses.
func decodeInto(items []json.RawMessage, data []byte, keys []string, scan bool) (listPage, error) {
	ld := &listDecoder{keys: keys, page: listPage{items: items[:0], pageSize: -1, total: -1}}
	if !scan || !ld.scan(data) {
		ld = &listDecoder{d: json.NewDecoder(bytes.NewReader(data)), keys: keys, page: listPage{items: items[:0], pageSize: -1, total: -1}}
		ld.d.UseNumber() // numbers in skipped values are not converted, so none overflows
		if err := ld.body(); err != nil {
			return listPage{pageSize: -1, total: -1}, &bodyError{err}
		}
	}
	if ld.status && ld.code != codeSuccess {
		return listPage{pageSize: -1, total: -1}, &statusError{code: ld.code, desc: ld.desc, details: ld.details}
	}
	if !ld.found && ld.unknown != "" {
		// A list under an unknown key may well be the page: it must not pass as "no data".
		return listPage{pageSize: -1, total: -1}, &bodyError{fmt.Errorf("no %q list, but a list under %q", keys, ld.unknown)}
	}
	if !ld.found && !(ld.status && ld.code == codeSuccess) {
		// Without a list and without a success status there is nothing that says the page is
		// empty rather than of an unknown shape; an unknown shape must not pass as "no data".
		return listPage{pageSize: -1, total: -1}, &bodyError{fmt.Errorf("no %q list and no success status", keys)}
	}
	return ld.page, nil
}

// scan decodes data in one pass when it is valid JSON, every key is plain ASCII and the body
// has none of the shapes body reports as errors. Otherwise it returns false, and ld must be
// discarded.
func (ld *listDecoder) scan(data []byte) bool {
	if !jsonscan.Valid(data) {
		return false
	}
	i := jsonscan.SkipSpace(data, 0)
	return data[i] == '{' && ld.scanFields(data, i, true)
}

// scanFields is fields for the object at data[start].
func (ld *listDecoder) scanFields(data []byte, start int, top bool) bool {
	ok := true
	jsonscan.EachMember(data, start, func(key []byte, vs, ve int) bool {
		k := key[1 : len(key)-1]
		for _, c := range k {
			if c == '\\' || c >= 0x80 {
				ok = false
				return false
			}
		}
		v := data[vs:ve]
		switch {
		case top && string(k) == "status":
			ok = ld.scanStatus(v)
		case top && string(k) == "responseObject":
			switch v[0] {
			case 'n':
			case '{':
				ok = ld.scanFields(data, vs, false)
			default:
				ok = false
			}
		case ld.isListKey(string(k)):
			ok = ld.scanList(data, vs)
		case string(k) == "page_size":
			ld.page.pageSize = pagingInt(v)
		case string(k) == "total_elements":
			ld.page.total = pagingInt(v)
		case v[0] == '[' && ld.unknown == "":
			if data[jsonscan.SkipSpace(data, vs+1)] != ']' {
				ld.unknown = string(k)
			}
		}
		return ok
	})
	return ok
}

// scanList is list for the value at data[start].
func (ld *listDecoder) scanList(data []byte, start int) bool {
	if ld.found {
		return false
	}
	ld.found = true
	switch data[start] {
	case 'n':
		return true
	case '[':
	default:
		return false
	}
	ok := true
	jsonscan.EachElement(data, start, func(vs, ve int) bool {
		if data[vs] != '{' {
			ok = false
			return false
		}
		ld.page.items = append(ld.page.items, json.RawMessage(data[vs:ve:ve]))
		return true
	})
	return ok
}

// scanStatus is statusValue for the value v. Its keys are matched as encoding/json matches
// them (the last of a key wins, letter case aside); a status with a key that is escaped or not
// ASCII is left to encoding/json.
func (ld *listDecoder) scanStatus(v []byte) bool {
	if v[0] == 'n' {
		return true
	}
	if v[0] != '{' {
		return false
	}
	var codeRaw, desc, details []byte
	plain := true
	jsonscan.EachMember(v, 0, func(key []byte, vs, ve int) bool {
		k := key[1 : len(key)-1]
		for _, c := range k {
			if c == '\\' || c >= 0x80 {
				plain = false
				return false
			}
		}
		switch {
		case strings.EqualFold(string(k), "code"):
			codeRaw = v[vs:ve]
		case strings.EqualFold(string(k), "desc"):
			desc = v[vs:ve]
		case strings.EqualFold(string(k), "details"):
			details = v[vs:ve]
		}
		return true
	})
	if !plain {
		var st struct {
			Code    json.RawMessage `json:"code"`
			Desc    json.RawMessage `json:"desc"`
			Details json.RawMessage `json:"details"`
		}
		if err := json.Unmarshal(v, &st); err != nil {
			return false
		}
		codeRaw, desc, details = st.Code, st.Desc, st.Details
	}
	if len(codeRaw) == 0 || bytes.Equal(codeRaw, []byte("null")) {
		return true
	}
	code, ok := parseInt(codeRaw)
	if !ok {
		return false
	}
	ld.status, ld.code = true, code
	ld.desc, ld.details = jsonText(desc), jsonText(details)
	return true
}

// pagingInt is intValue for the value raw.
func pagingInt(raw []byte) int {
	n, ok := parseInt(raw)
	if !ok || n < 0 {
		return -1
	}
	return n
}

func (ld *listDecoder) body() error {
	if err := ld.delim('{'); err != nil {
		return err
	}
	if err := ld.fields(true); err != nil {
		return err
	}
	// The object must be the whole body: nothing but white space may follow.
	if _, err := ld.d.Token(); err != io.EOF {
		if err == nil {
			return errors.New("data after the top-level object")
		}
		return err
	}
	return nil
}

// fields reads the members of the top-level object or of responseObject, and its closing brace.
func (ld *listDecoder) fields(top bool) error {
	for ld.d.More() {
		key, err := ld.key()
		if err != nil {
			return err
		}
		switch {
		case top && key == "status":
			err = ld.statusValue()
		case top && key == "responseObject":
			err = ld.responseObject()
		case ld.isListKey(key):
			err = ld.list(key)
		case key == "page_size":
			ld.page.pageSize, err = ld.intValue()
		case key == "total_elements":
			ld.page.total, err = ld.intValue()
		default:
			var list bool
			list, err = ld.skip()
			if list && ld.unknown == "" {
				ld.unknown = key
			}
		}
		if err != nil {
			return fmt.Errorf("%q: %w", key, err)
		}
	}
	return ld.delim('}')
}

func (ld *listDecoder) isListKey(key string) bool {
	for _, k := range ld.keys {
		if k == key {
			return true
		}
	}
	return false
}

func (ld *listDecoder) responseObject() error {
	t, err := ld.token()
	if err != nil {
		return err
	}
	switch t {
	case nil:
		return nil
	case json.Delim('{'):
		return ld.fields(false)
	}
	return fmt.Errorf("want an object, got %v", t)
}

// list reads the array of elements. null is an empty list. A second list in the same body is an
// error: there is no way to tell which one is the page.
func (ld *listDecoder) list(key string) error {
	if ld.found {
		return errors.New("a second list in the body")
	}
	ld.found = true
	t, err := ld.token()
	if err != nil {
		return err
	}
	switch t {
	case nil:
		return nil
	case json.Delim('['):
	default:
		return fmt.Errorf("want a list, got %v", t)
	}
	for ld.d.More() {
		var m json.RawMessage
		if err := ld.d.Decode(&m); err != nil {
			return fmt.Errorf("element %d: %w", len(ld.page.items), unexpectedEOF(err))
		}
		if len(m) == 0 || m[0] != '{' {
			return fmt.Errorf("element %d is not an object", len(ld.page.items))
		}
		ld.page.items = append(ld.page.items, m)
	}
	return ld.delim(']')
}

// statusValue reads {"code": 1000, "desc": "...", "details": "..."}; code may be a number or a
// string of digits. null is no status.
func (ld *listDecoder) statusValue() error {
	var raw json.RawMessage
	if err := ld.d.Decode(&raw); err != nil {
		return unexpectedEOF(err)
	}
	if bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var st struct {
		Code    json.RawMessage `json:"code"`
		Desc    json.RawMessage `json:"desc"`
		Details json.RawMessage `json:"details"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("want an object: %w", err)
	}
	if len(st.Code) == 0 || bytes.Equal(st.Code, []byte("null")) {
		return nil
	}
	code, ok := parseInt(st.Code)
	if !ok {
		return errors.New("code is not an integer")
	}
	ld.status, ld.code = true, code
	ld.desc, ld.details = jsonText(st.Desc), jsonText(st.Details)
	return nil
}

// intValue reads paging metadata: a number or a string of digits; anything else (null, a
// fraction, a negative number, a word) counts as absent (-1) and paging falls back to the other
// end conditions.
func (ld *listDecoder) intValue() (int, error) {
	var raw json.RawMessage
	if err := ld.d.Decode(&raw); err != nil {
		return -1, unexpectedEOF(err)
	}
	return pagingInt(raw), nil
}

// skip reads and drops one value of any size, as a stream of tokens. It tells whether the
// value was a non-empty list.
func (ld *listDecoder) skip() (nonEmptyList bool, err error) {
	depth, tokens := 0, 0
	first := json.Token(nil)
	for {
		t, err := ld.token()
		if err != nil {
			return false, err
		}
		if tokens == 0 {
			first = t
		}
		tokens++
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return first == json.Delim('[') && tokens > 2, nil
		}
	}
}

func (ld *listDecoder) key() (string, error) {
	t, err := ld.token()
	if err != nil {
		return "", err
	}
	k, ok := t.(string)
	if !ok {
		return "", fmt.Errorf("want an object key, got %v", t)
	}
	return k, nil
}

func (ld *listDecoder) delim(want json.Delim) error {
	t, err := ld.token()
	if err != nil {
		return err
	}
	if t != want {
		return fmt.Errorf("want %v, got %v", want, t)
	}
	return nil
}

// token is Decoder.Token, with the end of the input inside a value reported as a cut-off body.
func (ld *listDecoder) token() (json.Token, error) {
	t, err := ld.d.Token()
	return t, unexpectedEOF(err)
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseInt reads an integer sent as a JSON number (possibly written 5.0 or 5e2) or as a string.
func parseInt(raw json.RawMessage) (int, bool) {
	s := string(raw)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if n, err := strconv.Atoi(s); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int(f), true
}

// jsonText is a JSON string's value, or the JSON text of any other value; "" for absent or null.
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ""
	}
	if s, ok := stringValue(raw); ok {
		return s
	}
	return string(raw)
}
