package transform

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ms int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ms*int(time.Millisecond), time.UTC)
	}
	tests := []struct {
		raw  string
		want time.Time
	}{
		// The API's canonical form and its slash variant, with offsets.
		{`"2024-05-02 10:15:32.123+0000"`, utc(2024, 5, 2, 10, 15, 32, 123)},
		{`"2024/05/02 10:15:32.123+0000"`, utc(2024, 5, 2, 10, 15, 32, 123)},
		{`"2024-05-02 10:15:32.123+0530"`, utc(2024, 5, 2, 4, 45, 32, 123)},
		{`"2024/05/03 02:00:00.000+0530"`, utc(2024, 5, 2, 20, 30, 0, 0)},
		{`"2024-05-01 22:30:00.000-0300"`, utc(2024, 5, 2, 1, 30, 0, 0)},
		{`"2024-05-02 10:15:32.123Z"`, utc(2024, 5, 2, 10, 15, 32, 123)},
		{`"2024-05-02 10:15:32.123+05:30"`, utc(2024, 5, 2, 4, 45, 32, 123)},
		// Fewer, more and no fractional digits; more are truncated, not rounded.
		{`"2024-05-02 10:15:32+0000"`, utc(2024, 5, 2, 10, 15, 32, 0)},
		{`"2024-05-02 10:15:32.1+0000"`, utc(2024, 5, 2, 10, 15, 32, 100)},
		{`"2024-05-02 10:15:32.12+0000"`, utc(2024, 5, 2, 10, 15, 32, 120)},
		{`"2024-05-02 10:15:32.123999999+0000"`, utc(2024, 5, 2, 10, 15, 32, 123)},
		{`"2024/05/02 10:15:32.9999+0000"`, utc(2024, 5, 2, 10, 15, 32, 999)},
		// RFC 3339.
		{`"2024-05-02T10:15:32Z"`, utc(2024, 5, 2, 10, 15, 32, 0)},
		{`"2024-05-02T10:15:32.123Z"`, utc(2024, 5, 2, 10, 15, 32, 123)},
		{`"2024-05-02T10:15:32.123456789Z"`, utc(2024, 5, 2, 10, 15, 32, 123)},
		{`"2024-05-02T15:45:32.123+05:30"`, utc(2024, 5, 2, 10, 15, 32, 123)},
		{`"2024-05-01T21:00:00-03:00"`, utc(2024, 5, 2, 0, 0, 0, 0)},
		{`"2024-05-02T15:45:32.123+0530"`, utc(2024, 5, 2, 10, 15, 32, 123)},
		// Epoch milliseconds (values computed with date -u).
		{`1714644932123`, utc(2024, 5, 2, 10, 15, 32, 123)},
		{`"1714644932123"`, utc(2024, 5, 2, 10, 15, 32, 123)},
		{`0`, utc(1970, 1, 1, 0, 0, 0, 0)},
		{`-1`, utc(1969, 12, 31, 23, 59, 59, 999)},
		{`253402300799999`, utc(9999, 12, 31, 23, 59, 59, 999)},
		{`-62135596800000`, utc(1, 1, 1, 0, 0, 0, 0)},
		// Surrounding spaces.
		{` "2024-05-02 10:15:32.123+0000" `, utc(2024, 5, 2, 10, 15, 32, 123)},
		{`" 2024-05-02 10:15:32.123+0000 "`, utc(2024, 5, 2, 10, 15, 32, 123)},
		// Midnight.
		{`"2024-05-03 00:00:00.000+0000"`, utc(2024, 5, 3, 0, 0, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := ParseTimestamp(json.RawMessage(tt.raw))
			if err != nil {
				t.Fatalf("ParseTimestamp(%s): %v", tt.raw, err)
			}
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("ParseTimestamp(%s) = %v, want %v", tt.raw, got, tt.want)
			}
		})
	}
}

func TestParseTimestampInvalid(t *testing.T) {
	tests := []string{
		``,
		`null`,
		`true`,
		`{}`,
		`[]`,
		`""`,
		`"yesterday"`,
		`"2024-05-02 10:15:32.123"`,      // no offset: not guessed
		`"2024-05-02T10:15:32"`,          // no offset
		`"2024-05-02"`,                   // a date only
		`"2024-13-02 10:15:32.123+0000"`, // month 13
		`"2024-05-02 25:15:32.123+0000"`, // hour 25
		`"02/05/2024 10:15:32.123+0000"`,
		`"2024-05-02 10:15:32.123 +0000"`,
		`1714644932123.5`,
		`1.714644932123e12`,
		`"-1714644932123"`,              // a numeric string is digits only
		`"0000-12-31 23:00:00Z"`,        // year 0
		`"0001-01-01 00:30:00+0100"`,    // year 0 in UTC
		`"9999-12-31 23:30:00-0100"`,    // year 10000 in UTC
		`253402300800000`,               // year 10000
		`-62135596800001`,               // year 0
		`99999999999999999999999`,       // beyond int64
		`"2024-05-02 10:15:32.123+0000`, // invalid JSON
	}
	for _, raw := range tests {
		t.Run(raw, func(t *testing.T) {
			got, err := ParseTimestamp(json.RawMessage(raw))
			if err == nil {
				t.Fatalf("ParseTimestamp(%s) = %v, want an error", raw, got)
			}
			if !errors.Is(err, ErrTimestamp) {
				t.Errorf("error %v does not match ErrTimestamp", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "timestamp" {
				t.Fatalf("error %v is not a *FieldError for timestamp", err)
			}
			if fe.Value != strings.TrimSpace(raw) {
				t.Errorf("Value = %q, want the value as sent %q", fe.Value, raw)
			}
		})
	}
}
