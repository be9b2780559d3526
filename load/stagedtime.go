package load

import (
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Source timestamps in format 1 (stagedcols.go): most are sent_at written in one of the
// forms the API sends (transform.ParseTimestamp), at a UTC offset, so format 1 keeps a
// timestamp's form and offset (source_timestamp_form: offset minutes << 3 | form) and
// rebuilds the string from sent_at; a timestamp that is not so written back (another form,
// finer digits, an offset of seconds) is kept as it came, with form 0.
const (
	tsVerbatim = iota // the string is in source_timestamp
	tsDash            // 2006-01-02 15:04:05.000-0700
	tsSlash           // 2006/01/02 15:04:05.000-0700
	tsRFC             // 2006-01-02T15:04:05.000Z07:00
	tsEpoch           // epoch milliseconds, decimal
)

// tsLayout is the time package's layout of a form, for what appendTimestamp does not write.
func tsLayout(form int) string {
	switch form {
	case tsSlash:
		return "2006/01/02 15:04:05.000-0700"
	case tsRFC:
		return "2006-01-02T15:04:05.000Z07:00"
	}
	return "2006-01-02 15:04:05.000-0700"
}

// tsMaxOffset is the largest UTC offset, in minutes, a form code holds (under a day).
const tsMaxOffset = 24*60 - 1

// tsCode returns the form code of v, a source timestamp of the instant ms (sent_at), and
// whether appendTimestamp writes v back from it.
func tsCode(v string, ms int64, buf []byte) (int16, bool) {
	form, off := tsVerbatim, 0
	switch {
	case len(v) == len("2006-01-02 15:04:05.000-0700") && (v[4] == '-' || v[4] == '/') && v[10] == ' ':
		form = tsDash
		if v[4] == '/' {
			form = tsSlash
		}
		off = parseOffset(v[23], v[24:26], v[26:28])
	case len(v) == len("2006-01-02T15:04:05.000Z") && v[10] == 'T' && v[23] == 'Z':
		form = tsRFC
	case len(v) == len("2006-01-02T15:04:05.000+07:00") && v[10] == 'T' && v[26] == ':':
		form, off = tsRFC, parseOffset(v[23], v[24:26], v[27:29])
	case len(v) > 0 && len(v) <= 20 && (v[0] == '-' || '0' <= v[0] && v[0] <= '9'):
		form = tsEpoch
	default:
		return 0, false
	}
	if off < -tsMaxOffset || off > tsMaxOffset {
		return 0, false
	}
	code := int16(off<<3 | form)
	if string(appendTimestamp(buf[:0], ms, code)) != v {
		return 0, false
	}
	return code, true
}

// parseOffset is the offset in minutes of sign, hours and minutes (two digits each), or a value
// out of range if they are not an offset.
func parseOffset(sign byte, hh, mm string) int {
	digit := func(c byte) bool { return '0' <= c && c <= '9' }
	if (sign != '+' && sign != '-') || !digit(hh[0]) || !digit(hh[1]) || !digit(mm[0]) || !digit(mm[1]) {
		return tsMaxOffset + 1
	}
	off := int(hh[0]-'0')*600 + int(hh[1]-'0')*60 + int(mm[0]-'0')*10 + int(mm[1]-'0')
	if sign == '-' {
		off = -off
	}
	return off
}

// appendTimestamp appends the instant ms in the form and at the offset of code: what the time
// package writes (time.UnixMilli(ms).In(time.FixedZone("", offset*60)).Format), without its
// cost for years 0 to 9999.
func appendTimestamp(dst []byte, ms int64, code int16) []byte {
	form, off := int(code&7), int64(code>>3)
	if form == tsEpoch {
		return strconv.AppendInt(dst, ms, 10)
	}
	local := ms + off*60000
	msPart := local % 1000
	if msPart < 0 {
		msPart += 1000
	}
	sec := (local - msPart) / 1000
	days, rem := sec/86400, sec%86400
	if rem < 0 {
		rem += 86400
		days--
	}
	y, m, d := civilFromDays(days)
	if y < 0 || y > 9999 {
		return time.UnixMilli(ms).In(time.FixedZone("", int(off)*60)).AppendFormat(dst, tsLayout(form))
	}
	sep, tsep := byte('-'), byte(' ')
	switch form {
	case tsSlash:
		sep = '/'
	case tsRFC:
		tsep = 'T'
	}
	dst = appendDigits(dst, y, 4)
	dst = append(dst, sep)
	dst = appendDigits(dst, m, 2)
	dst = append(dst, sep)
	dst = appendDigits(dst, d, 2)
	dst = append(dst, tsep)
	dst = appendDigits(dst, rem/3600, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, rem/60%60, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, rem%60, 2)
	dst = append(dst, '.')
	dst = appendDigits(dst, msPart, 3)
	if form == tsRFC && off == 0 {
		return append(dst, 'Z')
	}
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	dst = append(dst, sign)
	dst = appendDigits(dst, off/60, 2)
	if form == tsRFC {
		dst = append(dst, ':')
	}
	return appendDigits(dst, off%60, 2)
}

// encodeSourceTimestamps returns the source_timestamp and source_timestamp_form columns of
// format 1: NULL and a form code where a value is sent's written in a form, else the value and
// tsVerbatim.
func encodeSourceTimestamps(a *array.String, sent []arrow.Timestamp) (strs, forms arrow.Array) {
	n := a.Len()
	valid := make([]byte, bitutil.BytesForBits(int64(n)))
	offs := make([]int32, n+1)
	codes := make([]int16, n)
	var data []byte
	nulls := 0
	var buf [32]byte
	for i := range n {
		v := a.Value(i)
		if code, ok := tsCode(v, int64(sent[i]), buf[:]); ok {
			codes[i] = code
			nulls++
		} else {
			bitutil.SetBit(valid, i)
			data = append(data, v...)
		}
		offs[i+1] = int32(len(data))
	}
	fd := array.NewData(arrow.PrimitiveTypes.Int16, n, []*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int16Traits.CastToBytes(codes))}, nil, 0, 0)
	defer fd.Release()
	return stringArray(n, nulls, valid, offs, data), array.MakeFromData(fd)
}

