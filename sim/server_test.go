package sim_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatlake/chatlake/sim"
)

func TestNewValidatesOptions(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(o *sim.Options)
		field string
	}{
		{"negative users", func(o *sim.Options) { o.Users = -1 }, "Users"},
		{"to before from", func(o *sim.Options) { o.To = o.From.Add(-time.Hour) }, "To"},
		{"from not whole ms", func(o *sim.Options) { o.From = o.From.Add(time.Microsecond) }, "From"},
		{"customer not digits", func(o *sim.Options) { o.CustomerID = "abc" }, "CustomerID"},
		{"bot key short", func(o *sim.Options) { o.BotKey = "0123" }, "BotKey"},
		{"bot key not hex", func(o *sim.Options) { o.BotKey = "0123456789abcdeg" }, "BotKey"},
		{"api key with space", func(o *sim.Options) { o.APIKey = "a b" }, "APIKey"},
		{"max page size", func(o *sim.Options) { o.MaxPageSize = -5 }, "MaxPageSize"},
		{"variant", func(o *sim.Options) { o.Variant = "weird" }, "Variant"},
		{"p429", func(o *sim.Options) { o.Faults.P429 = 1.5 }, "Faults.P429"},
		{"p5xx", func(o *sim.Options) { o.Faults.P5xx = -0.1 }, "Faults.P5xx"},
		{"pcutoff", func(o *sim.Options) { o.Faults.PCutOff = 2 }, "Faults.PCutOff"},
		{"pspike", func(o *sim.Options) { o.Faults.PSpike = 3 }, "Faults.PSpike"},
		{"latency", func(o *sim.Options) { o.Faults.Latency = -time.Second }, "Faults.Latency"},
		{"rate", func(o *sim.Options) { o.Faults.RateLimit = -1 }, "Faults.RateLimit"},
		{"rate NaN", func(o *sim.Options) { o.Faults.RateLimit = math.NaN() }, "Faults.RateLimit"},
		{"rate beyond any burst", func(o *sim.Options) { o.Faults.RateLimit = 1e300 }, "Faults.RateLimit"},
		{"from before 1971", func(o *sim.Options) { o.From = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) }, "From"},
		{"to after 9999", func(o *sim.Options) { o.To = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "To"},
		{"users too many", func(o *sim.Options) { o.Users = 1 << 40 }, "Users"},
		{"retry-after negative", func(o *sim.Options) { o.Faults.RetryAfter = -time.Second }, "Faults.RetryAfter"},
		{"spike negative", func(o *sim.Options) { o.Faults.Spike = -time.Second }, "Faults.Spike"},
		{"max page size negative", func(o *sim.Options) { o.MaxPageSize = -1 }, "MaxPageSize"},
		{"burst", func(o *sim.Options) { o.Faults.RateBurst = -1 }, "Faults.RateBurst"},
		{"reject with 1002", func(o *sim.Options) { o.Faults.RejectConversations = 1002 }, "Faults.RejectConversations"},
		{"invalid users", func(o *sim.Options) { o.Faults.InvalidUsers = []string{"nobody"} }, "Faults.InvalidUsers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := sim.DefaultOptions()
			tc.mod(&o)
			_, err := sim.New(o)
			var oe *sim.OptionError
			if !errors.As(err, &oe) || oe.Field != tc.field {
				t.Fatalf("New: got %v, want an *OptionError for %s", err, tc.field)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %s", err, tc.field)
			}
		})
	}
	t.Run("zero options are the defaults", func(t *testing.T) {
		a, err := sim.New(sim.Options{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		b, err := sim.New(sim.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		if got := len(a.UserIDs(nil)); got != sim.DefaultUsers {
			t.Errorf("users = %d, want %d", got, sim.DefaultUsers)
		}
		if !slices.Equal(a.UserIDs(nil), b.UserIDs(nil)) {
			t.Error("Options{Seed: 1} and DefaultOptions() differ")
		}
	})
}

func TestDeterminism(t *testing.T) {
	seq := func(seed int64) [][]byte {
		h := newHarness(t, sim.Options{Seed: seed, Variant: sim.VariantMixed, Faults: sim.Faults{P5xx: 0.2, P429: 0.1}})
		var bodies [][]byte
		for _, v := range []string{"1", "2", "3"} {
			bodies = append(bodies, h.do(usersPath(), url.Values{"attribute_name": {"feedback"}, "attribute_value": {v}}, nil).body)
		}
		for _, id := range h.s.UserIDs(nil)[:20] {
			bodies = append(bodies, h.do(convPath(id), window(defFrom(), defTo(), 1, 100), nil).body)
		}
		return bodies
	}
	a, b, c := seq(7), seq(7), seq(8)
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("seed 7 twice: response %d differs:\n%.300s\n%.300s", i, a[i], b[i])
		}
	}
	s7, _ := sim.New(sim.Options{Seed: 7})
	s8, _ := sim.New(sim.Options{Seed: 8})
	if slices.Equal(s7.UserIDs(nil), s8.UserIDs(nil)) {
		t.Error("seeds 7 and 8 generate the same users")
	}
	if slices.EqualFunc(a, c, bytes.Equal) {
		t.Error("seeds 7 and 8 serve the same bodies")
	}
	t.Run("smaller Users is a prefix", func(t *testing.T) {
		small, _ := sim.New(sim.Options{Seed: 7, Users: 10})
		for _, id := range small.UserIDs(nil) {
			if !slices.Contains(s7.UserIDs(nil), id) {
				t.Fatalf("user %s of Users=10 is not among Users=60", id)
			}
		}
		ta := small.Truth(nil, defFrom(), defTo(), farFuture())
		tb := s7.Truth(nil, defFrom(), defTo(), farFuture())
		var sub []sim.Message
		for _, m := range tb {
			if slices.Contains(small.UserIDs(nil), m.ChannelUserID) {
				sub = append(sub, m)
			}
		}
		if d := equalRaws(toRaw(ta), rawsOf(sub)); d != "" {
			t.Errorf("Users=10 messages differ from the same users in Users=60: %s", d)
		}
	})
}

