package extract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testKey      = "3f2c9a7e-5b1d-4c2a-9e8f-0123456789ab-SECRETKEYabc"
	testCustomer = "42"
	testBot      = "0123456789abcdef"
)

// testWindow is 2024-05-02T00:00:00Z .. 2024-05-03T00:00:00Z.
func testWindow() Window {
	return Window{Start: time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 3, 0, 0, 0, 0, time.UTC)}
}

// recorded is what the server saw of one request.
type recorded struct {
	path, escapedPath string
	query             url.Values
	auth              []string
	at                time.Time
}

// recorder is an httptest server that hands request number n (from 1) to handle and records it.
type recorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newRecorder(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, n int)) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, recorded{path: r.URL.Path, escapedPath: r.URL.EscapedPath(), query: r.URL.Query(),
			auth: r.Header.Values("Authorization"), at: time.Now()})
		n := len(rec.reqs)
		rec.mu.Unlock()
		handle(w, r, n)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) requests() []recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.reqs)
}

// lockedBuffer is a log sink safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newTestClient makes a Client with short backoffs and a debug log; the test fails if the key
// shows up in the log.
func newTestClient(t *testing.T, baseURL string, mod func(*Options)) (*Client, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	o := Options{
		BaseURL: baseURL, CustomerID: testCustomer, BotKey: testBot, APIKey: testKey,
		Rate: 1e6, MaxAttempts: 4, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		AttemptTimeout: 10 * time.Second, PageSize: 3,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if strings.Contains(logs.String(), testKey) {
			t.Errorf("the API key appears in the log:\n%s", logs.String())
		}
	})
	return c, logs
}

func msg(i int) string { return fmt.Sprintf(`{"i":%d,"sender":"user"}`, i) }

func msgs(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, msg(i))
	}
	return out
}

// convBody is a canonical conversations body; total or pageSize < 0 leaves them out.
func convBody(total, pageSize int, ms []string) string {
	extra := ""
	if total >= 0 {
		extra += fmt.Sprintf(`,"total_elements":%d`, total)
	}
	if pageSize >= 0 {
		extra += fmt.Sprintf(`,"page_size":%d`, pageSize)
	}
	return `{"status":{"code":1000,"desc":"SUCCESS"},"responseObject":{"conversations":[` + strings.Join(ms, ",") + `]` + extra + `}}`
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// collect runs Conversations and returns the pages delivered.
func collect(c *Client, ctx context.Context, id string, w Window) ([]Page, error) {
	var pages []Page
	err := c.Conversations(ctx, id, w, func(p Page) error {
		p.Messages = slices.Clone(p.Messages) // valid only until fn returns
		for i := range p.Messages {
			p.Messages[i] = bytes.Clone(p.Messages[i])
		}
		pages = append(pages, p)
		return nil
	})
	return pages, err
}

func pageMessages(pages []Page) []string {
	var out []string
	for _, p := range pages {
		out = append(out, rawStrings(p.Messages)...)
	}
	return out
}

func TestConversationsPaging(t *testing.T) {
	for _, tc := range []struct {
		name      string
		maxPages  int
		serve     func(page int) string
		wantReqs  int
		wantMsgs  []string
		wantPages []int
		wantErr   error
	}{
		{"short page ends", 0, func(p int) string {
			return map[int]string{1: convBody(-1, -1, msgs(1, 3)), 2: convBody(-1, -1, msgs(4, 4))}[p]
		}, 2, msgs(1, 4), []int{1, 2}, nil},
		{"empty page ends", 0, func(p int) string {
			return map[int]string{1: convBody(-1, -1, msgs(1, 3)), 2: convBody(-1, -1, msgs(4, 6)), 3: convBody(-1, -1, nil)}[p]
		}, 3, msgs(1, 6), []int{1, 2}, nil},
		{"total_elements ends", 0, func(p int) string {
			return map[int]string{1: convBody(6, 3, msgs(1, 3)), 2: convBody(6, 3, msgs(4, 6)), 3: convBody(6, 3, msgs(7, 7))}[p]
		}, 2, msgs(1, 6), []int{1, 2}, nil},
		{"identical page ends without delivery", 0, func(int) string {
			return convBody(-1, -1, msgs(1, 3))
		}, 2, msgs(1, 3), []int{1}, nil},
		{"a later page repeating the one before it ends without delivery", 0, func(p int) string {
			return convBody(-1, -1, msgs(1+3*min(p-1, 1), 3+3*min(p-1, 1)))
		}, 3, msgs(1, 6), []int{1, 2}, nil},
		{"paging ignored, whole list on every page", 0, func(int) string {
			return `{"messages":[` + strings.Join(msgs(1, 7), ",") + `]}`
		}, 2, msgs(1, 7), []int{1}, nil},
		{"smaller page_size of the deployment is used", 0, func(p int) string {
			return map[int]string{1: convBody(-1, 2, msgs(1, 2)), 2: convBody(-1, 2, msgs(3, 4)), 3: convBody(-1, 2, msgs(5, 5))}[p]
		}, 3, msgs(1, 5), []int{1, 2, 3}, nil},
		{"unreported cap below page_size is learned, not taken for the end", 0, func(p int) string {
			return map[int]string{1: convBody(-1, -1, msgs(1, 2)), 2: convBody(-1, -1, msgs(3, 4)), 3: convBody(-1, -1, msgs(5, 5))}[p]
		}, 3, msgs(1, 5), []int{1, 2, 3}, nil},
		{"short first page is confirmed by an empty one", 0, func(p int) string {
			return map[int]string{1: convBody(-1, -1, msgs(1, 2)), 2: convBody(-1, -1, nil)}[p]
		}, 2, msgs(1, 2), []int{1}, nil},
		{"empty first page", 0, func(int) string { return `{"conversations":[]}` }, 1, nil, nil, nil},
		{"page cap", 3, func(p int) string { return convBody(-1, -1, msgs(3*p-2, 3*p)) }, 3, msgs(1, 9), []int{1, 2, 3}, ErrTooManyPages},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				var p int
				_, _ = fmt.Sscan(r.URL.Query().Get("page_number"), &p)
				writeJSON(w, 200, tc.serve(p))
			})
			c, _ := newTestClient(t, rec.srv.URL, func(o *Options) { o.MaxPages = tc.maxPages })
			pages, err := collect(c, context.Background(), "919565428256", testWindow())
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if got := len(rec.requests()); got != tc.wantReqs {
				t.Errorf("%d requests, want %d", got, tc.wantReqs)
			}
			if got := pageMessages(pages); !slices.Equal(got, tc.wantMsgs) {
				t.Errorf("messages %q, want %q", got, tc.wantMsgs)
			}
			var nums []int
			for _, p := range pages {
				nums = append(nums, p.Number)
			}
			if !slices.Equal(nums, tc.wantPages) {
				t.Errorf("pages %v, want %v", nums, tc.wantPages)
			}
		})
	}
}

