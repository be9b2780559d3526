package schema

import (
	"fmt"
	"time"
)

// DayLayout is how a UTC day is written everywhere: the dt partition of the messages table,
// the snapshot_date of the users table, flags, manifests and state.
const DayLayout = "2006-01-02"

// DayOf is the partition day of a message sent at t: its UTC date.
func DayOf(t time.Time) string { return t.UTC().Format(DayLayout) }

// ParseDay reads a UTC day "YYYY-MM-DD" and returns its midnight, UTC. The error quotes the
// input; callers add the flag or field it came from.
func ParseDay(s string) (time.Time, error) {
	d, err := time.ParseInLocation(DayLayout, s, time.UTC)
	if err != nil || d.Format(DayLayout) != s {
		return time.Time{}, fmt.Errorf("%q is not a date of the form YYYY-MM-DD", s)
	}
	return d, nil
}