func toRaw(ms []sim.Message) (out []json.RawMessage) {
	for _, m := range ms {
		out = append(out, m.Raw)
	}
	return out
}

func TestErrorResponses(t *testing.T) {
	base := newHarness(t, sim.Options{Seed: 3})
	forbidden := newHarness(t, sim.Options{Seed: 3, Faults: sim.Faults{Forbidden: true}})
	badDates := newHarness(t, sim.Options{Seed: 3, Faults: sim.Faults{RejectConversations: 1003}})
	badPages := newHarness(t, sim.Options{Seed: 3, Faults: sim.Faults{RejectConversations: 1004}})
	id := base.s.UserIDs(nil)[0]
	str := func(s string) *string { return &s }
	good := "/bot-api/v1.0/customer/" + sim.DefaultCustomerID + "/bot/" + sim.DefaultBotKey
	tests := []struct {
		name       string
		h          *harness
		path       string
		q          url.Values
		auth       *string
		wantStatus int
		wantCode   int
		wantDesc   string
	}{
		{"no key", base, convPath(id), nil, str(""), 401, 401, "UNAUTHORIZED"},
		{"wrong key", base, convPath(id), nil, str("Basic nope"), 401, 401, "UNAUTHORIZED"},
		{"bearer", base, convPath(id), nil, str("Bearer " + sim.DefaultAPIKey), 401, 401, "UNAUTHORIZED"},
		{"base64 key", base, convPath(id), nil, str("Basic NWYwYzdlMmE="), 401, 401, "UNAUTHORIZED"},
		{"forbidden conversations", forbidden, convPath(id), nil, nil, 403, 403, "FORBIDDEN"},
		{"forbidden users", forbidden, usersPath(), url.Values{"attribute_name": {"feedback"}, "attribute_value": {"1"}}, nil, 403, 403, "FORBIDDEN"},
		{"wrong customer", base, "/bot-api/v1.0/customer/9/bot/" + sim.DefaultBotKey + "/channel-user/" + url.PathEscape(id) + "/conversations", nil, nil, 400, 1002, "INVALID_BOT_OR_CUSTOMER_ID"},
		{"wrong bot", base, "/bot-api/v1.0/customer/" + sim.DefaultCustomerID + "/bot/ffffffffffffffff/users", url.Values{"attribute_name": {"feedback"}, "attribute_value": {"1"}}, nil, 400, 1002, "INVALID_BOT_OR_CUSTOMER_ID"},
		{"unknown user", base, convPath("15550000000"), nil, nil, 400, 1002, "INVALID_BOT_OR_CUSTOMER_ID"},
		{"users without selector", base, good + "/users", url.Values{"attribute_name": {"feedback"}}, nil, 400, 1002, "INVALID_BOT_OR_CUSTOMER_ID"},
		{"start not integer", base, convPath(id), url.Values{"start_date": {"2024-05-01"}}, nil, 400, 1003, "INVALID_INPUT_DATE_VALUE"},
		{"end not integer", base, convPath(id), url.Values{"end_date": {"1.5"}}, nil, 400, 1003, "INVALID_INPUT_DATE_VALUE"},
		{"end equals start", base, convPath(id), url.Values{"start_date": {"1714521600000"}, "end_date": {"1714521600000"}}, nil, 400, 1003, "INVALID_INPUT_DATE_VALUE"},
		{"end before start", base, convPath(id), url.Values{"start_date": {"1714521600000"}, "end_date": {"1714521599999"}}, nil, 400, 1003, "INVALID_INPUT_DATE_VALUE"},
		{"page zero", base, convPath(id), url.Values{"page_number": {"0"}}, nil, 400, 1004, "INVALID_PAGE_NUMBER"},
		{"page negative", base, usersPath(), url.Values{"attribute_name": {"feedback"}, "attribute_value": {"1"}, "page_number": {"-2"}}, nil, 400, 1004, "INVALID_PAGE_NUMBER"},
		{"page not a number", base, convPath(id), url.Values{"page_number": {"two"}}, nil, 400, 1004, "INVALID_PAGE_NUMBER"},
		{"page size zero", base, convPath(id), url.Values{"page_size": {"0"}}, nil, 400, 1004, "INVALID_PAGE_NUMBER"},
		{"conversations rejected 1003", badDates, convPath(id), nil, nil, 400, 1003, "INVALID_INPUT_DATE_VALUE"},
		{"conversations rejected 1004", badPages, convPath(id), nil, nil, 400, 1004, "INVALID_PAGE_NUMBER"},
		{"rejected conversations, wrong bot first", badDates, "/bot-api/v1.0/customer/9/bot/" + sim.DefaultBotKey + "/channel-user/" + url.PathEscape(id) + "/conversations", nil, nil, 400, 1002, "INVALID_BOT_OR_CUSTOMER_ID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.h.do(tc.path, tc.q, tc.auth)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.wantStatus, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			c := decode(t, r.body)
			if c.Status.Code != tc.wantCode || c.Status.Desc != tc.wantDesc {
				t.Errorf("status %d %s, want %d %s", c.Status.Code, c.Status.Desc, tc.wantCode, tc.wantDesc)
			}
			if tc.wantCode == 1003 && !strings.Contains(c.Status.Details, "milliseconds") {
				t.Errorf("1003 details %q", c.Status.Details)
			}
			if bytes.Contains(r.body, []byte(sim.DefaultAPIKey)) {
				t.Error("body contains the API key")
			}
		})
	}
	t.Run("rejecting conversations leaves users alone", func(t *testing.T) {
		if r := badDates.do(usersPath(), url.Values{"attribute_name": {"feedback"}, "attribute_value": {"1"}}, nil); r.status != 200 {
			t.Errorf("users with RejectConversations: %d %s", r.status, r.body)
		}
		if n := badDates.s.Stats().Faults[sim.FaultRejected]; n == 0 {
			t.Error("rejected conversations not counted in Stats.Faults")
		}
	})
	t.Run("not found and method", func(t *testing.T) {
		if r := base.do("/bot-api/v1.0/customer/1001/bot/"+sim.DefaultBotKey+"/nothing", nil, nil); r.status != 404 {
			t.Errorf("unknown path: %d", r.status)
		}
		resp, err := httpPost(base.url + convPath(id))
		if err != nil || resp != 405 {
			t.Errorf("POST: %d %v", resp, err)
		}
	})
}

