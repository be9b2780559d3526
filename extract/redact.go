package extract

import (
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Redaction of the API key from text that leaves the package (errors, log lines): a server may
// echo the key back, whole or cut, raw or quoted, in a body, a header or an error text.
const (
	// redacted replaces each run of text that holds any part of the key.
	redacted = "[REDACTED]"
	// redactWindow is the length in bytes of the parts of the key looked for: no run of this
	// many bytes of the key (in any of its written forms) survives.
	redactWindow = 8
	// withheld replaces a whole text that still holds a part of the key after redaction (only a
	// key that itself holds the marker could get there).
	withheld = "[text withheld: it held the API key]"
)

// redactor removes every part of one API key from text, by tokens: a token is a run of token
// bytes (ASCII letters and digits, and every byte of a form of the key) widened to whole
// characters,
// and a token that holds a part of the key goes whole, so that what is left of the text is never
// a word cut by the marker. A key shorter than redactWindow is redacted only where a form of it
// is a whole token (key=KEY&, "KEY", KEY as a word): as a part of a longer word it is ordinary
// text ("db" in "feedback"). Its zero value redacts nothing.
type redactor struct {
	windows []string // every redactWindow-byte substring of every form of the key, sorted, unique
	whole   bool     // the key is shorter than redactWindow: a form counts only as a whole token
	token   [256]bool
}

// newRedactor prepares the forms of key a text may carry: as it is, as Go and JSON quote it
// (strconv.Quote, QuoteToASCII, encoding/json with and without HTML escaping, \u escapes in
// either case of hex, "/" as "\/"), URL-escaped (query and path) and HTML-escaped.
func newRedactor(key string) redactor {
	if key == "" {
		return redactor{}
	}
	forms := []string{key, strconv.Quote(key), strconv.QuoteToASCII(key), html.EscapeString(key),
		url.QueryEscape(key), url.PathEscape(key)}
	if b, err := json.Marshal(key); err == nil {
		forms = append(forms, string(b), strings.ReplaceAll(string(b), "/", `\/`))
	}
	ascii := jsonASCII(key)
	forms = append(forms, ascii, upperHexEscapes(ascii), strings.ReplaceAll(ascii, "/", `\/`))
	if b, err := json.Marshal(ascii); err == nil {
		forms = append(forms, string(b)) // escaped twice: JSON text inside a JSON string
	}
	r := redactor{whole: len(key) < redactWindow}
	for b := range 128 {
		c := byte(b)
		r.token[b] = ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
	}
	set := map[string]bool{}
	for _, f := range forms {
		if len(f) >= 2 && f[0] == '"' && f[len(f)-1] == '"' {
			f = f[1 : len(f)-1]
		}
		for i := 0; i < len(f); i++ {
			r.token[f[i]] = true
		}
		w := min(redactWindow, len(f))
		if r.whole {
			w = len(f) // a short key's forms count whole only
		}
		for i := 0; i+w <= len(f); i++ {
			set[f[i:i+w]] = true
		}
	}
	for w := range set {
		if w != "" {
			r.windows = append(r.windows, w)
		}
	}
	slices.Sort(r.windows)
	return r
}

// match calls fn for every place [i, j) of s that holds a part of the key (for a short key:
// a whole token that is a form of it), until fn returns false.
func (r redactor) match(s string, fn func(i, j int) bool) {
	for _, w := range r.windows {
		for from := 0; from+len(w) <= len(s); {
			k := strings.Index(s[from:], w)
			if k < 0 {
				break
			}
			i, j := from+k, from+k+len(w)
			from = i + 1
			if r.whole && ((i > 0 && r.token[s[i-1]]) || (j < len(s) && r.token[s[j]])) {
				continue // a part of a longer word
			}
			if !fn(i, j) {
				return
			}
		}
	}
}

// jsonASCII is the inside of s as a JSON string with every non-ASCII character as a \u escape
// (a UTF-16 surrogate pair above U+FFFF), as ASCII-only encoders write it.
func jsonASCII(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r > 0x7e:
			if r > 0xffff {
				r1, r2 := utf16Surrogates(r)
				fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
				continue
			}
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func utf16Surrogates(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}

// upperHexEscapes writes the hex digits of \u escapes in upper case.
func upperHexEscapes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+5 < len(s) && s[i+1] == 'u' {
			b.WriteString(`\u` + strings.ToUpper(s[i+2:i+6]))
			i += 5
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// redact replaces every run of s covered by parts of the key with one marker. A run is widened
// to whole UTF-8 characters, so that what is left stays valid text.
func (r redactor) redact(s string) string {
	if len(r.windows) == 0 || s == "" {
		return s
	}
	var covered []bool
	r.match(s, func(i, j int) bool {
		if covered == nil {
			covered = make([]bool, len(s))
		}
		for ; i < j; i++ {
			covered[i] = true
		}
		return true
	})
	if covered == nil {
		return s
	}
	// Widen every run to its whole tokens and characters.
	for i := 0; i < len(s); i++ {
		if !covered[i] || (i > 0 && covered[i-1]) {
			continue
		}
		for k := i; k > 0 && (r.token[s[k-1]] || !utf8.RuneStart(s[k])); k-- {
			covered[k-1] = true
		}
		e := i
		for e < len(s) && covered[e] {
			e++
		}
		for ; e < len(s) && (r.token[s[e]] || !utf8.RuneStart(s[e])); e++ {
			covered[e] = true
		}
		i = e - 1
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if !covered[i] {
			b.WriteByte(s[i])
			i++
			continue
		}
		for i < len(s) && covered[i] {
			i++
		}
		b.WriteString(redacted)
	}
	return b.String()
}

// leaks tells whether s still holds a part of the key.
func (r redactor) leaks(s string) bool {
	found := false
	r.match(s, func(int, int) bool { found = true; return false })
	return found
}

// clean is the only way text from elsewhere reaches an error or a log line: it redacts the key,
// cuts the result to n bytes (n <= 0: no cut) with Clip, and redacts again, since a cut can
// join a part of the key with the cut's marker. Text that still holds a part of the key is
// withheld whole.
func (r redactor) clean(s string, n int) string {
	s = r.redact(s)
	if n > 0 {
		s = Clip(s, n)
	}
	for range 3 {
		if !r.leaks(s) {
			return s
		}
		s = r.redact(s)
	}
	if r.leaks(s) {
		return withheld
	}
	return s
}

// snippet is the start of a body as one line of printable text, at most n bytes, for error
// messages: the key is redacted before anything is cut or changed.
func (r redactor) snippet(b string, n int) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, r.redact(b))
	return r.clean(strings.Join(strings.Fields(s), " "), n)
}

// Clip shortens s to at most n bytes, cut on a UTF-8 character boundary, with "…" marking a
// cut: the one form in which the packages of chatlake quote source text in an error.
func Clip(s string, n int) string {
	if n < 0 {
		n = 0
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// RedactKey returns s with every token that holds a part of key (an 8-byte window of it, in any
// of the forms a text may carry it; for a key shorter than that, a token that is a form of it)
// replaced by "[REDACTED]": for text that did not come through a Client, such as a command's
// error that echoes a flag's value. Text around the token is left as it was.
func RedactKey(key, s string) string { return newRedactor(key).clean(s, 0) }
