package extract

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Selector is one User API attribute selector: attribute_name=Name, attribute_value=Value.
type Selector struct {
	Name  string
	Value string
}

func (s Selector) String() string { return s.Name + "=" + s.Value }

// Validate refuses a selector the User API cannot answer: an empty or blank name or value, or
// one holding control characters or invalid UTF-8. The error is an *InputError naming the
// selector (matching ErrInvalidInput).
func (s Selector) Validate() error {
	for _, part := range []struct{ what, v string }{{"name", s.Name}, {"value", s.Value}} {
		reason := ""
		switch {
		case part.v == "":
			reason = "empty attribute " + part.what
		case strings.TrimSpace(part.v) == "":
			reason = "blank attribute " + part.what
		case !utf8.ValidString(part.v):
			reason = "attribute " + part.what + " is not valid UTF-8"
		case strings.ContainsFunc(part.v, unicode.IsControl):
			reason = "attribute " + part.what + " holds a control character"
		}
		if reason != "" {
			return &InputError{Input: "selector", Value: s.String(), Reason: reason}
		}
	}
	return nil
}

// User is one user as the User API described it.
type User struct {
	ID         string            // channel_user_id, user_id or userId, whichever the deployment sent
	Channel    string            // channel, "" when absent
	CreatedAt  string            // created_at exactly as sent, "" when absent
	Attributes map[string]string // nested attributes or flat fields; non-string values as their JSON text
	Raw        json.RawMessage   // the whole user object as sent
	Selectors  []Selector        // every selector of the export that matched this user
}

// Window is a half-open UTC time range [Start, End). The API is asked for start_date=Start and
// end_date=End in epoch milliseconds; a deployment may treat end_date as inclusive, so callers
// filter what comes back.
type Window struct {
	Start time.Time
	End   time.Time
}

// The API's dates are epoch milliseconds: a window's ends lie in [windowMin, windowMax).
func windowMin() time.Time { return time.Unix(0, 0).UTC() }
func windowMax() time.Time { return time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }

// Validate refuses a window the API cannot answer: a non-zero end before 1970-01-01T00:00:00Z
// (epoch milliseconds start there) or from the year 10000 on, or an End not after Start. A zero
// Start or End is allowed (left out of the query). The error is an *InputError naming the window
// that matches ErrInvalidInput and ErrInvalidDate.
func (w Window) Validate() error {
	lo, hi := windowMin(), windowMax()
	for _, end := range []struct {
		name string
		t    time.Time
	}{{"start", w.Start}, {"end", w.End}} {
		if end.t.IsZero() {
			continue
		}
		if end.t.Before(lo) || !end.t.Before(hi) {
			return &InputError{Input: "window", Value: w.String(), date: true,
				Reason: fmt.Sprintf("%s %s is outside the API's range [%s, %s)", end.name,
					end.t.UTC().Format(time.RFC3339Nano), lo.Format(time.RFC3339), hi.Format(time.RFC3339))}
		}
	}
	if !w.Start.IsZero() && !w.End.IsZero() && !w.End.After(w.Start) {
		return &InputError{Input: "window", Value: w.String(), date: true, Reason: "end is not after start"}
	}
	return nil
}

func (w Window) String() string {
	return fmt.Sprintf("[%s, %s)", w.Start.UTC().Format(time.RFC3339Nano), w.End.UTC().Format(time.RFC3339Nano))
}

// Page is one page of a user's conversations, as sent.
type Page struct {
	Number   int               // page_number asked for, from 1
	Messages []json.RawMessage // each message object exactly as sent
	Total    int               // total_elements when the deployment sent it, else -1
}