func TestConversationsQueryAndTotal(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, 200, map[int]string{1: convBody(4, -1, msgs(1, 3)), 2: convBody(4, -1, msgs(4, 4))}[n])
	})
	c, _ := newTestClient(t, rec.srv.URL, nil)
	pages, err := collect(c, context.Background(), "919565428256", testWindow())
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 2 || pages[0].Total != 4 || pages[1].Total != 4 {
		t.Errorf("pages %+v", pages)
	}
	for i, r := range rec.requests() {
		want := url.Values{"start_date": {"1714608000000"}, "end_date": {"1714694400000"},
			"page_number": {fmt.Sprint(i + 1)}, "page_size": {"3"}}
		if r.query.Encode() != want.Encode() {
			t.Errorf("request %d query %s, want %s", i+1, r.query.Encode(), want.Encode())
		}
		if len(r.auth) != 1 || r.auth[0] != "Basic "+testKey {
			t.Errorf("request %d Authorization %q, want exactly %q", i+1, r.auth, "Basic "+testKey)
		}
	}
}

func TestConversationsPathEscaping(t *testing.T) {
	for _, tc := range []struct{ id, escaped string }{
		{"919565428256", "919565428256"},
		{"a+b:c/d e", "a+b:c%2Fd%20e"},
		{"3f1c2d4e-aaaa-bbbb-cccc-0123456789ab", "3f1c2d4e-aaaa-bbbb-cccc-0123456789ab"},
		{"x?y#z%", "x%3Fy%23z%25"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ int) { writeJSON(w, 200, `{"conversations":[]}`) })
			c, _ := newTestClient(t, rec.srv.URL+"/prefix/", nil)
			if _, err := collect(c, context.Background(), tc.id, testWindow()); err != nil {
				t.Fatal(err)
			}
			r := rec.requests()[0]
			wantEsc := "/prefix/bot-api/v1.0/customer/42/bot/0123456789abcdef/channel-user/" + tc.escaped + "/conversations"
			if r.escapedPath != wantEsc {
				t.Errorf("escaped path %s, want %s", r.escapedPath, wantEsc)
			}
			if want := "/prefix/bot-api/v1.0/customer/42/bot/0123456789abcdef/channel-user/" + tc.id + "/conversations"; r.path != want {
				t.Errorf("path %s, want %s", r.path, want)
			}
		})
	}
}