func TestPagingMatchesTruth(t *testing.T) {
	h := newHarness(t, sim.Options{Seed: 11, MaxPageSize: 50})
	f := h.s.Fixtures()
	ids := append([]string{f.StraddleUser, f.TrioUser, f.EmptyUsers[0]}, f.EscapedUsers...)
	ids = append(ids, h.s.UserIDs(nil)[:5]...)
	from, to := defFrom().Add(36*time.Hour), defTo().Add(-24*time.Hour)
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			got := h.allPages(id, from, to, 7)
			want := truthOf(h.s, id, from, to, farFuture())
			if d := equalRaws(got, rawsOf(want)); d != "" {
				t.Fatal(d)
			}
			for _, raw := range got {
				m := decodeMsg(t, raw)
				if ts := parseTimestamp(t, m.Timestamp); ts.Before(from) || !ts.Before(to) {
					t.Fatalf("message at %s outside [%s, %s)", ts, from, to)
				}
			}
		})
	}
	t.Run("page past the end is empty", func(t *testing.T) {
		n := len(truthOf(h.s, f.StraddleUser, from, to, farFuture()))
		for _, p := range []int{n/50 + 2, 1 << 30} {
			c := decode(t, h.ok(convPath(f.StraddleUser), window(from, to, p, 50)))
			if len(c.ResponseObject.Conversations) != 0 || c.ResponseObject.TotalElements != n {
				t.Errorf("page %d: %d messages, total %d; want 0, %d", p, len(c.ResponseObject.Conversations), c.ResponseObject.TotalElements, n)
			}
		}
	})
	t.Run("page size capped", func(t *testing.T) {
		c := decode(t, h.ok(convPath(f.StraddleUser), window(from, to, 1, 1000)))
		if len(c.ResponseObject.Conversations) != 50 || c.ResponseObject.PageSize != 50 {
			t.Errorf("page_size=1000 with MaxPageSize 50: %d messages, page_size %d", len(c.ResponseObject.Conversations), c.ResponseObject.PageSize)
		}
		u := decode(t, h.ok(usersPath(), url.Values{"attribute_name": {"user.channel"}, "attribute_value": {"whatsapp"}, "page_size": {"900"}}))
		if u.ResponseObject.PageSize != 50 {
			t.Errorf("users page_size %d, want 50", u.ResponseObject.PageSize)
		}
	})
	t.Run("default page size", func(t *testing.T) {
		h := newHarness(t, sim.Options{Seed: 11})
		c := decode(t, h.ok(convPath(f.StraddleUser), nil))
		if len(c.ResponseObject.Conversations) != 500 || c.ResponseObject.PageSize != 500 || c.ResponseObject.PageNumber != 1 {
			t.Errorf("no paging parameters: %d messages, page %d size %d", len(c.ResponseObject.Conversations), c.ResponseObject.PageNumber, c.ResponseObject.PageSize)
		}
	})
	t.Run("users pages", func(t *testing.T) {
		for _, sel := range h.s.Selectors() {
			var got []string
			for p := 1; ; p++ {
				q := url.Values{"attribute_name": {sel.Name}, "attribute_value": {sel.Value}, "page_number": {itoa(p)}, "page_size": {"4"}}
				c := decode(t, h.ok(usersPath(), q))
				for _, raw := range c.ResponseObject.Users {
					got = append(got, userID(t, raw, "channel_user_id"))
				}
				if len(c.ResponseObject.Users) < 4 {
					break
				}
			}
			slices.Sort(got)
			if want := h.s.UserIDs([]sim.Selector{sel}); !slices.Equal(got, want) {
				t.Errorf("%s: paged users %v, want %v", sel, got, want)
			}
		}
	})
}

