package extract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Keys that quoting changes: quotes, backslashes, HTML characters, '/', non-ASCII (2, 3 and 4
// bytes, printable or not), and the cut marker "…" itself. Every one passes Options' checks.
func hardKeys() []string {
	return []string{
		testKey,
		`3f2c9a7e-5b1d-"4c2a"-9e8f\0123\456789ab-SECRET`,
		`9e8f0123-<a&b>'x'/y/z-Zoë-€uro-🙂smile-中文键-KEY`,
		`a1b2c…d3e4f5g6h7…i8j9k0-"\…/-END`,
		// Within 8 bytes of each other: HTML characters, '/', printable and non-printable
		// (U+00AD, U+200B) non-ASCII, quotes and backslashes, so that each quoted form has
		// windows of its own.
		"k1<é/\u00ad\"ü&\\ö>\u200b/ä'Ω\u00ad<é/-é<é>é&é</é-END-7",
	}
}

// keyForms are the forms a server may write the key in: as it is, Go-quoted, JSON-escaped (with
// and without HTML escapes, "/" as "\/", ASCII-only in either case of hex, escaped twice),
// URL-escaped (query and path) and HTML-escaped. Written here independently of newRedactor,
// except for the upper-case hex, which only changes the case of escapes.
func keyForms(key string) map[string]string {
	q := strconv.Quote(key)
	a := strconv.QuoteToASCII(key)
	j, _ := json.Marshal(key)
	var ja strings.Builder // JSON, ASCII only, as Python's json.dumps writes it
	for _, r := range key {
		switch {
		case r == '"' || r == '\\':
			ja.WriteString(`\` + string(r))
		case r < 0x80:
			ja.WriteRune(r)
		default:
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&ja, `\u%04x`, u)
			}
		}
	}
	var plain bytes.Buffer // JSON as JavaScript's JSON.stringify writes it: no HTML escapes
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(key)
	p := strings.TrimSuffix(plain.String(), "\n")
	twice, _ := json.Marshal(ja.String())
	return map[string]string{
		"json-plain":         p[1 : len(p)-1],
		"json-slashes":       strings.ReplaceAll(string(j[1:len(j)-1]), "/", `\/`),
		"json-ascii-upper":   upperHexEscapes(ja.String()),
		"json-ascii-twice":   string(twice[1 : len(twice)-1]),
		"json-ascii-slashes": strings.ReplaceAll(ja.String(), "/", `\/`),
		"html":               html.EscapeString(key),
		"url-path":           url.PathEscape(key),
		"json-ascii":         ja.String(),
		"raw":                key,
		"go-quoted":          q[1 : len(q)-1],
		"ascii":              a[1 : len(a)-1],
		"json":               string(j[1 : len(j)-1]),
		"url":                url.QueryEscape(key),
	}
}

// assertNoKeyWindow fails if any 8-byte window of the key, or of a quoted form of it, is in
// one of texts.
func assertNoKeyWindow(t *testing.T, key string, texts ...string) {
	t.Helper()
	for name, f := range keyForms(key) {
		for i := 0; i+redactWindow <= len(f); i++ {
			w := f[i : i+redactWindow]
			for _, text := range texts {
				if strings.Contains(text, w) {
					t.Errorf("%q (bytes %d.. of the %s form of the key) survives in %q", w, i, name, text)
					return
				}
			}
		}
	}
}

// padding is n bytes of text before the key: a word ended by a space, which the redaction of
// the key's token leaves as it is.
func padding(n int) string {
	if n == 0 {
		return ""
	}
	return strings.Repeat("y", n-1) + " "
}

// offsets are the pads that put the key's start around a cut at n, for a form of length l.
func offsets(n, l int) []int {
	var out []int
	for _, d := range []int{-l - 2, -l - 1, -l, -l + 1, -l + 2, -l/2 - 1, -l / 2, -9, -8, -7, -5, -3, -2, -1, 0, 1, 2} {
		if n+d >= 0 {
			out = append(out, n+d)
		}
	}
	return out
}

// The redactor leaves no 8-byte window of the key in any form, wherever a cut falls, and
// leaves valid UTF-8.
func TestRedactorClean(t *testing.T) {
	for _, key := range hardKeys() {
		r := newRedactor(key)
		for name, f := range keyForms(key) {
			for _, n := range []int{40, 200, 500, 1000} {
				for _, pad := range offsets(n, len(f)) {
					for _, tail := range []string{"", "…", " tail", "é"} {
						in := padding(pad) + f + tail
						out := r.clean(in, n)
						assertNoKeyWindow(t, key, out)
						if !utf8.ValidString(out) {
							t.Errorf("%s form, cut %d, pad %d: invalid UTF-8 %q", name, n, pad, out)
						}
						if len(out) > n+len("…") {
							// Redacting after the cut would also leave no window, but could
							// replace an 8-byte prefix by the longer marker: the cut comes last.
							t.Errorf("%s form, cut %d, pad %d: %d bytes, over the cut: %q", name, n, pad, len(out), out)
						}
						if !strings.HasPrefix(out, padding(pad)[:min(pad, n)]) {
							t.Errorf("%s form, cut %d, pad %d: the text before the key is lost: %q", name, n, pad, out)
						}
					}
				}
			}
			// A server that echoes only a part of the key, cut anywhere, around a cut anywhere.
			for m := 1; m < len(f); m++ {
				for _, n := range []int{m, m + 1, m + 3, 7, 8, 9} {
					assertNoKeyWindow(t, key, r.clean(f[:m]+"ZZZZZZZZ", n), r.clean("yy"+f[len(f)-m:], n), r.clean(f[:m], 0))
				}
			}
		}
	}
}

// A part of the key may start or end inside a character of the text (the same continuation
// bytes under another lead byte): the whole character goes with its token, and the rest stays
// valid UTF-8.
func TestRedactorWholeCharacters(t *testing.T) {
	r := newRedactor("Zoé1234567-KEY-1234567é")
	for _, tc := range []struct{ in, want string }{
		{"yy ©1234567 zz", "yy [REDACTED] zz"}, // © is C2 A9, é is C3 A9: "\xa91234567" is a part of the key
		{"yy 1234567ã zz", "yy [REDACTED] zz"}, // ã is C3 A3: "1234567\xc3" is a part of the key
	} {
		got := r.clean(tc.in, 0)
		if got != tc.want || !utf8.ValidString(got) {
			t.Errorf("clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A text without the key comes out as it went in.
func TestRedactorKeepsOtherText(t *testing.T) {
	r := newRedactor(testKey)
	for _, s := range []string{"", "plain", "HTTP 503 <html>down</html>", "3f2c9a7", strings.Repeat("é", 300)} {
		if got := r.clean(s, 0); got != s {
			t.Errorf("clean(%q) = %q", s, got)
		}
	}
	if got := Clip("aé", 2); got != "a…" {
		t.Errorf("Clip cuts inside a character: %q", got)
	}
	if got := (redactor{}).clean("anything", 0); got != "anything" {
		t.Errorf("the zero redactor changed the text: %q", got)
	}
}

// keyEcho is a server that writes text holding the key into one place of an answer.
type keyEcho struct {
	name  string
	cut   int // the bound of the place the text lands in
	ep    endpoint
	serve func(w http.ResponseWriter, text string)
}

func keyEchoes() []keyEcho {
	status := func(w http.ResponseWriter, code int, field, text string) {
		b, _ := json.Marshal(map[string]any{"status": map[string]any{"code": code, "desc": "X", field: text}})
		writeJSON(w, 400, string(b))
	}
	return []keyEcho{
		{"400 desc", maxDesc, endpointConversations, func(w http.ResponseWriter, text string) { status(w, 1003, "desc", text) }},
		{"400 details", maxDetails, endpointUsers, func(w http.ResponseWriter, text string) { status(w, 1002, "details", text) }},
		{"200 status details", maxDetails, endpointConversations, func(w http.ResponseWriter, text string) {
			b, _ := json.Marshal(map[string]any{"status": map[string]any{"code": 1002, "details": text}})
			writeJSON(w, 200, string(b))
		}},
		{"404 text body", maxSnippet, endpointUsers, func(w http.ResponseWriter, text string) {
			w.WriteHeader(404)
			_, _ = w.Write([]byte(text))
		}},
		{"503 HTML body", maxSnippet, endpointConversations, func(w http.ResponseWriter, text string) {
			w.WriteHeader(503)
			_, _ = w.Write([]byte(text))
		}},
		{"429 Retry-After header", 40, endpointConversations, func(w http.ResponseWriter, text string) {
			w.Header()["Retry-After"] = []string{text}
			w.WriteHeader(429)
		}},
		{"200 body with the text as an unknown list key", maxErrorText, endpointConversations, func(w http.ResponseWriter, text string) {
			b, _ := json.Marshal(map[string]any{text: []int{1}})
			writeJSON(w, 200, string(b))
		}},
	}
}

// No 8-byte window of the key, in any form, reaches an error or a log line, whatever a server
// echoes where, for keys that quoting changes, with the key placed around every cut.
func TestKeyNeverShownQuotedOrCut(t *testing.T) {
	// The forms echoed here; the redactor's own test covers every form.
	echoedForms := []string{"raw", "go-quoted", "ascii", "json", "json-plain", "json-ascii", "url"}
	for _, key := range hardKeys() {
		for _, e := range keyEchoes() {
			for name, f := range keyForms(key) {
				if !slices.Contains(echoedForms, name) {
					continue
				}
				if e.name == "429 Retry-After header" && name == "raw" && strings.ContainsFunc(key, func(r rune) bool { return r > 0x7e }) {
					continue // not a header value a server can send
				}
				t.Run(fmt.Sprintf("%s/%s/%.12s", e.name, name, key), func(t *testing.T) {
					for _, pad := range offsets(e.cut, len(f)) {
						text := padding(pad) + f
						rec := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ int) { e.serve(w, text) })
						logs := &lockedBuffer{}
						c, err := New(Options{BaseURL: rec.srv.URL, CustomerID: testCustomer, BotKey: testBot, APIKey: key,
							Rate: 1e6, MaxAttempts: 2, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
							Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
						if err != nil {
							t.Fatal(err)
						}
						err = callEndpoint(c, context.Background(), e.ep)
						if err == nil {
							t.Fatal("no error")
						}
						if !strings.Contains(err.Error(), "yyy") && pad > 3 {
							t.Fatalf("the echo does not reach the error, so the test proves nothing: %v", err)
						}
						assertNoKeyWindow(t, key, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), logs.String())
					}
				})
			}
		}
	}
}

// A user id that holds the key (a server echoing it as an id) is redacted from every error
// that names the user, and from the request in it.
func TestKeyInUserIDNeverShown(t *testing.T) {
	for _, key := range hardKeys() {
		t.Run(fmt.Sprintf("%.12s", key), func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ int) { writeJSON(w, 503, "down") })
			logs := &lockedBuffer{}
			c, err := New(Options{BaseURL: rec.srv.URL, CustomerID: testCustomer, BotKey: testBot, APIKey: key,
				Rate: 1e6, MaxAttempts: 2, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			_, err = collect(c, context.Background(), "user-"+key, testWindow())
			var re *RetryError
			if !errors.As(err, &re) {
				t.Fatalf("err %v, want a *RetryError", err)
			}
			assertNoKeyWindow(t, key, err.Error(), fmt.Sprintf("%#v", err), logs.String())
			_, err = c.ListUsers(context.Background(), []Selector{{"k", key}, {"", "x"}})
			assertNoKeyWindow(t, key, err.Error())
		})
	}
}

// Options errors do not show a key given in the wrong field.
func TestOptionErrorsRedactKey(t *testing.T) {
	for _, key := range hardKeys() {
		o := validOptions()
		o.APIKey, o.BotKey = key, key
		_, err := New(o)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Field != "BotKey" {
			t.Fatalf("err %v, want an *OptionError for BotKey", err)
		}
		assertNoKeyWindow(t, key, err.Error())
	}
}

// TestRedactorTokens: the key goes with its whole token, and nothing else changes: a short
// key is redacted where it is a whole value (a query value, a header, a word), in any form
// (URL-escaped too), and never inside another word ("db" in "feedback"); a long key's token
// goes whole, a part of it included, and text that holds the key's letters but no part of it
// comes out as it went in.
func TestRedactorTokens(t *testing.T) {
	for _, tc := range []struct{ key, in, want string }{
		{"db", "feedback=1&key=db&x=2", "feedback=1&key=[REDACTED]&x=2"},
		{"db", "Authorization: Basic db", "Authorization: Basic [REDACTED]"},
		{"db", `{"key":"db","feedback":"dbx adb db-b"}`, `{"key":"[REDACTED]","feedback":"dbx adb [REDACTED]-b"}`},
		{"db", "feedback, dbms, oddball", "feedback, dbms, oddball"},
		{"a+b/c", "key=a%2Bb%2Fc&feedback=1", "key=[REDACTED]&feedback=1"},
		{"a+b/c", "use a+b/c here", "use [REDACTED] here"},
		{"a+b/c", "data+b/cde", "data+b/cde"},
		{testKey, "Basic " + testKey + "\r\nfeedback=1", "Basic [REDACTED]\r\nfeedback=1"},
		{testKey, "key=x" + testKey + "x&page=1", "key=[REDACTED]&page=1"},
		{testKey, "a cut key " + testKey[:12] + "… in a message", "a cut key [REDACTED]… in a message"},
		{testKey, "?k=" + url.QueryEscape(testKey) + "&feedback=1", "?k=[REDACTED]&feedback=1"},
		{testKey, "SECRET keys 3f2c 9a7e 0123 456789 abc feedback", "SECRET keys 3f2c 9a7e 0123 456789 abc feedback"},
	} {
		got := newRedactor(tc.key).clean(tc.in, 0)
		if got != tc.want {
			t.Errorf("key %.8q: clean(%q) = %q, want %q", tc.key, tc.in, got, tc.want)
		}
		if len(tc.key) >= redactWindow {
			assertNoKeyWindow(t, tc.key, got)
		}
	}
}
