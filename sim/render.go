package sim

import (
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendString appends s as a JSON string. Unlike encoding/json it does not escape <, > and &,
// as the platform does not.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

func appendKey(b []byte, key string) []byte {
	b = appendString(b, key)
	return append(b, ':')
}

// appendJSON appends m's message object: user_id, sender, message_type, response, timestamp,
// template and location when present, file and attachments (null when absent).
func (m *msg) appendJSON(b []byte) []byte {
	b = append(b, `{"user_id":`...)
	b = appendString(b, m.userID)
	b = append(b, `,"sender":`...)
	b = appendString(b, m.senderAs)
	b = append(b, `,"message_type":`...)
	b = appendString(b, m.typeAs)
	b = append(b, `,"response":`...)
	b = appendString(b, m.text)
	b = append(b, `,"timestamp":`...)
	b = m.timestamp(b)
	if t := m.template; t != nil {
		b = append(b, `,"template":{"name":`...)
		b = appendString(b, t.Name)
		b = append(b, `,"language":`...)
		b = appendString(b, t.Language)
		b = append(b, `,"broadcast_id":`...)
		b = appendString(b, t.BroadcastID)
		b = append(b, '}')
	}
	if l := m.location; l != nil {
		b = append(b, `,"location":{"lat":`...)
		b = strconv.AppendFloat(b, l.Lat, 'f', -1, 64)
		b = append(b, `,"lng":`...)
		b = strconv.AppendFloat(b, l.Lng, 'f', -1, 64)
		b = append(b, '}')
	}
	b = append(b, `,"file":`...)
	if f := m.file; f != nil {
		b = append(b, `{"url":`...)
		b = appendString(b, f.URL)
		b = append(b, `,"mimeType":`...)
		b = appendString(b, f.MimeType)
		b = append(b, `,"uploadType":`...)
		b = appendString(b, f.UploadType)
		b = append(b, '}')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"attachments":`...)
	if m.attachments == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, a := range m.attachments {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"url":`...)
			b = appendString(b, a.URL)
			b = append(b, `,"mimeType":`...)
			b = appendString(b, a.MimeType)
			b = append(b, `,"name":`...)
			b = appendString(b, a.Name)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendJSON appends u's user object in variant v: the id under channel_user_id (user_id,
// userId), channel, created_at, and the attributes nested or flat, keys sorted.
func (u *user) appendJSON(b []byte, v Variant) []byte {
	idKey := "channel_user_id"
	switch v {
	case VariantUserID:
		idKey = "user_id"
	case VariantUserIDCamel:
		idKey = "userId"
	}
	b = append(b, '{')
	b = appendKey(b, idKey)
	b = appendString(b, u.id)
	b = append(b, `,"channel":`...)
	b = appendString(b, u.channel)
	b = append(b, `,"created_at":"`...)
	b = u.createdAt.UTC().AppendFormat(b, layoutDash)
	b = append(b, '"')
	keys := make([]string, 0, len(u.attrs))
	for k := range u.attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	flat := v == VariantFlatUsers
	if !flat {
		b = append(b, `,"attributes":{`...)
	}
	for i, k := range keys {
		if i > 0 || flat {
			b = append(b, ',')
		}
		b = appendKey(b, k)
		b = appendString(b, u.attrs[k])
	}
	if !flat {
		b = append(b, '}')
	}
	return append(b, '}')
}

// page is one page of a list, as the variant frames it.
type page struct {
	listKey     string // "conversations", "messages" or "users"
	items       func(b []byte) []byte
	number      int
	size, total int
}

// appendBody frames p in variant v (never VariantMixed: the caller resolves it).
func appendBody(b []byte, v Variant, p page) []byte {
	status := `"status":{"code":1000,"desc":"SUCCESS"}`
	b = append(b, '{')
	inner := true
	switch v {
	case VariantTopLevel:
		b = append(b, status...)
		b = append(b, ',')
		inner = false
	case VariantTopLevelNoStatus:
		inner = false
	default:
		b = append(b, status...)
		b = append(b, `,"responseObject":{`...)
	}
	b = appendKey(b, p.listKey)
	b = append(b, '[')
	b = p.items(b)
	b = append(b, ']')
	if v != VariantNoPaging {
		b = append(b, `,"page_number":`...)
		b = strconv.AppendInt(b, int64(p.number), 10)
		b = append(b, `,"page_size":`...)
		b = strconv.AppendInt(b, int64(p.size), 10)
		b = append(b, `,"total_elements":`...)
		b = strconv.AppendInt(b, int64(p.total), 10)
	}
	if inner {
		b = append(b, '}')
	}
	return append(b, '}')
}

// API status codes of the contract.
const (
	codeSuccess      = 1000
	codeInvalidBot   = 1002
	codeInvalidDate  = 1003
	codeInvalidPage  = 1004
	descInvalidBot   = "INVALID_BOT_OR_CUSTOMER_ID"
	descInvalidDate  = "INVALID_INPUT_DATE_VALUE"
	descInvalidPage  = "INVALID_PAGE_NUMBER"
	detailsDate      = "The start_date and end_date values are the time in milliseconds and the end_date should be greater than start_date."
	detailsPage      = "The page_number should be a positive integer."
	detailsPageSize  = "The page_size should be a positive integer."
	detailsBot       = "The bot key or customer id is invalid."
	detailsUser      = "The channel user id is invalid."
	detailsSelectors = "attribute_name and attribute_value are required."
)

// errorBody is the contract's (assumed) error body.
func errorBody(code int, desc, details string) []byte {
	b := []byte(`{"status":{"code":`)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"desc":`...)
	b = appendString(b, desc)
	if details != "" {
		b = append(b, `,"details":`...)
		b = appendString(b, details)
	}
	return append(b, "}}"...)
}

// htmlBody is what a gateway in front of the API sends with a 5xx.
func htmlBody(status int, text string) []byte {
	s := strconv.Itoa(status) + " " + text
	return []byte("<html>\r\n<head><title>" + s + "</title></head>\r\n<body>\r\n<center><h1>" + s +
		"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
}

// msgTime converts epoch ms to a UTC time.
func msgTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