func TestConversationsLocalChecks(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ int) { writeJSON(w, 200, `{"conversations":[]}`) })
	c, _ := newTestClient(t, rec.srv.URL, nil)
	w := testWindow()
	if _, err := collect(c, context.Background(), "1", Window{Start: w.End, End: w.Start}); !errors.Is(err, ErrInvalidDate) {
		t.Errorf("reversed window: %v, want ErrInvalidDate", err)
	}
	if _, err := collect(c, context.Background(), "1", Window{Start: w.Start, End: w.Start}); !errors.Is(err, ErrInvalidDate) {
		t.Errorf("empty window: %v, want ErrInvalidDate", err)
	}
	if _, err := collect(c, context.Background(), "", w); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("empty user id: %v, want ErrInvalidInput", err)
	}
	day := func(y int) time.Time { return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC) }
	for _, bad := range []Window{{day(1969), day(2024)}, {day(2024), day(10000)}, {End: day(1900)}} {
		if _, err := collect(c, context.Background(), "1", bad); !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), bad.String()) {
			t.Errorf("window %s: %v, want ErrInvalidInput naming it", bad, err)
		}
	}
	//lint:ignore SA1012 a nil context must be an error, not a panic
	if err := c.Conversations(nil, "1", w, func(Page) error { return nil }); !errors.Is(err, ErrInvalidInput) { //nolint:staticcheck
		t.Errorf("nil context: %v, want ErrInvalidInput", err)
	}
	if err := c.Conversations(context.Background(), "1", w, nil); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("nil callback: %v, want ErrInvalidInput", err)
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("%d requests for invalid arguments", n)
	}
	// Zero bounds are left out of the query.
	if _, err := collect(c, context.Background(), "1", Window{}); err != nil {
		t.Fatal(err)
	}
	if q := rec.requests()[0].query; q.Has("start_date") || q.Has("end_date") {
		t.Errorf("query %s has a date for a zero bound", q.Encode())
	}
}

func TestConversationsCallbackError(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		writeJSON(w, 200, convBody(-1, -1, msgs(3*n-2, 3*n)))
	})
	c, _ := newTestClient(t, rec.srv.URL, nil)
	stop := errors.New("stop here")
	calls := 0
	err := c.Conversations(context.Background(), "1", testWindow(), func(Page) error { calls++; return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("err %v, want the callback's error wrapped", err)
	}
	if calls != 1 || len(rec.requests()) != 1 {
		t.Errorf("%d calls, %d requests; want 1, 1", calls, len(rec.requests()))
	}
}

// usersBody is a canonical users body with the given elements.
func usersBody(total int, us ...string) string {
	tot := ""
	if total >= 0 {
		tot = fmt.Sprintf(`,"total_elements":%d`, total)
	}
	return `{"status":{"code":1000,"desc":"SUCCESS"},"responseObject":{"users":[` + strings.Join(us, ",") + `]` + tot + `}}`
}

func TestListUsersUnion(t *testing.T) {
	a := `{"channel_user_id":"A","channel":"whatsapp","attributes":{"feedback":"1"}}`
	b := `{"channel_user_id":"B","channel":"whatsapp","attributes":{"feedback":"1"}}`
	cc := `{"channel_user_id":"C","channel":"web","attributes":{"feedback":"1"}}`
	bFlat := `{"userId":"B","channel":"whatsapp","user.channel":"whatsapp"}`
	d := `{"userId":"D","channel":"whatsapp","user.channel":"whatsapp"}`
	pages := map[string]map[int]string{
		"feedback=1":            {1: usersBody(-1, cc, a), 2: usersBody(-1, b), 3: usersBody(-1, a)},
		"user.channel=whatsapp": {1: `{"users":[` + d + `,` + bFlat + `],"total_elements":2}`},
	}
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		q := r.URL.Query()
		if q.Get("page_size") != "2" {
			writeJSON(w, 400, `{"status":{"code":1004,"desc":"INVALID_PAGE_NUMBER"}}`)
			return
		}
		var p int
		_, _ = fmt.Sscan(q.Get("page_number"), &p)
		body, ok := pages[q.Get("attribute_name")+"="+q.Get("attribute_value")][p]
		if !ok {
			writeJSON(w, 500, `unexpected request`)
			return
		}
		writeJSON(w, 200, body)
	})
	c, _ := newTestClient(t, rec.srv.URL, func(o *Options) { o.PageSize = 2 })
	fb := Selector{"feedback", "1"}
	wa := Selector{"user.channel", "whatsapp"}
	users, err := c.ListUsers(context.Background(), []Selector{fb, wa, fb})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id   string
		sels []Selector
		raw  string
	}{
		{"A", []Selector{fb}, a},
		{"B", []Selector{fb, wa}, b},
		{"C", []Selector{fb}, cc},
		{"D", []Selector{wa}, d},
	}
	if len(users) != len(want) {
		t.Fatalf("got %d users %+v, want %d", len(users), users, len(want))
	}
	for i, w := range want {
		u := users[i]
		if u.ID != w.id || !slices.Equal(u.Selectors, w.sels) || string(u.Raw) != w.raw {
			t.Errorf("user %d: id %q selectors %v raw %s; want %q %v %s", i, u.ID, u.Selectors, u.Raw, w.id, w.sels, w.raw)
		}
	}
	if got := users[3].Attributes["user.channel"]; got != "whatsapp" {
		t.Errorf("D's flat attribute user.channel = %q", got)
	}
	var asked []string
	for _, r := range rec.requests() {
		if len(r.auth) != 1 || r.auth[0] != "Basic "+testKey {
			t.Errorf("Authorization %q", r.auth)
		}
		if want := "/bot-api/v1.0/customer/42/bot/0123456789abcdef/users"; r.path != want {
			t.Errorf("path %s, want %s", r.path, want)
		}
		asked = append(asked, r.query.Get("attribute_name")+"="+r.query.Get("attribute_value")+"#"+r.query.Get("page_number"))
	}
	// feedback=1: a full page, a short page; whatsapp: total_elements reached; the repeated
	// selector is not asked again.
	if wantAsked := []string{"feedback=1#1", "feedback=1#2", "user.channel=whatsapp#1"}; !slices.Equal(asked, wantAsked) {
		t.Errorf("asked %v, want %v", asked, wantAsked)
	}
}