// decodeSourceTimestamps rebuilds the source_timestamp column from its format 1 columns.
func decodeSourceTimestamps(a *array.String, forms *array.Int16, sent []arrow.Timestamp) arrow.Array {
	n := a.Len()
	codes := forms.Int16Values()
	offs := make([]int32, n+1)
	data := make([]byte, 0, a.NullN()*len("2006-01-02T15:04:05.000+07:00")+len(a.ValueBytes()))
	for i := range n {
		if a.IsNull(i) {
			data = appendTimestamp(data, int64(sent[i]), codes[i])
		} else {
			data = append(data, a.Value(i)...)
		}
		offs[i+1] = int32(len(data))
	}
	return stringArray(n, 0, nil, offs, data)
}

// appendDigits appends v, 0 <= v < 10^width, in width decimal digits (width 2, 3 or 4).
func appendDigits(dst []byte, v int64, width int) []byte {
	const pairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
		"8081828384858687888990919293949596979899"
	switch width {
	case 4:
		hi, lo := v/100, v%100
		return append(dst, pairs[2*hi], pairs[2*hi+1], pairs[2*lo], pairs[2*lo+1])
	case 3:
		return append(dst, byte('0'+v/100), pairs[2*(v%100)], pairs[2*(v%100)+1])
	}
	return append(dst, pairs[2*v], pairs[2*v+1])
}

// civilFromDays is the proleptic Gregorian date of the day days after 1970-01-01 (Howard
// Hinnant's civil_from_days).
func civilFromDays(days int64) (y, m, d int64) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}