// truthOf is Truth of one user.
func truthOf(s *sim.Server, id string, from, to, asOf time.Time) []sim.Message {
	var out []sim.Message
	for _, m := range s.Truth(nil, from, to, asOf) {
		if m.ChannelUserID == id {
			out = append(out, m)
		}
	}
	return out
}

func TestSelectorsCoverEveryUser(t *testing.T) {
	s, err := sim.New(sim.Options{Seed: 5, Users: 200})
	if err != nil {
		t.Fatal(err)
	}
	union := map[string]bool{}
	for _, sel := range s.Selectors() {
		for _, id := range s.UserIDs([]sim.Selector{sel}) {
			union[id] = true
		}
	}
	all := s.UserIDs(nil)
	if len(all) != 200 || len(union) != 200 {
		t.Errorf("%d users, selectors cover %d", len(all), len(union))
	}
	if got := s.UserIDs(s.Selectors()); !slices.Equal(got, all) {
		t.Errorf("UserIDs(Selectors()) has %d users, want %d", len(got), len(all))
	}
}

func TestUsersIgnorePaging(t *testing.T) {
	h := newHarness(t, sim.Options{Seed: 2, Faults: sim.Faults{UsersIgnorePaging: true}})
	sel := sim.Selector{Name: "user.channel", Value: "whatsapp"}
	want := h.s.UserIDs([]sim.Selector{sel})
	if len(want) < 3 {
		t.Fatalf("only %d whatsapp users", len(want))
	}
	var first []byte
	for p := 1; p <= 3; p++ {
		q := url.Values{"attribute_name": {sel.Name}, "attribute_value": {sel.Value}, "page_number": {itoa(p)}, "page_size": {"2"}}
		c := decode(t, h.ok(usersPath(), q))
		if len(c.ResponseObject.Users) != len(want) {
			t.Fatalf("page %d: %d users, want the full list of %d", p, len(c.ResponseObject.Users), len(want))
		}
		list := bytes.Join(rawUsers(c), []byte(","))
		if p == 1 {
			first = list
		} else if !bytes.Equal(list, first) {
			t.Errorf("page %d differs from page 1", p)
		}
	}
}

