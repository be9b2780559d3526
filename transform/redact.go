package transform

import (
	"regexp"
	"strings"
)

// Tokens that replace what a Redactor finds.
const (
	RedactedEmail = "<email>"
	RedactedPhone = "<phone>"
	RedactedCard  = "<card>"
)

// Redactor replaces, in free text, e-mail addresses by "<email>", card numbers by "<card>"
// and phone numbers by "<phone>". It is best-effort, by pattern, and errs on the side of
// keeping text:
//
//   - an e-mail address is LOCAL@DOMAIN.TLD (letters, digits and ._%+- before the @; a TLD
//     of at least two letters);
//   - a number is a run of digits, with at most two of space, '-', '(' or ')' between two digits,
//     possibly after a '+', not glued to a letter or a digit;
//   - a number of 13 to 19 digits that passes the Luhn check is a card;
//   - otherwise a number of 10 to 15 digits, or of 8 to 15 digits after a '+', is a phone
//     number (E.164 has at most 15); shorter runs (dates, order numbers, times) and longer
//     runs that fail the Luhn check are left as they are.
//
// Phone numbers written with dots, spelt out, or of fewer than 10 digits without '+' are
// missed, and so are two numbers with only a space between them (read as one run of too many
// digits); so is PII that no pattern describes (names, addresses). A run that starts like a date
// (YYYY-MM-DD) is not a phone number.
//
// A Redactor is safe for concurrent use.
type Redactor struct{ email, number, date *regexp.Regexp }

// NewRedactor compiles the patterns.
func NewRedactor() *Redactor {
	return &Redactor{
		email: regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`),
		// A boundary character (or the start, or the end) is part of the match on each side, so
		// that a run glued to a word is not taken; classify puts them back.
		number: regexp.MustCompile(`(?:^|[^A-Za-z0-9+])\+?\(?\d(?:[ ()-]{0,2}\d)*\)?(?:$|[^A-Za-z0-9])`),
		date:   regexp.MustCompile(`^\d{4}-\d{2}-\d{2}`),
	}
}

// Text is s with what the Redactor finds replaced by the tokens.
func (r *Redactor) Text(s string) string {
	if !strings.ContainsAny(s, "@0123456789") {
		return s
	}
	s = r.email.ReplaceAllString(s, RedactedEmail)
	return r.number.ReplaceAllStringFunc(s, r.classify)
}

// classify decides what a match of the number pattern is, keeping its boundary characters.
func (r *Redactor) classify(m string) string {
	lead, body, trail := splitBoundary(m)
	var digits []byte
	for i := 0; i < len(body); i++ {
		if c := body[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	n := len(digits)
	switch {
	case r.date.MatchString(body):
	case n >= 13 && n <= 19 && luhn(digits) && !strings.ContainsAny(body, "()+"):
		return lead + RedactedCard + trail
	case n >= 10 && n <= 15, n >= 8 && n <= 15 && body[0] == '+':
		return lead + RedactedPhone + trail
	}
	return m
}

// splitBoundary separates the boundary characters the number pattern takes on each side.
func splitBoundary(m string) (lead, body, trail string) {
	start, end := 0, len(m)
	if start < end && !isNumberChar(m[start]) {
		start++
	}
	if end > start && !isNumberChar(m[end-1]) {
		end--
	}
	return m[:start], m[start:end], m[end:]
}

func isNumberChar(c byte) bool { return (c >= '0' && c <= '9') || c == '+' || c == '(' || c == ')' }

// luhn reports whether digits pass the Luhn checksum.
func luhn(digits []byte) bool {
	sum := 0
	for i := range digits {
		d := int(digits[len(digits)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}
