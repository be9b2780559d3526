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
	if t, ok := parseCommon(raw); ok {
		return t, nil
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

// parseCommon parses, without allocating, a JSON string "yyyy-MM-dd HH:mm:ss[.f]Z", with '/' or
// '-' between the date's parts, ' ' or 'T' (with '-' only) before the time, 1 to 9 fractional
// digits or none, and Z, +hhmm or +hh:mm: the forms the API sends. Anything else, and any value
// out of range, is not ok and goes the general way (time.Parse), which has the last word.
func parseCommon(raw []byte) (time.Time, bool) {
	n := len(raw)
	if n < 22 || raw[0] != '"' || raw[n-1] != '"' {
		return time.Time{}, false
	}
	s := raw[1 : n-1]
	sep := s[4]
	if (sep != '-' && sep != '/') || s[7] != sep || (s[10] != ' ' && (s[10] != 'T' || sep != '-')) ||
		s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	rest := s[19:]
	nsec := 0
	if len(rest) > 0 && rest[0] == '.' {
		k := 1
		for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
			k++
		}
		if k == 1 || k > 10 {
			return time.Time{}, false
		}
		f, _ := digits(rest[1:k])
		for range 10 - k {
			f *= 10
		}
		nsec = f
		rest = rest[k:]
	}
	offset := 0
	switch {
	case len(rest) == 1 && rest[0] == 'Z':
	case (len(rest) == 5 || (len(rest) == 6 && rest[3] == ':')) && (rest[0] == '+' || rest[0] == '-'):
		hh, ok1 := digits(rest[1:3])
		mm, ok2 := digits(rest[len(rest)-2:])
		if !ok1 || !ok2 || hh > 23 || mm > 59 {
			return time.Time{}, false
		}
		offset = (hh*60 + mm) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC).Add(-time.Duration(offset) * time.Second)
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t.Truncate(time.Millisecond), true
}

// digits reads a string of ASCII decimal digits.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(m time.Month, year int) int {
	if m == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 31 - int(m-1)%7%2
}