func rawUsers(c canonical) [][]byte {
	var out [][]byte
	for _, u := range c.ResponseObject.Users {
		out = append(out, u)
	}
	return out
}

func TestInclusiveEnd(t *testing.T) {
	// The straddle user has a message exactly at every midnight of the range.
	from, end := defFrom(), defFrom().Add(48*time.Hour)
	for _, inclusive := range []bool{false, true} {
		h := newHarness(t, sim.Options{Seed: 4, Faults: sim.Faults{InclusiveEnd: inclusive}})
		id := h.s.Fixtures().StraddleUser
		got := h.allPages(id, from, end, 500)
		atEnd := 0
		for _, raw := range got {
			if parseTimestamp(t, decodeMsg(t, raw).Timestamp).Equal(end) {
				atEnd++
			}
		}
		want := len(truthOf(h.s, id, from, end, farFuture()))
		exact := len(truthOf(h.s, id, end, end.Add(time.Millisecond), farFuture()))
		if exact == 0 {
			t.Fatal("no fixture message exactly at the end")
		}
		if inclusive {
			want += exact
		}
		if len(got) != want || (atEnd > 0) != inclusive {
			t.Errorf("inclusive=%v: %d messages (%d at end_date), want %d", inclusive, len(got), atEnd, want)
		}
	}
}

