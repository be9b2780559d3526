package extract

// A scanner for JSON text that json.Valid accepted: where values end, and an object's members
// in the order sent. It does not validate and does not allocate.

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i] (a quote).
func skipString(b []byte, i int) int {
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

// skipValue returns the index after the value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
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

// eachMember calls fn with the key (its JSON text, quotes included) and the value's bounds of
// every member of the object at b[start] (valid JSON, b[start] == '{'), in the order sent,
// duplicates included, until fn returns false.
func eachMember(b []byte, start int, fn func(key []byte, vStart, vEnd int) bool) {
	i := skipSpace(b, start+1)
	for i < len(b) && b[i] == '"' {
		kEnd := skipString(b, i)
		key := b[i:kEnd]
		vStart := skipSpace(b, skipSpace(b, kEnd)+1) // past the colon
		vEnd := skipValue(b, vStart)
		if !fn(key, vStart, vEnd) {
			return
		}
		i = skipSpace(b, vEnd)
		if i >= len(b) || b[i] != ',' {
			return
		}
		i = skipSpace(b, i+1)
	}
}

// eachElement calls fn with the bounds of every element of the array at b[start] (valid JSON,
// b[start] == '['), until fn returns false.
func eachElement(b []byte, start int, fn func(vStart, vEnd int) bool) {
	i := skipSpace(b, start+1)
	for i < len(b) && b[i] != ']' {
		vEnd := skipValue(b, i)
		if !fn(i, vEnd) {
			return
		}
		i = skipSpace(b, vEnd)
		if i >= len(b) || b[i] != ',' {
			return
		}
		i = skipSpace(b, i+1)
	}
}
