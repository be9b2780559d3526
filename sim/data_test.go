package sim_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatlake/chatlake/sim"
)

// timestampForm classifies a served timestamp and returns its UTC offset as +hhmm ("" for epoch).
func timestampForm(t *testing.T, raw json.RawMessage) (form, offset string) {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		if _, err := strconv.ParseInt(string(raw), 10, 64); err != nil {
			t.Fatalf("timestamp %s is neither a string nor an integer", raw)
		}
		return "epoch", ""
	}
	// time.Parse is strict about every character of these layouts.
	if _, err := time.Parse("2006-01-02 15:04:05.000-0700", s); err == nil {
		return "dash", s[len(s)-5:]
	}
	if _, err := time.Parse("2006/01/02 15:04:05.000-0700", s); err == nil {
		return "slash", s[len(s)-5:]
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z07:00", s); err == nil {
		if strings.HasSuffix(s, "Z") {
			return "rfc3339", "+0000"
		}
		return "rfc3339", strings.ReplaceAll(s[len(s)-6:], ":", "")
	}
	t.Fatalf("timestamp %s in no known form", raw)
	return "", ""
}

// parseTimestamp parses a served timestamp with the standard library.
func parseTimestamp(t *testing.T, raw json.RawMessage) time.Time {
	t.Helper()
	form, _ := timestampForm(t, raw)
	if form == "epoch" {
		n, _ := strconv.ParseInt(string(raw), 10, 64)
		return time.UnixMilli(n).UTC()
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	layout := map[string]string{"dash": "2006-01-02 15:04:05.000-0700", "slash": "2006/01/02 15:04:05.000-0700", "rfc3339": time.RFC3339}[form]
	ts, err := time.Parse(layout, s)
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return ts.UTC()
}

func TestGeneratedData(t *testing.T) {
	for _, seed := range []int64{1, 2, 99} {
		t.Run(strconv.FormatInt(seed, 10), func(t *testing.T) {
			s, err := sim.New(sim.Options{Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			checkData(t, s)
		})
	}
}

func checkData(t *testing.T, s *sim.Server) {
	all := s.Truth(nil, defFrom(), defTo(), farFuture())
	forms, offsets, types := map[string]int{}, map[string]int{}, map[string]int{}
	perUser := map[string]int{}
	var midnight, lastMs, lateHours, lateDays, otherCase, attachments int
	optionsRE := regexp.MustCompile(`^\[[^,\]]+(, [^,\]]+)*\]$`)
	uploadRE := regexp.MustCompile(`^User uploaded (\S+) - \[(\S+)\]$`)
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	web := map[string]bool{}
	for _, id := range s.UserIDs([]sim.Selector{{Name: "user.channel", Value: sim.ChannelWeb}}) {
		web[id] = true
	}
	for i, m := range all {
		if i > 0 {
			p := all[i-1]
			if p.ChannelUserID > m.ChannelUserID || p.ChannelUserID == m.ChannelUserID && p.SentAt.After(m.SentAt) {
				t.Fatalf("Truth not sorted at %d", i)
			}
		}
		perUser[m.ChannelUserID]++
		if m.SentAt.Location() != time.UTC || !m.SentAt.Equal(m.SentAt.Truncate(time.Millisecond)) {
			t.Fatalf("SentAt %v not UTC ms", m.SentAt)
		}
		w := decodeMsg(t, m.Raw)
		if got := parseTimestamp(t, w.Timestamp); !got.Equal(m.SentAt) {
			t.Fatalf("timestamp %s is %s, SentAt %s", w.Timestamp, got, m.SentAt)
		}
		form, off := timestampForm(t, w.Timestamp)
		forms[form]++
		if off != "" {
			offsets[off]++
		}
		if strings.ToLower(w.Sender) != m.Sender || strings.ToUpper(w.MessageType) != m.MessageType || w.Response != m.Text {
			t.Fatalf("served %+v, truth %+v", w, m)
		}
		if w.Sender != m.Sender || w.MessageType != m.MessageType {
			otherCase++
		}
		if web[m.ChannelUserID] {
			if !uuidRE.MatchString(w.UserID) {
				t.Fatalf("web user_id %q is not a UUID", w.UserID)
			}
		} else if w.UserID != m.ChannelUserID {
			t.Fatalf("user_id %q, channel user id %q", w.UserID, m.ChannelUserID)
		}
		types[m.MessageType]++
		checkType(t, m, w, optionsRE, uploadRE)
		if w.Attachments != nil {
			attachments++
			for _, a := range w.Attachments {
				if a.URL == "" || a.MimeType == "" || a.Name == "" {
					t.Fatalf("attachment %+v", a)
				}
			}
		}
		switch tod := m.SentAt.Sub(m.SentAt.Truncate(24 * time.Hour)); tod {
		case 0:
			midnight++
		case 24*time.Hour - time.Millisecond:
			lastMs++
		}
		switch late := m.ArrivesAt.Sub(m.SentAt); {
		case late == 0:
		case late >= 2*time.Hour && late <= 30*time.Hour:
			lateHours++
		case late >= 4*24*time.Hour && late <= 6*24*time.Hour:
			lateDays++
		default:
			t.Fatalf("message arrives %s after it is sent", late)
		}
	}
	for _, f := range []string{"dash", "slash", "rfc3339", "epoch"} {
		if forms[f] == 0 {
			t.Errorf("no timestamp in form %s", f)
		}
	}
	if forms["dash"] < len(all)/2 {
		t.Errorf("dash form %d of %d", forms["dash"], len(all))
	}
	for _, o := range []string{"+0000", "+0530", "-0300", "+0100", "+0545", "-0800"} {
		if offsets[o] == 0 {
			t.Errorf("no timestamp with offset %s (have %v)", o, offsets)
		}
	}
	for _, ty := range []string{"TEXT", "OPTIONS", "AGENT_PARTICIPATION_STATUS", "FILE_RECEIVED", "IMAGE", "VIDEO",
		"AUDIO", "DOCUMENT", "TEMPLATE", "LOCATION", "BUTTON", "CAROUSEL"} {
		if types[ty] == 0 {
			t.Errorf("no %s message", ty)
		}
	}
	n := len(all)
	between := func(name string, got int, lo, hi float64) {
		if f := float64(got) / float64(n); f < lo || f > hi {
			t.Errorf("%s: %d of %d (%.3f), want in [%.3f, %.3f]", name, got, n, f, lo, hi)
		}
	}
	between("late by hours", lateHours, 0.02, 0.045)
	between("late by days", lateDays, 0.004, 0.02)
	between("other letter case", otherCase, 0.04, 0.15)
	between("attachments", attachments, 0.01, 0.06)
	if midnight < 15 || lastMs < 14 {
		t.Errorf("%d messages at midnight, %d at 23:59:59.999", midnight, lastMs)
	}
	users := s.UserIDs(nil)
	var empty, heavy int
	for _, id := range users {
		switch c := perUser[id]; {
		case c == 0:
			empty++
		case c >= 600:
			heavy++
		case c < 5 || c > 81:
			t.Errorf("user %s has %d messages", id, c)
		}
	}
	if empty != 6 || heavy != 2 {
		t.Errorf("%d users without messages, %d heavy; want 6 and 2", empty, heavy)
	}
	channels := map[string]int{}
	for _, ch := range []string{sim.ChannelWhatsApp, sim.ChannelWeb, sim.ChannelTelegram} {
		ids := s.UserIDs([]sim.Selector{{Name: "user.channel", Value: ch}})
		channels[ch] = len(ids)
		for _, id := range ids {
			if ch == sim.ChannelWhatsApp && !regexp.MustCompile(`^[1-9][0-9]{9,13}$`).MatchString(id) ||
				ch == sim.ChannelWeb && !uuidRE.MatchString(id) {
				t.Errorf("%s id %q", ch, id)
			}
		}
	}
	if channels[sim.ChannelTelegram] != 2 || channels[sim.ChannelWhatsApp] < 20 || channels[sim.ChannelWeb] < 12 ||
		channels[sim.ChannelWhatsApp]+channels[sim.ChannelWeb]+2 != len(users) {
		t.Errorf("channels %v", channels)
	}
}

// checkType checks what the contract says of each message type.
func checkType(t *testing.T, m sim.Message, w served, optionsRE, uploadRE *regexp.Regexp) {
	t.Helper()
	fail := func(what string) { t.Fatalf("%s message %s: %s", m.MessageType, m.Raw, what) }
	switch m.MessageType {
	case "OPTIONS":
		if !optionsRE.MatchString(m.Text) {
			fail("response is not a bracketed list")
		}
	case "AGENT_PARTICIPATION_STATUS":
		var v struct {
			AgentID int64  `json:"agentId"`
			Msg     string `json:"PARTICIPATION_MESSAGE"`
		}
		if err := json.Unmarshal([]byte(m.Text), &v); err != nil || v.AgentID == 0 || v.Msg == "" || m.Sender != "agent" {
			fail("response is not a JSON string with agentId from an agent")
		}
	case "FILE_RECEIVED":
		sm := uploadRE.FindStringSubmatch(m.Text)
		if sm == nil || w.File == nil || w.File.MimeType != sm[2] || !strings.HasSuffix(w.File.URL, "/"+sm[1]) || w.File.UploadType == "" {
			fail("response and file disagree")
		}
	case "IMAGE", "VIDEO", "AUDIO", "DOCUMENT":
		if w.File == nil || w.File.UploadType != m.MessageType || m.Sender != "bot" {
			fail("outbound media without its file")
		}
	case "TEMPLATE":
		if w.Template == nil || w.Template.Name == "" || w.Template.Language == "" || w.Template.BroadcastID == "" {
			fail("no template")
		}
	case "LOCATION":
		if w.Location == nil || w.Location.Lat < -90 || w.Location.Lat > 90 {
			fail("no location")
		}
	}
	if m.MessageType != "TEMPLATE" && w.Template != nil || m.MessageType != "LOCATION" && w.Location != nil {
		fail("stray template or location")
	}
}

func TestFixturesOnBoundaries(t *testing.T) {
	s, err := sim.New(sim.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	id := s.Fixtures().StraddleUser
	var at []time.Time
	for _, m := range truthOf(s, id, defFrom(), defTo(), farFuture()) {
		at = append(at, m.SentAt)
	}
	for d := defFrom(); d.Before(defTo()); d = d.Add(24 * time.Hour) {
		if !slices.ContainsFunc(at, d.Equal) {
			t.Errorf("no message at %s", d)
		}
		if last := d.Add(-time.Millisecond); d.After(defFrom()) && !slices.ContainsFunc(at, last.Equal) {
			t.Errorf("no message at %s", last)
		}
	}
	if last := defTo().Add(-time.Millisecond); !slices.ContainsFunc(at, last.Equal) {
		t.Errorf("no message at %s", last)
	}
}