func TestLateMessages(t *testing.T) {
	clock := &fakeClock{now: defTo()}
	h := newHarness(t, sim.Options{Seed: 9, Clock: clock.Now})
	var late []sim.Message
	for _, m := range h.s.Truth(nil, defFrom(), defTo(), farFuture()) {
		if m.ArrivesAt.After(m.SentAt) {
			late = append(late, m)
		}
	}
	if len(late) == 0 {
		t.Fatal("no late messages")
	}
	for _, m := range late[:min(5, len(late))] {
		q := window(m.SentAt, m.SentAt.Add(time.Millisecond), 1, 500)
		clock.Set(m.ArrivesAt.Add(-time.Millisecond))
		before := decode(t, h.ok(convPath(m.ChannelUserID), q)).ResponseObject.Conversations
		clock.Set(m.ArrivesAt)
		after := decode(t, h.ok(convPath(m.ChannelUserID), q)).ResponseObject.Conversations
		if slices.ContainsFunc(before, func(r json.RawMessage) bool { return bytes.Equal(r, m.Raw) }) {
			t.Errorf("message of %s at %s served before it arrives at %s", m.ChannelUserID, m.SentAt, m.ArrivesAt)
		}
		if !slices.ContainsFunc(after, func(r json.RawMessage) bool { return bytes.Equal(r, m.Raw) }) {
			t.Errorf("message of %s at %s not served once arrived at %s", m.ChannelUserID, m.SentAt, m.ArrivesAt)
		}
	}
	t.Run("blank dates at a clock mid-range equal Truth", func(t *testing.T) {
		now := defFrom().Add(7*24*time.Hour + 1234*time.Millisecond)
		clock.Set(now)
		for _, id := range h.s.UserIDs(nil) {
			got := h.allPages(id, time.Time{}, time.Time{}, 500)
			want := truthOf(h.s, id, time.Unix(0, 0), now, now)
			if d := equalRaws(got, rawsOf(want)); d != "" {
				t.Fatalf("user %s: %s", id, d)
			}
		}
	})
}

func TestEscapedIDsRoundTrip(t *testing.T) {
	h := newHarness(t, sim.Options{Seed: 6})
	esc := h.s.Fixtures().EscapedUsers
	if len(esc) != 2 {
		t.Fatalf("%d escaped users", len(esc))
	}
	for _, id := range esc {
		t.Run(id, func(t *testing.T) {
			for _, c := range []string{"+", ":", "/", " "} {
				if !strings.Contains(id, c) {
					t.Errorf("id lacks %q", c)
				}
			}
			got := h.allPages(id, defFrom(), defTo(), 500)
			if len(got) == 0 {
				t.Fatal("no messages")
			}
			if m := decodeMsg(t, got[0]); m.UserID != id {
				t.Errorf("user_id %q", m.UserID)
			}
			if !slices.Contains(h.s.UserIDs([]sim.Selector{{Name: "user.channel", Value: sim.ChannelTelegram}}), id) {
				t.Error("not listed on its channel")
			}
			// Query-escaping turns the space into '+': a different, unknown id.
			bad := "/bot-api/v1.0/customer/" + sim.DefaultCustomerID + "/bot/" + sim.DefaultBotKey +
				"/channel-user/" + url.QueryEscape(id) + "/conversations"
			if r := h.do(bad, nil, nil); r.status != 400 || decode(t, r.body).Status.Code != 1002 {
				t.Errorf("query-escaped id: %d %s", r.status, r.body)
			}
			raw := "/bot-api/v1.0/customer/" + sim.DefaultCustomerID + "/bot/" + sim.DefaultBotKey +
				"/channel-user/" + strings.ReplaceAll(url.PathEscape(id), "%2F", "/") + "/conversations"
			if r := h.do(raw, nil, nil); r.status != 404 {
				t.Errorf("unescaped '/': %d", r.status)
			}
		})
	}
}

