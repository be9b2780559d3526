package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/schema"
)

// FlattenUser turns one user of the User API into a row of the users table.
//
//   - ChannelUserID is u.ID; Channel is u.Channel (nil when empty).
//   - AttributesJSON is u.Attributes as a JSON object with sorted keys ("{}" when there are none).
//   - SourceCreatedAt is u.CreatedAt as sent (nil when empty); CreatedAt is it parsed with
//     ParseTimestamp (nil when empty or unparseable: the text stays in SourceCreatedAt).
//   - Selectors are the matching selectors as "NAME=VALUE", in u.Selectors' order (an empty
//     list when there are none).
//   - ExtraJSON holds u.Extra(), the fields of u.Raw that the other columns do not hold,
//     unchanged, sorted by key (extract.User.Extra says which are left out: the user object's
//     layout has its one home in package extract). nil when nothing is left.
//
// The error is a *FieldError matching ErrNotObject when u.Raw is present but not a JSON object.
func FlattenUser(src Source, u extract.User) (schema.User, error) {
	row := schema.User{
		CustomerID:    src.CustomerID,
		BotKey:        src.BotKey,
		ChannelUserID: u.ID,
		RunID:         src.RunID,
		ExtractedAt:   src.ExtractedAt.UTC().Truncate(time.Millisecond),
		Selectors:     make([]string, 0, len(u.Selectors)),
	}
	if u.Channel != "" {
		row.Channel = ptr(u.Channel)
	}
	if u.CreatedAt != "" {
		row.SourceCreatedAt = ptr(u.CreatedAt)
		quoted, err := json.Marshal(u.CreatedAt)
		if err == nil {
			if t, err := ParseTimestamp(quoted); err == nil {
				row.CreatedAt = &t
			}
		}
	}
	for _, s := range u.Selectors {
		row.Selectors = append(row.Selectors, s.String())
	}

	attrs := make(map[string]json.RawMessage, len(u.Attributes))
	for k, v := range u.Attributes {
		b, err := marshalString(v)
		if err != nil {
			return schema.User{}, err
		}
		attrs[k] = b
	}
	a, err := encodeObject(attrs)
	if err != nil {
		return schema.User{}, err
	}
	row.AttributesJSON = a

	extra, err := u.Extra()
	if err != nil {
		return schema.User{}, &FieldError{Field: "user", Value: clip(bytes.TrimSpace(u.Raw)),
			Err: fmt.Errorf("%w: %v", ErrNotObject, err)}
	}
	if len(extra) > 0 {
		s, err := encodeObject(extra)
		if err != nil {
			return schema.User{}, err
		}
		row.ExtraJSON = &s
	}
	return row, nil
}

// marshalString encodes s as a JSON string without HTML escaping.
func marshalString(s string) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
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
func ptr[T any](v T) *T { return &v }