func TestListUsersPagingIgnored(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		writeJSON(w, 200, `{"users":[{"user_id":"1"},{"user_id":"2"}]}`)
	})
	c, _ := newTestClient(t, rec.srv.URL, func(o *Options) { o.PageSize = 2 })
	users, err := c.ListUsers(context.Background(), []Selector{{"feedback", "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || len(rec.requests()) != 2 {
		t.Errorf("%d users from %d requests; want 2 from 2", len(users), len(rec.requests()))
	}
}

// Selectors that cannot be right are refused before any request, even after good ones.
func TestListUsersArguments(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ int) { writeJSON(w, 200, usersBody(0)) })
	c, _ := newTestClient(t, rec.srv.URL, nil)
	good := Selector{"feedback", "1"}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		sels []Selector
		want string
	}{
		{"no selectors", context.Background(), nil, "selectors"},
		{"empty name", context.Background(), []Selector{good, {"", "x"}}, `selector "=x": empty attribute name`},
		{"empty value", context.Background(), []Selector{good, {"feedback", ""}}, `selector "feedback=": empty attribute value`},
		{"blank value", context.Background(), []Selector{good, {"feedback", "\t"}}, "blank attribute value"},
		{"nil context", nil, []Selector{good}, "context"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ListUsers(tc.ctx, tc.sels)
			if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want ErrInvalidInput saying %q", err, tc.want)
			}
		})
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("%d requests for invalid arguments", n)
	}
}

// call runs one endpoint against c: ListUsers for endpointUsers, Conversations otherwise.
func callEndpoint(c *Client, ctx context.Context, ep endpoint) error {
	if ep == endpointUsers {
		_, err := c.ListUsers(ctx, []Selector{{"feedback", "1"}})
		return err
	}
	_, err := collect(c, ctx, "919565428256", testWindow())
	return err
}

func TestErrorsNotRetried(t *testing.T) {
	sentinels := []error{ErrUnauthorized, ErrForbidden, ErrNotFound, ErrInvalidUser, ErrInvalidBot, ErrInvalidDate, ErrInvalidPage, ErrInvalidInput}
	for _, tc := range []struct {
		name     string
		ep       endpoint
		status   int
		body     string
		want     error // nil: none of the sentinels
		code     int
		inText   string
		windowed bool // the message names the window
	}{
		{"users 1002 is the bot", endpointUsers, 400, `{"status":{"code":1002,"desc":"INVALID_BOT_OR_CUSTOMER_ID","details":"bad bot"}}`, ErrInvalidBot, 1002, "bad bot", false},
		{"conversations 1002 is the user", endpointConversations, 400, `{"status":{"code":1002,"desc":"INVALID_BOT_OR_CUSTOMER_ID"}}`, ErrInvalidUser, 1002, "INVALID_BOT_OR_CUSTOMER_ID", true},
		{"1003", endpointConversations, 400, `{"status":{"code":1003,"desc":"INVALID_INPUT_DATE_VALUE","details":"end_date should be greater than start_date."}}`, ErrInvalidDate, 1003, "end_date should be greater", true},
		{"1004", endpointConversations, 400, `{"status":{"code":1004,"desc":"INVALID_PAGE_NUMBER"}}`, ErrInvalidPage, 1004, "INVALID_PAGE_NUMBER", true},
		{"1004 on users", endpointUsers, 400, `{"status":{"code":1004,"desc":"INVALID_PAGE_NUMBER"}}`, ErrInvalidPage, 1004, "feedback=1", false},
		{"401", endpointConversations, 401, `{"error":"Unauthorized"}`, ErrUnauthorized, 0, "API key rejected (wrong or revoked)", true},
		{"401 users", endpointUsers, 401, ``, ErrUnauthorized, 0, "API key rejected (wrong or revoked)", false},
		{"403", endpointUsers, 403, `Forbidden`, ErrForbidden, 0, "HTTP 403", false},
		{"404", endpointConversations, 404, `<html>Not Found</html>`, ErrNotFound, 0, "check --api-url, --customer and --bot (or the user id)", true},
		{"404 users", endpointUsers, 404, "404 page not found\n", ErrNotFound, 0, "HTTP 404: no such API path 404 page not found; check --api-url, --customer and --bot", false},
		{"400 not JSON", endpointConversations, 400, `Bad Request`, nil, 0, "Bad Request", true},
		{"1002 in a 200 body", endpointConversations, 200, `{"status":{"code":1002,"desc":"INVALID_BOT_OR_CUSTOMER_ID"},"responseObject":null}`, ErrInvalidUser, 1002, "HTTP 200", true},
		{"unknown code in a 200 body", endpointUsers, 200, `{"status":{"code":1999,"desc":"SOMETHING"},"users":[]}`, nil, 1999, "SOMETHING", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ int) { writeJSON(w, tc.status, tc.body) })
			c, _ := newTestClient(t, rec.srv.URL, nil)
			err := callEndpoint(c, context.Background(), tc.ep)
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err %v, want an *APIError", err)
			}
			if ae.HTTPStatus != tc.status || ae.Code != tc.code {
				t.Errorf("status %d code %d, want %d %d", ae.HTTPStatus, ae.Code, tc.status, tc.code)
			}
			for _, s := range sentinels {
				if got := errors.Is(err, s); got != (s == tc.want) {
					t.Errorf("errors.Is(err, %v) = %v", s, got)
				}
			}
			var re *RetryError
			if errors.As(err, &re) {
				t.Errorf("retried: %v", err)
			}
			if n := len(rec.requests()); n != 1 {
				t.Errorf("%d requests, want 1 (not retried)", n)
			}
			if !strings.Contains(err.Error(), tc.inText) {
				t.Errorf("error %q does not say %q", err, tc.inText)
			}
			if tc.windowed && !strings.Contains(err.Error(), testWindow().String()) {
				t.Errorf("error %q does not name the window", err)
			}
			if s := c.Stats(); s.Requests != 1 || s.Throttled != 0 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

