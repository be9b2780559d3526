package icetable

import (
	"net/url"
	"path/filepath"
	"strings"
)

// scrubbedError is an error whose text held a secret of the catalog URI: it keeps the scrubbed
// text only, and does not unwrap to the original.
type scrubbedError struct{ msg string }

func (e *scrubbedError) Error() string { return e.msg }

// scrub returns err unchanged unless its text contains a secret of uri (the password of its
// userinfo, or of its password query parameter); then an error with each secret replaced.
func scrub(err error, uri string) error {
	u, perr := url.Parse(uri)
	if perr != nil || err == nil {
		return err
	}
	var secrets []string // each as decoded and as written in uri
	if p, ok := u.User.Password(); ok {
		secrets = append(secrets, p)
		if _, rest, ok := strings.Cut(uri, "://"); ok {
			auth, _, _ := strings.Cut(rest, "/")
			if i := strings.LastIndex(auth, "@"); i >= 0 {
				_, raw, _ := strings.Cut(auth[:i], ":")
				secrets = append(secrets, raw)
			}
		}
	}
	for _, kv := range strings.Split(u.RawQuery, "&") {
		if k, raw, ok := strings.Cut(kv, "="); ok && strings.EqualFold(k, "password") {
			p, _ := url.QueryUnescape(raw)
			secrets = append(secrets, raw, p)
		}
	}
	return scrubSecrets(err, secrets)
}

// scrubSecrets returns err unchanged unless its text contains one of secrets; then an error
// with each secret replaced ("" secrets are ignored). The result does not unwrap to err.
func scrubSecrets(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	if msg == err.Error() {
		return err
	}
	return &scrubbedError{msg: msg}
}

// redact returns uri without its userinfo (user and password), for errors and logs. A string
// that does not parse as a URL is reduced to its scheme.
func redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		scheme, _, _ := strings.Cut(uri, ":")
		if strings.ContainsAny(scheme, "/@") {
			return "(unparsable catalog URI)"
		}
		return scheme + ":(unparsable)"
	}
	u.User = nil
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", "" // a query may hold a password too
	return u.String()
}

// Identity names the catalog uri opens, without its secrets: the URI less the password of its
// userinfo and a password query parameter, and for sqlite: the file's absolute, cleaned path. Two
// URIs of one catalog have the same Identity (a lake records it, so that a later command opens
// the same catalog); it may be shown.
func Identity(uri string) string {
	scheme, rest, _ := strings.Cut(uri, ":")
	if strings.EqualFold(scheme, "sqlite") {
		path := strings.TrimPrefix(rest, "//")
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		return "sqlite:" + path
	}
	u, err := url.Parse(uri)
	if err != nil {
		return redact(uri)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme == "postgresql" {
		u.Scheme = "postgres"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "password") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}
