package pipelines

import (
	"fmt"
	"time"
)

// DayLayout is how days are written everywhere: flags, partitions, state.
const DayLayout = "2006-01-02"

// ParseDay reads a UTC day "YYYY-MM-DD". The error names the input.
func ParseDay(s string) (time.Time, error) {
	d, err := time.ParseInLocation(DayLayout, s, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date of the form YYYY-MM-DD", s)
	}
	return d, nil
}

func dayString(d time.Time) string { return d.UTC().Format(DayLayout) }

// Unit is one piece of work: every exported user over the whole UTC days [From, To].
// It is extracted with one query per user and published as a whole, or not at all.
type Unit struct {
	From, To time.Time // first and last day, 00:00 UTC
}

// Window is the unit's half-open time range.
func (u Unit) Window() (start, end time.Time) { return u.From, u.To.AddDate(0, 0, 1) }

// Days lists the unit's days as partition names.
func (u Unit) Days() []string {
	var days []string
	for d := u.From; !d.After(u.To); d = d.AddDate(0, 0, 1) {
		days = append(days, dayString(d))
	}
	return days
}

func (u Unit) String() string {
	if u.From.Equal(u.To) {
		return dayString(u.From)
	}
	return dayString(u.From) + ".." + dayString(u.To)
}

// Plan splits the days [from, to] into units of at most unitDays days.
func Plan(from, to time.Time, unitDays int) []Unit {
	var units []Unit
	for d := from; !d.After(to); d = d.AddDate(0, 0, unitDays) {
		end := d.AddDate(0, 0, unitDays-1)
		if end.After(to) {
			end = to
		}
		units = append(units, Unit{From: d, To: end})
	}
	return units
}

// lastClosedDay is the last day whose end is at least settle before now: the newest day that
// can no longer change, bar late messages.
func lastClosedDay(now time.Time, settle time.Duration) time.Time {
	cut := now.UTC().Add(-settle)
	return time.Date(cut.Year(), cut.Month(), cut.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
}

// checkRange validates a requested range of days against the clock.
func checkRange(from, to, now time.Time, settle time.Duration) error {
	if to.Before(from) {
		return badInput("--to %s is before --from %s", dayString(to), dayString(from))
	}
	if last := lastClosedDay(now, settle); to.After(last) {
		return badInput("--to %s is not a closed day yet: the last closed day is %s (a day closes %s after its end)",
			dayString(to), dayString(last), settle)
	}
	return nil
}