// hangUp closes the connection without an answer; reset makes it a TCP reset.
func hangUp(t *testing.T, w http.ResponseWriter, reset bool) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok && reset {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func TestRetriedThenSuccess(t *testing.T) {
	good := convBody(1, -1, msgs(1, 1))
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		first   func(t *testing.T, w http.ResponseWriter, r *http.Request)
		cause   string
		minGap  time.Duration
	}{
		{"429 with Retry-After seconds", 0, func(_ *testing.T, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, 429, `{"error":"slow down"}`)
		}, Cause429, time.Second},
		{"429 with a past Retry-After date", 0, func(_ *testing.T, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "Mon, 02 Jan 2006 15:04:05 GMT")
			writeJSON(w, 429, ``)
		}, Cause429, 0},
		{"429 without Retry-After", 0, func(_ *testing.T, w http.ResponseWriter, _ *http.Request) { writeJSON(w, 429, ``) }, Cause429, 0},
		{"500", 0, func(_ *testing.T, w http.ResponseWriter, _ *http.Request) { writeJSON(w, 500, `{}`) }, Cause5xx, 0},
		{"502 with HTML", 0, func(_ *testing.T, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			_, _ = w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
		}, Cause5xx, 0},
		{"503", 0, func(_ *testing.T, w http.ResponseWriter, _ *http.Request) { writeJSON(w, 503, ``) }, Cause5xx, 0},
		{"504", 0, func(_ *testing.T, w http.ResponseWriter, _ *http.Request) { writeJSON(w, 504, `gateway timeout`) }, Cause5xx, 0},
		{"408", 0, func(_ *testing.T, w http.ResponseWriter, _ *http.Request) { writeJSON(w, 408, ``) }, CauseTimeout, 0},
		{"cut-off body, complete HTTP", 0, func(_ *testing.T, w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 200, good[:len(good)/2])
		}, CauseBody, 0},
		{"cut-off body, connection dropped", 0, func(_ *testing.T, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(len(good)))
			w.WriteHeader(200)
			_, _ = w.Write([]byte(good[:len(good)/2]))
		}, CauseBody, 0},
		{"HTML with 200", 0, func(_ *testing.T, w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 200, `<html>maintenance</html>`)
		}, CauseBody, 0},
		{"connection closed", 0, func(t *testing.T, w http.ResponseWriter, _ *http.Request) { hangUp(t, w, false) }, CauseConnection, 0},
		{"connection reset", 0, func(t *testing.T, w http.ResponseWriter, _ *http.Request) { hangUp(t, w, true) }, CauseConnection, 0},
		{"attempt timeout", 1500 * time.Millisecond, func(_ *testing.T, _ http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}, CauseTimeout, 0},
		{"timeout while reading the body", 1500 * time.Millisecond, func(_ *testing.T, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(len(good)))
			w.WriteHeader(200)
			_, _ = w.Write([]byte(good[:10]))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}, CauseTimeout, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					tc.first(t, w, r)
					return
				}
				writeJSON(w, 200, good)
			})
			c, _ := newTestClient(t, rec.srv.URL, func(o *Options) {
				if tc.timeout > 0 {
					o.AttemptTimeout = tc.timeout
				}
			})
			pages, err := collect(c, context.Background(), "919565428256", testWindow())
			if err != nil {
				t.Fatal(err)
			}
			if got := pageMessages(pages); !slices.Equal(got, msgs(1, 1)) {
				t.Errorf("messages %q, want the one message once", got)
			}
			reqs := rec.requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			if gap := reqs[1].at.Sub(reqs[0].at); gap < tc.minGap {
				t.Errorf("retried after %s, before Retry-After %s", gap, tc.minGap)
			}
			s := c.Stats()
			for cause, n := range s.Retries {
				want := int64(0)
				if cause == tc.cause {
					want = 1
				}
				if n != want {
					t.Errorf("retries[%s] = %d, want %d (%+v)", cause, n, want, s.Retries)
				}
			}
			wantThrottled := int64(0)
			if tc.cause == Cause429 {
				wantThrottled = 1
			}
			if s.Requests != 2 || s.Throttled != wantThrottled {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestRetriesExhausted(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ep      endpoint
		status  int
		cause   string
		opParts []string
	}{
		{"conversations 503", endpointConversations, 503, Cause5xx, []string{`conversations of user "919565428256"`, testWindow().String(), "page 1"}},
		{"users 429", endpointUsers, 429, Cause429, []string{`users for selector "feedback=1"`}},
		{"conversations bad body", endpointConversations, 200, CauseBody, []string{`conversations of user "919565428256"`, testWindow().String()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				writeJSON(w, tc.status, `<html>down</html>`)
			})
			c, _ := newTestClient(t, rec.srv.URL, func(o *Options) { o.MaxAttempts = 3 })
			err := callEndpoint(c, context.Background(), tc.ep)
			var re *RetryError
			if !errors.As(err, &re) {
				t.Fatalf("err %v, want a *RetryError", err)
			}
			if re.Attempts != 3 || re.Cause != tc.cause {
				t.Errorf("attempts %d cause %s, want 3 %s", re.Attempts, re.Cause, tc.cause)
			}
			msg := err.Error()
			for _, p := range append(tc.opParts, "3 attempts", "cause "+tc.cause) {
				if !strings.Contains(msg, p) {
					t.Errorf("error %q does not say %q", msg, p)
				}
			}
			if n := len(rec.requests()); n != 3 {
				t.Errorf("%d requests, want 3", n)
			}
			var ae *APIError
			if tc.cause == Cause5xx && (!errors.As(err, &ae) || ae.HTTPStatus != 503) {
				t.Errorf("last error %v, want the 503 as *APIError", re.Last)
			}
			if s := c.Stats(); s.Retries[tc.cause] != 2 {
				t.Errorf("retries %v, want 2 of %s", s.Retries, tc.cause)
			}
		})
	}
}

