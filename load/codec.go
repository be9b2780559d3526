package load

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/chatlake/chatlake/schema"
)

// The spill encoding of one schema.Message, used by Stage and by the per-shard spill of Publish.
// A spill file is a plain concatenation of records, with no header, each record being:
//
//	uvarint record length, then the fields in the order of schema.Message:
//	string      uvarint length + bytes
//	*string     one byte 0 (NULL) or 1 (present), then a string when present
//	time.Time   varint Unix seconds, uvarint nanoseconds (the location is dropped: rows are UTC)
//	[]string    uvarint count+1 (0 is NULL, 1 is an empty list), then the strings
//
// It is lossless for every value schema.Message can hold, including the difference between a
// NULL and an empty string or list (gob is not: it drops zero values). The length prefix lets a
// reader detect a truncated file.
const maxSpillRecord = 64 << 20 // a record above this is refused as corrupt

// appendMessage appends the encoding of m (without its length prefix) to b.
func appendMessage(b []byte, m *schema.Message) []byte {
	b = appendString(b, m.CustomerID)
	b = appendString(b, m.BotKey)
	b = appendString(b, m.ChannelUserID)
	b = appendNullString(b, m.Channel)
	b = appendNullString(b, m.UserID)
	b = appendString(b, m.Sender)
	b = appendString(b, m.MessageType)
	b = appendNullString(b, m.Text)
	b = appendTime(b, m.SentAt)
	b = appendString(b, m.SourceTimestamp)
	b = appendNullString(b, m.FileURL)
	b = appendNullString(b, m.FileMimeType)
	b = appendNullString(b, m.FileUploadType)
	b = appendNullString(b, m.AgentID)
	if m.Options == nil {
		b = binary.AppendUvarint(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(m.Options))+1)
		for _, o := range m.Options {
			b = appendString(b, o)
		}
	}
	b = appendNullString(b, m.TemplateName)
	b = appendNullString(b, m.TemplateLanguage)
	b = appendNullString(b, m.BroadcastID)
	b = appendNullString(b, m.ExtraJSON)
	b = appendString(b, m.MessageKey)
	b = appendString(b, m.RunID)
	b = appendTime(b, m.ExtractedAt)
	return b
}

// appendRecord appends m with its length prefix to b; scratch is reused between calls.
func appendRecord(b, scratch []byte, m *schema.Message) ([]byte, []byte) {
	scratch = appendMessage(scratch[:0], m)
	b = binary.AppendUvarint(b, uint64(len(scratch)))
	return append(b, scratch...), scratch
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendNullString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, 0)
	}
	return appendString(append(b, 1), *s)
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// errCorruptSpill: a spill record could not be decoded.
var errCorruptSpill = errors.New("corrupt spill record")

// spillReader decodes the records of one spill file.
type spillReader struct {
	r   *bufio.Reader
	buf []byte
}

func newSpillReader(r io.Reader) *spillReader {
	return &spillReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// next decodes the next record into m; io.EOF at a clean end of the file.
func (s *spillReader) next(m *schema.Message) error {
	n, err := binary.ReadUvarint(s.r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return fmt.Errorf("%w: length: %w", errCorruptSpill, err)
	}
	if n > maxSpillRecord {
		return fmt.Errorf("%w: record of %d bytes", errCorruptSpill, n)
	}
	if uint64(cap(s.buf)) < n {
		s.buf = make([]byte, n)
	}
	s.buf = s.buf[:n]
	if _, err := io.ReadFull(s.r, s.buf); err != nil {
		return fmt.Errorf("%w: %w", errCorruptSpill, err)
	}
	d := decoder{b: s.buf}
	d.message(m)
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errCorruptSpill, len(d.b))
	}
	return nil
}

// decoder reads fields from one record; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) message(m *schema.Message) {
	*m = schema.Message{}
	m.CustomerID = d.string()
	m.BotKey = d.string()
	m.ChannelUserID = d.string()
	m.Channel = d.nullString()
	m.UserID = d.nullString()
	m.Sender = d.string()
	m.MessageType = d.string()
	m.Text = d.nullString()
	m.SentAt = d.time()
	m.SourceTimestamp = d.string()
	m.FileURL = d.nullString()
	m.FileMimeType = d.nullString()
	m.FileUploadType = d.nullString()
	m.AgentID = d.nullString()
	if n := d.uvarint(); n > 0 && d.err == nil {
		if n-1 > uint64(len(d.b)) { // every item takes at least one byte
			d.fail("options count")
		} else {
			m.Options = make([]string, n-1)
			for i := range m.Options {
				m.Options[i] = d.string()
			}
		}
	}
	m.TemplateName = d.nullString()
	m.TemplateLanguage = d.nullString()
	m.BroadcastID = d.nullString()
	m.ExtraJSON = d.nullString()
	m.MessageKey = d.string()
	m.RunID = d.string()
	m.ExtractedAt = d.time()
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errCorruptSpill, what)
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("string length")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) nullString() *string {
	if len(d.b) == 0 {
		d.fail("null flag")
		return nil
	}
	flag := d.b[0]
	d.b = d.b[1:]
	switch flag {
	case 0:
		return nil
	case 1:
		s := d.string()
		return &s
	default:
		d.fail("null flag")
		return nil
	}
}

func (d *decoder) time() time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= 1e9 {
		d.fail("nanoseconds")
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}
