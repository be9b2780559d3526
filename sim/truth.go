package sim

import (
	"cmp"
	"slices"
	"strconv"
	"time"
)

func (u *user) matches(sel []Selector) bool {
	if len(sel) == 0 {
		return true
	}
	for _, s := range sel {
		if v, ok := u.attrs[s.Name]; ok && v == s.Value {
			return true
		}
	}
	return false
}

// UserIDs returns the sorted ids of the users matching any selector (nil or empty sel: every
// user), as the User API lists them; Faults.InvalidUsers are included.
func (s *Server) UserIDs(sel []Selector) []string {
	var ids []string
	for _, u := range s.users {
		if u.matches(sel) {
			ids = append(ids, u.id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Truth returns what a correct export of users matching any selector (nil or empty sel: every
// user) over [from, to) contains when it reads the API at asOf: the messages with
// from <= SentAt < to and ArrivesAt <= asOf, sorted by user id, then SentAt, then the order the
// API serves them in. Users in Faults.InvalidUsers have no servable messages and are left out.
func (s *Server) Truth(sel []Selector, from, to, asOf time.Time) []Message {
	var users []*user
	for _, u := range s.users {
		if u.matches(sel) && !s.invalid[u.id] {
			users = append(users, u)
		}
	}
	slices.SortFunc(users, func(a, b *user) int { return cmp.Compare(a.id, b.id) })
	var out []Message
	for _, u := range users {
		for _, m := range u.inRange(from, to, asOf) {
			out = append(out, Message{
				ChannelUserID: u.id,
				SentAt:        msgTime(m.sentMs),
				Sender:        m.sender,
				MessageType:   m.mtype,
				Text:          m.text,
				ArrivesAt:     msgTime(m.arrivesMs),
				Raw:           m.appendJSON(nil),
			})
		}
	}
	return out
}

// inRange returns u's messages with from <= SentAt < to and ArrivesAt <= asOf.
func (u *user) inRange(from, to, asOf time.Time) []*msg {
	return u.served(ceilMs(from), ceilMs(to)-1, asOf.UnixMilli(), true)
}

// ceilMs is t in epoch ms, rounded up to a whole ms.
func ceilMs(t time.Time) int64 {
	ms := t.UnixMilli() // rounded down
	if time.UnixMilli(ms).Before(t) {
		return ms + 1
	}
	return ms
}

// MinRequests returns the fewest requests a correct client needs to export users matching sel
// over [from, to) at asOf with pages of pageSize (capped at MaxPageSize; <= 0 means 500,
// capped): for each selector ceil(matches/pageSize) User API pages (at least 1), plus for each
// matched user, counted once, max(1, ceil(its messages/pageSize)), where its messages are those
// the API serves for [from, to) at asOf (an invalid user costs its one 400).
//
// Nil or empty sel means Selectors(). A client that pages until a short page needs one more
// request whenever a count is an exact non-zero multiple of pageSize (the empty page after a
// full one); MinRequests does not count it. With Faults.UsersIgnorePaging a client needs a
// second users page to notice the repetition when the first page is full.
func (s *Server) MinRequests(sel []Selector, from, to, asOf time.Time, pageSize int) int {
	if len(sel) == 0 {
		sel = s.Selectors()
	}
	if pageSize <= 0 {
		pageSize = DefaultMaxPageSize
	}
	pageSize = min(pageSize, s.o.MaxPageSize)
	pages := func(n int) int { return max(1, (n+pageSize-1)/pageSize) }
	total := 0
	for _, sl := range sel {
		n := 0
		for _, u := range s.users {
			if u.matches([]Selector{sl}) {
				n++
			}
		}
		total += pages(n)
	}
	for _, u := range s.users {
		if !u.matches(sel) {
			continue
		}
		if s.invalid[u.id] {
			total++
			continue
		}
		total += pages(len(u.inRange(from, to, asOf)))
	}
	return total
}

// Selectors returns selectors whose union is every user: those of feedback=1 .. feedback=5
// that match at least one user.
func (s *Server) Selectors() []Selector {
	var sel []Selector
	for i := 1; i <= 5; i++ {
		c := Selector{Name: "feedback", Value: strconv.Itoa(i)}
		if len(s.UserIDs([]Selector{c})) > 0 { // a selector that matches nobody is refused by an export
			sel = append(sel, c)
		}
	}
	return sel
}

// Fixtures names the generated users that tests single out.
type Fixtures struct {
	// StraddleUser has two identical twins at positions StraddlePosition and
	// StraddlePosition+1 of its messages in [From, To), messages exactly at From, To-1ms and
	// every midnight of the range (and the millisecond before it), and one session with every
	// message type in every timestamp form and offset.
	StraddleUser string
	TrioUser     string   // has three identical messages
	EscapedUsers []string // ids holding '+', ':', '/' and spaces (channel telegram)
	EmptyUsers   []string // users without messages
}

// Fixtures returns the special users of the generated data (those the configured Users count
// leaves room for).
func (s *Server) Fixtures() Fixtures {
	var f Fixtures
	for i, u := range s.gen {
		switch roleOf(i) {
		case roleHeavyStraddle:
			f.StraddleUser = u.id
		case roleHeavyTrio:
			f.TrioUser = u.id
		case roleTelegram:
			f.EscapedUsers = append(f.EscapedUsers, u.id)
		case roleEmpty:
			f.EmptyUsers = append(f.EmptyUsers, u.id)
		}
	}
	return f
}
