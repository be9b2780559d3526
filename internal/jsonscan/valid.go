package jsonscan

// maxDepth is encoding/json's nesting limit: json.Valid refuses text nested deeper.
const maxDepth = 10000

// StringFlags tell what a JSON string holds between its quotes.
type StringFlags uint8

const (
	Escaped  StringFlags = 1 << iota // at least one backslash escape
	NonASCII                         // at least one byte >= 0x80 (not necessarily valid UTF-8)
)

// Valid reports whether b is exactly one JSON value, with optional white space around it, as
// encoding/json.Valid does (invalid UTF-8 in strings is accepted, as there; nesting deeper than
// 10000 is not). It does not allocate.
func Valid(b []byte) bool {
	end, ok := Value(b, SkipSpace(b, 0))
	return ok && SkipSpace(b, end) == len(b)
}

// Value checks the JSON value that starts at b[i] as encoding/json.Valid does and returns the
// index after it. ok is false when no valid value starts there; end is then meaningless.
func Value(b []byte, i int) (end int, ok bool) { return value(b, i, 0) }

func value(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; c {
	case '"':
		end, _, ok := String(b, i)
		return end, ok
	case '{':
		return object(b, i, depth+1)
	case '[':
		return array(b, i, depth+1)
	case 't':
		return literal(b, i, "true")
	case 'f':
		return literal(b, i, "false")
	case 'n':
		return literal(b, i, "null")
	}
	return number(b, i)
}

func object(b []byte, i, depth int) (int, bool) {
	if depth > maxDepth {
		return i, false
	}
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, false
		}
		var ok bool
		if i, _, ok = String(b, i); !ok {
			return i, false
		}
		if i = SkipSpace(b, i); i >= len(b) || b[i] != ':' {
			return i, false
		}
		if i, ok = value(b, SkipSpace(b, i+1), depth); !ok {
			return i, false
		}
		if i = SkipSpace(b, i); i >= len(b) {
			return i, false
		}
		switch b[i] {
		case '}':
			return i + 1, true
		case ',':
			i = SkipSpace(b, i+1)
		default:
			return i, false
		}
	}
}

func array(b []byte, i, depth int) (int, bool) {
	if depth > maxDepth {
		return i, false
	}
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = value(b, i, depth); !ok {
			return i, false
		}
		if i = SkipSpace(b, i); i >= len(b) {
			return i, false
		}
		switch b[i] {
		case ']':
			return i + 1, true
		case ',':
			i = SkipSpace(b, i+1)
		default:
			return i, false
		}
	}
}

func literal(b []byte, i int, word string) (int, bool) {
	if len(b)-i < len(word) || string(b[i:i+len(word)]) != word {
		return i, false
	}
	return i + len(word), true
}

// number checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at b[i].
func number(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// String checks the JSON string that starts at b[i] (a quote) as encoding/json.Valid does and
// returns the index after its closing quote and what it holds. ok is false when the string is
// cut off, holds a control character or a malformed escape.
func String(b []byte, i int) (end int, flags StringFlags, ok bool) {
	for i++; i < len(b); i++ {
		c := b[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			if c >= 0x80 {
				flags |= NonASCII
			}
			continue
		}
		switch c {
		case '"':
			return i + 1, flags, true
		case '\\':
			flags |= Escaped
			i++
			if i >= len(b) {
				return i, flags, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-i < 5 || !hex(b[i+1]) || !hex(b[i+2]) || !hex(b[i+3]) || !hex(b[i+4]) {
					return i, flags, false
				}
				i += 4
			default:
				return i, flags, false
			}
		default: // a control character
			return i, flags, false
		}
	}
	return i, flags, false
}

func hex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