func TestTwins(t *testing.T) {
	h := newHarness(t, sim.Options{Seed: 12})
	f := h.s.Fixtures()
	t.Run("straddle pair", func(t *testing.T) {
		all := truthOf(h.s, f.StraddleUser, defFrom(), defTo(), farFuture())
		p := sim.StraddlePosition
		if p != 499 || len(all) < 1000 {
			t.Fatalf("position %d, %d messages", p, len(all))
		}
		if !bytes.Equal(all[p].Raw, all[p+1].Raw) || bytes.Equal(all[p-1].Raw, all[p].Raw) || bytes.Equal(all[p+1].Raw, all[p+2].Raw) {
			t.Error("messages 499 and 500 are not an identical pair")
		}
		page1 := decode(t, h.ok(convPath(f.StraddleUser), window(defFrom(), defTo(), 1, 500))).ResponseObject.Conversations
		page2 := decode(t, h.ok(convPath(f.StraddleUser), window(defFrom(), defTo(), 2, 500))).ResponseObject.Conversations
		if !bytes.Equal(page1[499], page2[0]) {
			t.Errorf("last of page 1 and first of page 2 differ:\n%s\n%s", page1[499], page2[0])
		}
	})
	t.Run("trio", func(t *testing.T) {
		all := truthOf(h.s, f.TrioUser, defFrom(), defTo(), farFuture())
		found := false
		for i := 0; i+2 < len(all); i++ {
			if bytes.Equal(all[i].Raw, all[i+1].Raw) && bytes.Equal(all[i].Raw, all[i+2].Raw) {
				found = true
			}
		}
		if !found {
			t.Error("no identical trio")
		}
	})
}

func TestMinRequests(t *testing.T) {
	// Users=5: index 0 the straddle user (whatsapp), 1 web, 2 and 3 telegram, 4 without messages.
	h := newHarness(t, sim.Options{Seed: 1, Users: 5})
	f := h.s.Fixtures()
	phone := sim.Selector{Name: "user.phone_no", Value: "+" + f.StraddleUser}
	telegram := sim.Selector{Name: "user.channel", Value: sim.ChannelTelegram}
	empty := sim.Selector{Name: "user.user_name", Value: "x"} // nobody
	n := decode(t, h.ok(convPath(f.StraddleUser), window(defFrom(), defTo(), 1, 500))).ResponseObject.TotalElements
	first := defFrom().Add(time.Millisecond) // the 1 ms after From: the telegram users have nothing there
	if got := len(truthOf(h.s, f.EscapedUsers[0], defFrom(), first, farFuture())) + len(truthOf(h.s, f.EscapedUsers[1], defFrom(), first, farFuture())); got != 0 {
		t.Fatalf("precondition: telegram users have %d messages in the first ms", got)
	}
	tests := []struct {
		name     string
		sel      []sim.Selector
		from, to time.Time
		pageSize int
		want     int
	}{
		// 1 users page + ceil(n/500) pages.
		{"straddle user", []sim.Selector{phone}, defFrom(), defTo(), 500, 1 + (n+499)/500},
		// 1 users page + 1 (its message at From).
		{"straddle user first ms", []sim.Selector{phone}, defFrom(), first, 500, 2},
		// Same selector twice: 2 users pages, the user counted once.
		{"duplicate selector", []sim.Selector{phone, phone}, defFrom(), first, 500, 3},
		// 2 telegram users with page size 1: 2 users pages + 1 empty conversations page each.
		{"telegram page size 1", []sim.Selector{telegram}, defFrom(), first, 1, 4},
		// A selector matching nobody still costs its users page.
		{"no match", []sim.Selector{empty}, defFrom(), defTo(), 500, 1},
		// Page size above MaxPageSize is capped.
		{"cap", []sim.Selector{phone}, defFrom(), defTo(), 5000, 1 + (n+499)/500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := h.s.MinRequests(tc.sel, tc.from, tc.to, farFuture(), tc.pageSize); got != tc.want {
				t.Errorf("MinRequests = %d, want %d", got, tc.want)
			}
		})
	}
	if n < 1000 {
		t.Errorf("straddle user has %d messages", n)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