// A cancelled context ends a backoff or a Retry-After wait at once; an hour-long wait would
// otherwise hang the test until its deadline.
func TestCancelDuringWait(t *testing.T) {
	for _, tc := range []struct {
		name  string
		serve func(w http.ResponseWriter)
	}{
		{"backoff after 503", func(w http.ResponseWriter) { writeJSON(w, 503, ``) }},
		{"Retry-After of an hour", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "3600")
			writeJSON(w, 429, ``)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rec := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				tc.serve(w)
				cancel()
			})
			c, _ := newTestClient(t, rec.srv.URL, func(o *Options) { o.MinBackoff, o.MaxBackoff = time.Hour, time.Hour })
			err := callEndpoint(c, ctx, endpointConversations)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err %v, want context.Canceled", err)
			}
			if n := len(rec.requests()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

// The key never shows in an error or a log line, even when the server echoes it back.
func TestKeyNeverShown(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		serve   func(t *testing.T, w http.ResponseWriter, r *http.Request)
		echoed  bool // the echo reaches the error text, redacted
	}{
		{"401 echoing the header", 0, func(_ *testing.T, w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 401, `{"status":{"code":401,"desc":"bad key `+r.Header.Get("Authorization")+`"}}`)
		}, true},
		{"403 echoing the header as text", 0, func(_ *testing.T, w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 403, r.Header.Get("Authorization"))
		}, true},
		{"400 with the key in details", 0, func(_ *testing.T, w http.ResponseWriter, r *http.Request) {
			key := strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
			writeJSON(w, 400, `{"status":{"code":1003,"desc":"`+key+`","details":"`+strings.Repeat("x", 990)+key+`"}}`)
		}, true},
		{"404 HTML with the key cut at the snippet's end", 0, func(_ *testing.T, w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 404, strings.Repeat("y", 180)+r.Header.Get("Authorization"))
		}, true},
		{"1002 in a 200 body", 0, func(_ *testing.T, w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, `{"status":{"code":1002,"desc":"`+r.Header.Get("Authorization")+`"}}`)
		}, true},
		{"5xx exhausted", 0, func(_ *testing.T, w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 503, "<p>"+r.Header.Get("Authorization")+"</p>")
		}, true},
		{"429 exhausted with the key in Retry-After", 0, func(_ *testing.T, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", r.Header.Get("Authorization"))
			writeJSON(w, 429, ``)
		}, true},
		{"bad body exhausted", 0, func(_ *testing.T, w http.ResponseWriter, r *http.Request) {
			key := strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
			writeJSON(w, 200, `{"conversations":[{"a":1}],"`+key+`":[1,}`)
		}, true},
		{"connection reset exhausted", 0, func(t *testing.T, w http.ResponseWriter, _ *http.Request) { hangUp(t, w, true) }, false},
		{"timeout exhausted", 20 * time.Millisecond, func(_ *testing.T, _ http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}, false},
	} {
		for _, ep := range []endpoint{endpointUsers, endpointConversations} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, ep), func(t *testing.T) {
				rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) { tc.serve(t, w, r) })
				c, logs := newTestClient(t, rec.srv.URL, func(o *Options) {
					o.MaxAttempts = 2
					if tc.timeout > 0 {
						o.AttemptTimeout = tc.timeout
					}
				})
				err := callEndpoint(c, context.Background(), ep)
				if err == nil {
					t.Fatal("no error")
				}
				for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), logs.String()} {
					if strings.Contains(text, testKey) || strings.Contains(text, testKey[:20]) {
						t.Errorf("the key (or its start) appears in %q", text)
					}
				}
				if tc.echoed && !strings.Contains(err.Error()+logs.String(), "[REDACTED]") {
					t.Errorf("the echo did not reach the error or log, so the test proves nothing: %v", err)
				}
			})
		}
	}
}

