package main

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/chatlake/chatlake/transform"
)

// pseudonymKeyEnv is the environment variable that holds the pseudonym key.
const pseudonymKeyEnv = "CHATLAKE_PSEUDONYM_KEY"

// pseudonymFlags are the flags of pseudonymisation and text redaction.
type pseudonymFlags struct {
	enabled       bool
	keyFile       string
	piiAttributes string
	piiDefault    string // what --pii-attributes is when not given
	redactText    bool
}

// options are --pseudonymize and --pseudonym-key-file, and with exporting also
// --pii-attributes and --redact-text.
func (f *pseudonymFlags) options(exporting bool) []option {
	opts := []option{
		boolOpt(&f.enabled, "pseudonymize", "replace user ids (channel_user_id, user_id) by HMAC-SHA256 pseudonyms under the key of $"+pseudonymKeyEnv+" or --pseudonym-key-file; a lake is pseudonymised from its first run on, or never"),
		stringOpt(&f.keyFile, "pseudonym-key-file", "PATH", "file holding the pseudonym key (at least 16 bytes; surrounding whitespace is trimmed); default: $"+pseudonymKeyEnv, nil),
	}
	if exporting {
		f.piiDefault = strings.Join(transform.DefaultPIIAttributes(), ",")
		f.piiAttributes = f.piiDefault
		pii := stringOpt(&f.piiAttributes, "pii-attributes", "NAMES",
			"with --pseudonymize: comma-separated names of user attributes whose values are hashed; a name matches an attribute of that name or with it as a word between '.', '_', '-' (case-insensitive: phone matches user.phone_no)", nil)
		pii.def = f.piiDefault
		opts = append(opts, pii,
			boolOpt(&f.redactText, "redact-text", "replace e-mail addresses, phone numbers and Luhn-valid card numbers in message text by <email>, <phone>, <card> (best-effort)"))
	}
	return opts
}

// pseudonymizer reads the key and makes the Pseudonymizer; nil without --pseudonymize. The key
// never appears in an error.
func (f *pseudonymFlags) pseudonymizer() (*transform.Pseudonymizer, error) {
	if !f.enabled {
		if f.keyFile != "" {
			return nil, usagef("--pseudonym-key-file needs --pseudonymize")
		}
		if f.piiAttributes != f.piiDefault {
			return nil, usagef("--pii-attributes needs --pseudonymize")
		}
		return nil, nil
	}
	var key string
	switch {
	case f.keyFile != "":
		data, err := os.ReadFile(f.keyFile)
		if err != nil {
			return nil, usagef("--pseudonym-key-file %s: %v", f.keyFile, errors.Unwrap(err))
		}
		key = strings.TrimSpace(string(data))
		if key == "" {
			return nil, usagef("--pseudonym-key-file %s is empty", f.keyFile)
		}
	default:
		key = strings.TrimSpace(os.Getenv(pseudonymKeyEnv))
		if key == "" {
			return nil, usagef("--pseudonymize: no key: set %s or give --pseudonym-key-file", pseudonymKeyEnv)
		}
	}
	attrs := []string{} // "": hash no attribute
	if f.piiAttributes != "" {
		for _, a := range strings.Split(f.piiAttributes, ",") {
			if a = strings.TrimSpace(a); a == "" {
				return nil, usagef("--pii-attributes %q: an empty name", f.piiAttributes)
			}
			attrs = append(attrs, a)
		}
	}
	ps, err := transform.NewPseudonymizer([]byte(key), attrs)
	if err != nil {
		return nil, usagef("--pseudonymize: %v", err)
	}
	return ps, nil
}

// scrubHandler rewrites the user ids in the log records of the API client: the client names a
// user in request paths (/channel-user/ID/) and in its operations (user "ID"); in a
// pseudonymised lake the log names the pseudonym instead.
type scrubHandler struct {
	next slog.Handler
	ps   *transform.Pseudonymizer
	path *regexp.Regexp
	op   *regexp.Regexp
}

func newScrubHandler(next slog.Handler, ps *transform.Pseudonymizer) *scrubHandler {
	return &scrubHandler{next: next, ps: ps,
		path: regexp.MustCompile(`/channel-user/([^/?#\s"]+)`),
		op:   regexp.MustCompile(`user ("(?:[^"\\]|\\.)*")`)}
}

func (h *scrubHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.text(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *scrubHandler) WithAttrs(as []slog.Attr) slog.Handler {
	scrubbed := make([]slog.Attr, len(as))
	for i, a := range as {
		scrubbed[i] = h.attr(a)
	}
	return &scrubHandler{next: h.next.WithAttrs(scrubbed), ps: h.ps, path: h.path, op: h.op}
}

func (h *scrubHandler) WithGroup(name string) slog.Handler {
	return &scrubHandler{next: h.next.WithGroup(name), ps: h.ps, path: h.path, op: h.op}
}

func (h *scrubHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.text(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, ga := range g {
			out[i] = h.attr(ga)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, h.text(err.Error()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// text replaces the ids it finds in s by their pseudonyms.
func (h *scrubHandler) text(s string) string {
	if !strings.Contains(s, "user") {
		return s
	}
	s = h.path.ReplaceAllStringFunc(s, func(m string) string {
		seg := strings.TrimPrefix(m, "/channel-user/")
		id, err := url.PathUnescape(seg)
		if err != nil {
			id = seg
		}
		return "/channel-user/" + h.ps.ID(id)
	})
	return h.op.ReplaceAllStringFunc(s, func(m string) string {
		q := strings.TrimPrefix(m, "user ")
		id, err := strconv.Unquote(q)
		if err != nil {
			id = q
		}
		return "user " + strconv.Quote(h.ps.ID(id))
	})
}
