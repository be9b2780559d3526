package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Bounds of an accepted instant, in epoch milliseconds: 0001-01-01T00:00:00.000Z to
// 9999-12-31T23:59:59.999Z, so that every timestamp has a four-digit year and a partition date.
const (
	minTimestampMS = -62135596800000
	maxTimestampMS = 253402300799999
)

// ParseTimestamp parses a timestamp as the API sends it (a JSON value) and returns it in UTC,
// truncated to the millisecond. Accepted forms:
//
//   - a string "2006-01-02 15:04:05.000-0700" or "2006/01/02 15:04:05.000-0700", with any number
//     of fractional digits or none, and an offset +hhmm, +hh:mm or Z;
//   - a string in RFC 3339, with or without a fraction, with Z or an offset;
//   - a JSON integer of epoch milliseconds, or a string of decimal digits holding one.
//
// A timestamp must name its UTC offset: a string without one is rejected rather than guessed.
// Instants outside years 0001-9999 are rejected. The error is a *FieldError matching
// ErrTimestamp and quoting the value.
func ParseTimestamp(raw json.RawMessage) (time.Time, error) {
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

func fromEpochMS(s string, bad func(string) (time.Time, error)) (time.Time, error) {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms < minTimestampMS || ms > maxTimestampMS {
		return bad("epoch milliseconds out of range (years 0001-9999)")
	}
	return time.UnixMilli(ms).UTC(), nil
}

// isDigits reports whether s is a non-empty string of ASCII decimal digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