func TestStatsAndString(t *testing.T) {
	c, _ := newTestClient(t, "http://127.0.0.1:1", func(o *Options) { o.Rate = 7 })
	s := c.Stats()
	if s.Requests != 0 || s.Throttled != 0 || s.Rate != 7 || len(s.Retries) != 5 {
		t.Errorf("fresh stats %+v", s)
	}
	if str := c.String(); strings.Contains(str, testKey) || !strings.Contains(str, testBot) {
		t.Errorf("String() = %q", str)
	}
}

// Every body variant, served over HTTP, gives the same messages and the same users.
func TestVariantsOverHTTP(t *testing.T) {
	for _, v := range conversationVariants() {
		t.Run("conversations/"+v.name, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ int) { writeJSON(w, 200, fill(v.body, canonMessages())) })
			c, _ := newTestClient(t, rec.srv.URL, func(o *Options) { o.PageSize = 500 })
			pages, err := collect(c, context.Background(), "919565428256", testWindow())
			if err != nil {
				t.Fatal(err)
			}
			if got := pageMessages(pages); !slices.Equal(got, canonMessages()) {
				t.Errorf("messages %q", got)
			}
			// A short page ends paging when its metadata says so; without metadata a fresh
			// Client cannot tell it from a cap and asks for page 2 (here the same page again).
			want, confirms := 1, int64(0)
			if v.pageSize < 0 && v.total < 0 {
				want, confirms = 2, 1
			}
			if n := len(rec.requests()); n != want {
				t.Errorf("%d requests, want %d", n, want)
			}
			if s := c.Stats(); s.Confirmations != confirms {
				t.Errorf("%d confirmations, want %d", s.Confirmations, confirms)
			}
		})
	}
	for _, v := range userVariants() {
		for _, e := range userElements() {
			t.Run("users/"+v.name+"/"+e.name, func(t *testing.T) {
				rec := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
					writeJSON(w, 200, fmt.Sprintf(v.body, strings.Join(e.users, ",")))
				})
				c, _ := newTestClient(t, rec.srv.URL, nil)
				users, err := c.ListUsers(context.Background(), []Selector{{"feedback", "1"}})
				if err != nil {
					t.Fatal(err)
				}
				want := wantUsers()
				if len(users) != len(want) {
					t.Fatalf("%d users, want %d", len(users), len(want))
				}
				for i, w := range want {
					u := users[i]
					if u.ID != w.ID || u.Channel != w.Channel || u.CreatedAt != w.CreatedAt || !maps.Equal(u.Attributes, w.Attributes) ||
						!slices.Equal(u.Selectors, []Selector{{"feedback", "1"}}) {
						t.Errorf("user %d: %+v, want %+v", i, u, w)
					}
				}
			})
		}
	}
}

