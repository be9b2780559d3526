package sim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chatlake/chatlake/sim"
)

// fakeClock is a settable clock for Options.Clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// farFuture is a clock after every arrival.
func farFuture() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }

func defFrom() time.Time { return time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC) }
func defTo() time.Time   { return time.Date(2024, 5, 15, 0, 0, 0, 0, time.UTC) }

// harness is a Server behind httptest with a plain net/http client.
type harness struct {
	t   *testing.T
	s   *sim.Server
	url string
	key string
}

func newHarness(t *testing.T, o sim.Options) *harness {
	t.Helper()
	if o.Clock == nil {
		o.Clock = farFuture
	}
	s, err := sim.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	key := o.APIKey
	if key == "" {
		key = sim.DefaultAPIKey
	}
	return &harness{t: t, s: s, url: ts.URL, key: key}
}

type reply struct {
	status int
	header http.Header
	body   []byte
	err    error // error reading the body
}

// do sends GET path?q with the harness's key (auth overrides it when non-nil).
func (h *harness) do(path string, q url.Values, auth *string) reply {
	h.t.Helper()
	u := h.url + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	a := "Basic " + h.key
	if auth != nil {
		a = *auth
	}
	if a != "" {
		req.Header.Set("Authorization", a)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

// ok is do that insists on a complete 200.
func (h *harness) ok(path string, q url.Values) []byte {
	h.t.Helper()
	r := h.do(path, q, nil)
	if r.err != nil || r.status != http.StatusOK {
		h.t.Fatalf("GET %s?%s: status %d, read error %v, body %.300s", path, q.Encode(), r.status, r.err, r.body)
	}
	return r.body
}

func usersPath() string {
	return "/bot-api/v1.0/customer/" + sim.DefaultCustomerID + "/bot/" + sim.DefaultBotKey + "/users"
}

func convPath(id string) string {
	return "/bot-api/v1.0/customer/" + sim.DefaultCustomerID + "/bot/" + sim.DefaultBotKey +
		"/channel-user/" + url.PathEscape(id) + "/conversations"
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func window(from, to time.Time, page, size int) url.Values {
	q := url.Values{"page_number": {strconv.Itoa(page)}, "page_size": {strconv.Itoa(size)}}
	if !from.IsZero() {
		q.Set("start_date", ms(from))
	}
	if !to.IsZero() {
		q.Set("end_date", ms(to))
	}
	return q
}

// canonical is the canonical body of both endpoints.
type canonical struct {
	Status struct {
		Code    int    `json:"code"`
		Desc    string `json:"desc"`
		Details string `json:"details"`
	} `json:"status"`
	ResponseObject struct {
		Conversations []json.RawMessage `json:"conversations"`
		Users         []json.RawMessage `json:"users"`
		PageNumber    int               `json:"page_number"`
		PageSize      int               `json:"page_size"`
		TotalElements int               `json:"total_elements"`
	} `json:"responseObject"`
}

func decode(t *testing.T, b []byte) canonical {
	t.Helper()
	var c canonical
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("decode %.300s: %v", b, err)
	}
	return c
}

// allPages pages a user's conversations over [from, to) with size until a short page.
func (h *harness) allPages(id string, from, to time.Time, size int) []json.RawMessage {
	h.t.Helper()
	var all []json.RawMessage
	for p := 1; ; p++ {
		c := decode(h.t, h.ok(convPath(id), window(from, to, p, size)))
		all = append(all, c.ResponseObject.Conversations...)
		if len(c.ResponseObject.Conversations) < size {
			return all
		}
		if p > 10000 {
			h.t.Fatal("paging does not end")
		}
	}
}

// rawsOf returns the Raw of each message.
func rawsOf(ms []sim.Message) [][]byte {
	out := make([][]byte, len(ms))
	for i, m := range ms {
		out[i] = m.Raw
	}
	return out
}

// equalRaws reports the first difference between served messages and truth, or "".
func equalRaws(got []json.RawMessage, want [][]byte) string {
	if len(got) != len(want) {
		return "count " + strconv.Itoa(len(got)) + " != " + strconv.Itoa(len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			return "message " + strconv.Itoa(i) + ": " + string(got[i]) + " != " + string(want[i])
		}
	}
	return ""
}

// served is the decoded fields of one served message the tests look at.
type served struct {
	UserID      string          `json:"user_id"`
	Sender      string          `json:"sender"`
	MessageType string          `json:"message_type"`
	Response    string          `json:"response"`
	Timestamp   json.RawMessage `json:"timestamp"`
	File        *struct {
		URL, MimeType, UploadType string
	} `json:"file"`
	Attachments []struct {
		URL      string `json:"url"`
		MimeType string `json:"mimeType"`
		Name     string `json:"name"`
	} `json:"attachments"`
	Template *struct {
		Name        string `json:"name"`
		Language    string `json:"language"`
		BroadcastID string `json:"broadcast_id"`
	} `json:"template"`
	Location *struct{ Lat, Lng float64 } `json:"location"`
}

func decodeMsg(t *testing.T, raw []byte) served {
	t.Helper()
	var m served
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode message %s: %v", raw, err)
	}
	return m
}

func httpPost(u string) (int, error) {
	resp, err := http.Post(u, "application/json", nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// userID returns the string under key of a user object.
func userID(t *testing.T, raw []byte, key string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode user %s: %v", raw, err)
	}
	id, ok := m[key].(string)
	if !ok {
		t.Fatalf("user %s has no string %q", raw, key)
	}
	return id
}
