package jsonscan

// IsSpace tells JSON white space.
func IsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// SkipSpace returns the index of the first byte at or after i that is not JSON white space.
func SkipSpace(b []byte, i int) int {
	for i < len(b) && IsSpace(b[i]) {
		i++
	}
	return i
}

// SkipString returns the index after the string that starts at b[i] (a quote).
func SkipString(b []byte, i int) int {
	for i++; i < len(b); {
		switch b[i] {
		case '\\':
			i += 2
		case '"':
			return i + 1
		default:
			i++
		}
	}
	return i
}

// SkipValue returns the index after the value that starts at b[i].
func SkipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return SkipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = SkipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(b) { // a number, true, false or null
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// EachMember calls fn with the key (its JSON text, quotes included) and the value's bounds of
// every member of the object at b[start] (valid JSON, b[start] == '{'), in the order sent,
// duplicates included, until fn returns false.
func EachMember(b []byte, start int, fn func(key []byte, vStart, vEnd int) bool) {
	i := SkipSpace(b, start+1)
	for i < len(b) && b[i] == '"' {
		kEnd := SkipString(b, i)
		key := b[i:kEnd]
		vStart := SkipSpace(b, SkipSpace(b, kEnd)+1) // past the colon
		vEnd := SkipValue(b, vStart)
		if !fn(key, vStart, vEnd) {
			return
		}
		i = SkipSpace(b, vEnd)
		if i >= len(b) || b[i] != ',' {
			return
		}
		i = SkipSpace(b, i+1)
	}
}

// EachElement calls fn with the bounds of every element of the array at b[start] (valid JSON,
// b[start] == '['), until fn returns false.
func EachElement(b []byte, start int, fn func(vStart, vEnd int) bool) {
	i := SkipSpace(b, start+1)
	for i < len(b) && b[i] != ']' {
		vEnd := SkipValue(b, i)
		if !fn(i, vEnd) {
			return
		}
		i = SkipSpace(b, vEnd)
		if i >= len(b) || b[i] != ',' {
			return
		}
		i = SkipSpace(b, i+1)
	}
}
