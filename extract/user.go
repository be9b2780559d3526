package extract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/chatlake/chatlake/internal/jsonscan"
)

// The layout of a User API user object, in one place: the id under one of userIDKeys (the first
// present and non-empty wins), "channel", "created_at", and attributes nested under
// "attributes" and/or flat beside the id (nested win over flat fields of the same name).
const (
	keyChannel    = "channel"
	keyCreatedAt  = "created_at"
	keyAttributes = "attributes"
)

// userIDKeys are the keys a user's id comes under, in order of preference.
func userIDKeys() [3]string { return [3]string{"channel_user_id", "user_id", "userId"} }

func isUserIDKey(k string) bool {
	for _, id := range userIDKeys() {
		if k == id {
			return true
		}
	}
	return false
}

// ParseUser reads one user object as the User API sends it, as ScanUsers does with each user of
// a page: a User kept as its Raw bytes alone can be had again whole.
func ParseUser(raw json.RawMessage) (User, error) { return parseUser(raw) }

// parseUser reads one user object: the id under channel_user_id, user_id or userId (a string or
// a number), channel and created_at, and attributes nested under "attributes" and/or flat beside
// the id. Nested attributes win over flat fields of the same name.
func parseUser(raw json.RawMessage) (User, error) {
	fields, err := objectMembers(raw)
	if err != nil {
		return User{}, err
	}
	u := User{Raw: raw, Attributes: map[string]string{}}
	for _, k := range userIDKeys() {
		if v, ok := fields[k]; ok {
			if id := jsonText(v); id != "" {
				u.ID = id
				break
			}
		}
	}
	if u.ID == "" {
		return User{}, fmt.Errorf("no id under %q", userIDKeys())
	}
	u.Channel = jsonText(fields[keyChannel])
	u.CreatedAt = jsonText(fields[keyCreatedAt])
	nested := false
	if a, ok := fields[keyAttributes]; ok && len(a) > 0 && a[0] == '{' {
		attrs, err := objectMembers(a)
		if err != nil {
			return User{}, fmt.Errorf("attributes: %w", err)
		}
		for k, v := range attrs {
			u.Attributes[k] = attributeText(v)
		}
		nested = true
	}
	for k, v := range fields {
		switch {
		case isUserIDKey(k) || k == keyChannel || k == keyCreatedAt:
			continue
		case k == keyAttributes && (nested || isJSONNull(v)):
			continue
		}
		if _, ok := u.Attributes[k]; !ok {
			u.Attributes[k] = attributeText(v)
		}
	}
	return u, nil
}

// Extra returns the fields of u.Raw that u's other fields do not hold, exactly as sent, so that
// a user row can keep them: every field but an id field whose text is u.ID, channel and
// created_at when they hold u.Channel and u.CreatedAt (or null), the attributes object (or
// null), and the flat fields whose text u.Attributes holds under the same name. It returns nil
// when nothing is left or u.Raw is empty, and an error when u.Raw is not a JSON object. The
// values are slices of u.Raw, not copies.
func (u User) Extra() (map[string]json.RawMessage, error) {
	raw := bytes.TrimSpace(u.Raw)
	if len(raw) == 0 {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	fields, err := objectMembers(raw)
	if err != nil {
		return nil, err
	}
	var extra map[string]json.RawMessage
	for k, v := range fields {
		switch {
		case k == keyAttributes && (isJSONNull(v) || (len(v) > 0 && v[0] == '{')):
		case isUserIDKey(k) && sameText(v, u.ID):
		case k == keyChannel && (isJSONNull(v) || sameText(v, u.Channel)):
		case k == keyCreatedAt && (isJSONNull(v) || sameText(v, u.CreatedAt)):
		case !isUserIDKey(k) && k != keyChannel && k != keyCreatedAt && hasText(u.Attributes, k, v):
		default:
			if extra == nil {
				extra = map[string]json.RawMessage{}
			}
			extra[k] = v
		}
	}
	return extra, nil
}

// sameText reports whether the JSON value v is the string s, or a non-string whose JSON text is s.
func sameText(v json.RawMessage, s string) bool {
	if len(v) > 0 && v[0] == '"' {
		var got string
		return json.Unmarshal(v, &got) == nil && got == s
	}
	return string(v) == s
}

// hasText reports whether attrs holds v's attribute text under k.
func hasText(attrs map[string]string, k string, v json.RawMessage) bool {
	a, ok := attrs[k]
	return ok && a == attributeText(v)
}

func isJSONNull(v json.RawMessage) bool { return bytes.Equal(v, []byte("null")) }

// attributeText is an attribute's value: a JSON string's value, or the JSON text of any other
// value, null included ("null"), so that nothing sent is lost.
func attributeText(raw json.RawMessage) string {
	if s, ok := stringValue(raw); ok {
		return s
	}
	return string(raw)
}

// stringValue is the value of raw if it is one valid JSON string, as encoding/json decodes it.
func stringValue(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	end, flags, ok := jsonscan.String(raw, 0)
	if !ok || end != len(raw) {
		return "", false
	}
	if flags&jsonscan.Escaped == 0 && (flags&jsonscan.NonASCII == 0 || utf8.Valid(raw[1:len(raw)-1])) {
		return string(raw[1 : len(raw)-1]), true
	}
	return string(jsonscan.AppendUnquoted(nil, raw)), true
}

// objectMembers is the members of raw, a JSON object, as json.Unmarshal into a
// map[string]json.RawMessage makes them (of a name sent twice, the last value), without its
// reflection: a user's fields and attributes are read for every user listed. Anything but a
// valid object (null included) goes to json.Unmarshal, for its answer and its error.
func objectMembers(raw []byte) (map[string]json.RawMessage, error) {
	i := jsonscan.SkipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' || !jsonscan.Valid(raw) {
		var fields map[string]json.RawMessage
		err := json.Unmarshal(raw, &fields)
		return fields, err
	}
	fields := map[string]json.RawMessage{}
	jsonscan.EachMember(raw, i, func(key []byte, vs, ve int) bool {
		name, _ := stringValue(key)
		fields[name] = json.RawMessage(raw[vs:ve:ve])
		return true
	})
	return fields, nil
}