// retryWaits are the waits the Client logged before each retry, in order.
func retryWaits(t *testing.T, logs string) []time.Duration {
	t.Helper()
	var waits []time.Duration
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec struct {
			Msg  string `json:"msg"`
			Wait int64  `json:"wait"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec.Msg == "extract: retrying" {
			waits = append(waits, time.Duration(rec.Wait))
		}
	}
	return waits
}

// One request answered 429 again and again backs off more and more, and always waits at least
// what Retry-After says.
func TestRepeated429Backoff(t *testing.T) {
	for _, tc := range []struct {
		name       string
		retryAfter string
		n429       int
		minB, maxB time.Duration
		check      func(t *testing.T, waits, gaps []time.Duration)
	}{
		{"without Retry-After the backoff grows", "", 14, 100 * time.Microsecond, time.Hour, func(t *testing.T, waits, _ []time.Duration) {
			// The first 429 holds only for the limiter's short hold; each later one backs off
			// with full jitter up to MinBackoff*2^(k-1): 100µs .. 820ms, about 0.8s in all. A
			// backoff that does not grow (or is skipped) stays near 14 x 100µs; the chance that a
			// growing one stays under 30ms is below 1e-4.
			var sum time.Duration
			for k, w := range waits[1:] {
				if w < 100*time.Microsecond || w > 100*time.Microsecond<<k {
					t.Errorf("wait before retry %d is %s, outside [100µs, %s]", k+2, w, 100*time.Microsecond<<k)
				}
				sum += w
			}
			if sum < 30*time.Millisecond {
				t.Errorf("waits %v sum to %s: the backoff does not grow", waits, sum)
			}
		}},
		{"Retry-After is honoured on every 429", "1", 2, time.Millisecond, 2 * time.Millisecond, func(t *testing.T, waits, gaps []time.Duration) {
			for k := range 2 {
				if waits[k] < time.Second || gaps[k] < time.Second {
					t.Errorf("retry %d waited %s (gap %s), before Retry-After 1s", k+1, waits[k], gaps[k])
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, n int) {
				if n <= tc.n429 {
					if tc.retryAfter != "" {
						w.Header().Set("Retry-After", tc.retryAfter)
					}
					writeJSON(w, 429, ``)
					return
				}
				writeJSON(w, 200, convBody(1, -1, msgs(1, 1)))
			})
			logs := &lockedBuffer{}
			c, err := New(Options{BaseURL: rec.srv.URL, CustomerID: testCustomer, BotKey: testBot, APIKey: testKey,
				Rate: 1e6, MaxAttempts: tc.n429 + 1, MinBackoff: tc.minB, MaxBackoff: tc.maxB,
				Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := collect(c, context.Background(), "919565428256", testWindow()); err != nil {
				t.Fatal(err)
			}
			reqs := rec.requests()
			waits := retryWaits(t, logs.String())
			if len(reqs) != tc.n429+1 || len(waits) != tc.n429 {
				t.Fatalf("%d requests, %d retries logged; want %d, %d", len(reqs), len(waits), tc.n429+1, tc.n429)
			}
			var gaps []time.Duration
			for i := 1; i < len(reqs); i++ {
				gaps = append(gaps, reqs[i].at.Sub(reqs[i-1].at))
			}
			tc.check(t, waits, gaps)
			if s := c.Stats(); s.Throttled != int64(tc.n429) || s.Retries[Cause429] != int64(tc.n429) {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

// A user matched by two selectors, listed twice by one of them (the list drifted between
// pages), and a selector given twice: the user is listed once, with each selector once, in the
// order of the selectors, with the first answer's fields; a repeated selector is not asked again.
func TestListUsersUnionOnce(t *testing.T) {
	a1 := `{"channel_user_id":"A","attributes":{"feedback":"1","n":"first"}}`
	a2 := `{"channel_user_id":"A","attributes":{"feedback":"1","n":"second"}}`
	b := `{"channel_user_id":"B","attributes":{"feedback":"1"}}`
	aWeb := `{"userId":"A","user.channel":"web","n":"third"}`
	pages := map[string]map[int]string{
		"feedback=1":       {1: usersBody(-1, a1, b), 2: usersBody(-1, a2)},
		"user.channel=web": {1: usersBody(1, aWeb)},
	}
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		q := r.URL.Query()
		var p int
		_, _ = fmt.Sscan(q.Get("page_number"), &p)
		body, ok := pages[q.Get("attribute_name")+"="+q.Get("attribute_value")][p]
		if !ok {
			body = usersBody(-1)
		}
		writeJSON(w, 200, body)
	})
	c, _ := newTestClient(t, rec.srv.URL, func(o *Options) { o.PageSize = 2 })
	fb, web := Selector{"feedback", "1"}, Selector{"user.channel", "web"}
	users, err := c.ListUsers(context.Background(), []Selector{web, fb, web, fb})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users[0].ID != "A" || users[1].ID != "B" {
		t.Fatalf("users %+v, want A and B once each", users)
	}
	if got := users[0].Selectors; !slices.Equal(got, []Selector{web, fb}) {
		t.Errorf("A's selectors %v, want [%v %v], each once", got, web, fb)
	}
	if got := users[1].Selectors; !slices.Equal(got, []Selector{fb}) {
		t.Errorf("B's selectors %v, want [%v]", got, fb)
	}
	if string(users[0].Raw) != aWeb || users[0].Attributes["n"] != "third" {
		t.Errorf("A is %s, want the first answer %s", users[0].Raw, aWeb)
	}
	var asked []string
	for _, r := range rec.requests() {
		asked = append(asked, r.query.Get("attribute_name")+"="+r.query.Get("attribute_value")+"#"+r.query.Get("page_number"))
	}
	if want := []string{"user.channel=web#1", "feedback=1#1", "feedback=1#2"}; !slices.Equal(asked, want) {
		t.Errorf("asked %v, want %v", asked, want)
	}
}
