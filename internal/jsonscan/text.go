package jsonscan

import (
	"bytes"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// AppendUnquoted appends the value of the valid JSON string s (with its quotes) to dst, as
// encoding/json decodes it: escapes resolved, each invalid UTF-8 byte and each unpaired
// surrogate replaced by U+FFFD.
func AppendUnquoted(dst, s []byte) []byte {
	s = s[1 : len(s)-1]
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			r++
			switch e := s[r]; e {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				rr := hex4(s[r+1 : r+5])
				r += 5
				if utf16.IsSurrogate(rr) {
					if len(s)-r >= 6 && s[r] == '\\' && s[r+1] == 'u' && isHex4(s[r+2:r+6]) {
						if dec := utf16.DecodeRune(rr, hex4(s[r+2:r+6])); dec != unicode.ReplacementChar {
							dst = utf8.AppendRune(dst, dec)
							r += 6
							continue
						}
					}
					rr = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, rr)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, e)
			}
			r++
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			if rr == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, s[r:r+size]...)
			}
			r += size
		}
	}
	return dst
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !hex(c) {
			return false
		}
	}
	return true
}

// hex4 is the value of four hex digits.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// AppendCompact appends the valid JSON value v without insignificant white space, as
// json.Compact does.
func AppendCompact(dst, v []byte) []byte {
	if bytes.IndexAny(v, " \t\n\r") < 0 {
		return append(dst, v...)
	}
	for i := 0; i < len(v); {
		switch c := v[i]; {
		case c == '"':
			j := SkipString(v, i)
			dst = append(dst, v[i:j]...)
			i = j
		case IsSpace(c):
			i++
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst
}
