package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/schema"
)

// testSource and testUser are the fixed context of every golden case.
func testSource() Source {
	return Source{
		CustomerID:  "1001",
		BotKey:      "0123456789abcdef",
		RunID:       "run-20240504",
		ExtractedAt: time.Date(2024, 5, 4, 6, 30, 0, 999_999, time.FixedZone("IST", 5*3600+30*60)), // 01:00:00.000 UTC
	}
}

func testUser() *extract.User {
	return &extract.User{ID: "919565428256", Channel: "whatsapp"}
}

// row is a schema.Message as the golden files show it: column names, times in RFC 3339 UTC with
// milliseconds, extra_json as the JSON object it holds.
type row struct {
	CustomerID       string          `json:"customer_id"`
	BotKey           string          `json:"bot_key"`
	ChannelUserID    string          `json:"channel_user_id"`
	Channel          *string         `json:"channel"`
	UserID           *string         `json:"user_id"`
	Sender           string          `json:"sender"`
	MessageType      string          `json:"message_type"`
	Text             *string         `json:"text"`
	SentAt           string          `json:"sent_at"`
	SourceTimestamp  string          `json:"source_timestamp"`
	FileURL          *string         `json:"file_url"`
	FileMimeType     *string         `json:"file_mime_type"`
	FileUploadType   *string         `json:"file_upload_type"`
	AgentID          *string         `json:"agent_id"`
	Options          []string        `json:"options"`
	TemplateName     *string         `json:"template_name"`
	TemplateLanguage *string         `json:"template_language"`
	BroadcastID      *string         `json:"broadcast_id"`
	ExtraJSON        json.RawMessage `json:"extra_json"`
	MessageKey       string          `json:"message_key"`
	RunID            string          `json:"run_id"`
	ExtractedAt      string          `json:"extracted_at"`
}

const rfc3339ms = "2006-01-02T15:04:05.000Z07:00"

func toRow(m schema.Message) row {
	r := row{
		CustomerID: m.CustomerID, BotKey: m.BotKey, ChannelUserID: m.ChannelUserID, Channel: m.Channel,
		UserID: m.UserID, Sender: m.Sender, MessageType: m.MessageType, Text: m.Text,
		SentAt: m.SentAt.Format(rfc3339ms), SourceTimestamp: m.SourceTimestamp,
		FileURL: m.FileURL, FileMimeType: m.FileMimeType, FileUploadType: m.FileUploadType,
		AgentID: m.AgentID, Options: m.Options, TemplateName: m.TemplateName,
		TemplateLanguage: m.TemplateLanguage, BroadcastID: m.BroadcastID,
		MessageKey: m.MessageKey, RunID: m.RunID, ExtractedAt: m.ExtractedAt.Format(rfc3339ms),
		ExtraJSON: json.RawMessage("null"),
	}
	if m.ExtraJSON != nil {
		r.ExtraJSON = json.RawMessage(*m.ExtraJSON)
	}
	return r
}

// checkInvariants holds for every successful Flatten.
func checkInvariants(t *testing.T, m schema.Message) {
	t.Helper()
	for name, tm := range map[string]time.Time{"SentAt": m.SentAt, "ExtractedAt": m.ExtractedAt} {
		if tm.Location() != time.UTC {
			t.Errorf("%s in %v, want UTC", name, tm.Location())
		}
		if tm.Nanosecond()%int(time.Millisecond) != 0 {
			t.Errorf("%s %v has sub-millisecond digits", name, tm)
		}
	}
	if m.ExtraJSON != nil {
		x := []byte(*m.ExtraJSON)
		if !json.Valid(x) || x[0] != '{' {
			t.Errorf("ExtraJSON is not a JSON object: %s", x)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, x); err == nil && c.String() != *m.ExtraJSON {
			t.Errorf("ExtraJSON is not compact: %s", x)
		}
		if *m.ExtraJSON == "{}" {
			t.Error("ExtraJSON is an empty object, want nil")
		}
	}
}

func TestFlattenGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "flatten", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 30 {
		t.Fatalf("found %d golden cases, want the full set", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			input, err := os.ReadFile(filepath.Join(dir, "input.json"))
			if err != nil {
				t.Fatal(err)
			}
			expected, err := os.ReadFile(filepath.Join(dir, "expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			var want row
			if err := json.Unmarshal(expected, &want); err != nil {
				t.Fatalf("expected.json: %v", err)
			}
			m, err := Flatten(testSource(), testUser(), input)
			if err != nil {
				t.Fatalf("Flatten: %v", err)
			}
			checkInvariants(t, m)
			got := toRow(m)

			// extra_json byte for byte: sorted keys, values as sent, compact.
			var wantExtra bytes.Buffer
			if err := json.Compact(&wantExtra, want.ExtraJSON); err != nil {
				t.Fatal(err)
			}
			if string(got.ExtraJSON) != wantExtra.String() {
				t.Errorf("extra_json\ngot  %s\nwant %s", got.ExtraJSON, wantExtra.String())
			}
			// Options: nil (NULL) and empty are different values.
			if (got.Options == nil) != (want.Options == nil) {
				t.Errorf("options nil = %v, want nil = %v", got.Options == nil, want.Options == nil)
			}
			gotJSON, _ := json.MarshalIndent(got, "", "  ")
			wantJSON, _ := json.MarshalIndent(want, "", "  ")
			if !bytes.Equal(gotJSON, wantJSON) {
				t.Errorf("row differs\ngot:\n%s\nwant:\n%s", gotJSON, wantJSON)
			}
		})
	}
}

func TestFlattenErrors(t *testing.T) {
	tests := []struct {
		name      string
		input     string
		wantErr   error
		wantField string
	}{
		{"array", `[1, 2]`, ErrNotObject, "message"},
		{"string", `"hello"`, ErrNotObject, "message"},
		{"null", `null`, ErrNotObject, "message"},
		{"empty", ``, ErrNotObject, "message"},
		{"truncated object", `{"timestamp": "2024-05-02 10:15:32.123+0000"`, ErrNotObject, "message"},
		{"trailing garbage", `{"timestamp": "2024-05-02 10:15:32.123+0000"} x`, ErrNotObject, "message"},
		{"no timestamp", `{"sender": "user", "response": "Hi"}`, ErrTimestamp, "timestamp"},
		{"null timestamp", `{"timestamp": null}`, ErrTimestamp, "timestamp"},
		{"timestamp without offset", `{"timestamp": "2024-05-02 10:15:32.123"}`, ErrTimestamp, "timestamp"},
		{"timestamp garbage", `{"timestamp": "yesterday"}`, ErrTimestamp, "timestamp"},
		{"timestamp object", `{"timestamp": {"ms": 1}}`, ErrTimestamp, "timestamp"},
		{"timestamp float", `{"timestamp": 1714644932123.5}`, ErrTimestamp, "timestamp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Flatten(testSource(), testUser(), json.RawMessage(tt.input))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err %T is not a *FieldError", err)
			}
			if fe.Field != tt.wantField {
				t.Errorf("Field = %q, want %q", fe.Field, tt.wantField)
			}
		})
	}
}

func TestFlattenErrorNamesValueBounded(t *testing.T) {
	long := `{"timestamp": "` + string(bytes.Repeat([]byte("é"), 500)) + `"}`
	_, err := Flatten(testSource(), testUser(), json.RawMessage(long))
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a *FieldError", err)
	}
	if len(fe.Value) > maxValueLen+3 || !bytes.HasPrefix([]byte(fe.Value), []byte(`"éé`)) {
		t.Errorf("Value = %q (%d bytes), want the value's start, at most %d bytes", fe.Value, len(fe.Value), maxValueLen+3)
	}
	if !json.Valid([]byte(`"`+fe.Value[1:])) && !bytes.HasSuffix([]byte(fe.Value), []byte("…")) {
		t.Errorf("a cut value must end in ...: %q", fe.Value)
	}
	if !bytes.Contains([]byte(err.Error()), []byte(`"éé`)) {
		t.Errorf("error %q does not name the value", err)
	}
}

func TestFlattenUserContext(t *testing.T) {
	msg := json.RawMessage(`{"timestamp": "2024-05-02 10:15:32.123+0000"}`)
	tests := []struct {
		name        string
		user        *extract.User
		wantID      string
		wantChannel *string
	}{
		{"nil user", nil, "", nil},
		{"no channel", &extract.User{ID: "u-1"}, "u-1", nil},
		{"channel", &extract.User{ID: "a b+c/d", Channel: "web"}, "a b+c/d", ptr("web")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Flatten(testSource(), tt.user, msg)
			if err != nil {
				t.Fatal(err)
			}
			if m.ChannelUserID != tt.wantID {
				t.Errorf("ChannelUserID = %q, want %q", m.ChannelUserID, tt.wantID)
			}
			if (m.Channel == nil) != (tt.wantChannel == nil) || (m.Channel != nil && *m.Channel != *tt.wantChannel) {
				t.Errorf("Channel = %v, want %v", m.Channel, tt.wantChannel)
			}
		})
	}
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"[a, b, c]", []string{"a", "b", "c"}},
		{"[]", []string{}},
		{"[ ]", []string{}},
		{`["x", "y"]`, []string{"x", "y"}},
		{`[" x ", "y, z"]`, []string{"x", "y, z"}},
		{"[1, 2]", []string{"1", "2"}},
		{"[a,,b]", []string{"a", "", "b"}},
		{"[only]", []string{"only"}},
		{"a, b", nil},
		{"[a, b", nil},
		{"", nil},
		{"[", nil},
		{"]", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := (&flattener{left: 1}).parseOptions(tt.in)
			if (got == nil) != (tt.want == nil) || len(got) != len(tt.want) {
				t.Fatalf("parseOptions(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("parseOptions(%q) = %#v, want %#v", tt.in, got, tt.want)
				}
			}
		})
	}
}

func TestAgentID(t *testing.T) {
	tests := []struct {
		in   string
		want *string
	}{
		{`{"agentId":128654}`, ptr("128654")},
		{`{"agentId":"A-17"}`, ptr("A-17")},
		{`{"agentId":-5}`, ptr("-5")},
		{`{"agentId":null}`, nil},
		{`{"agentId":true}`, nil},
		{`{"agentId":{"id":1}}`, nil},
		{`{"other":1}`, nil},
		{`null`, nil},
		{`[1]`, nil},
		{`Ravi joined`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			id, ok := (&flattener{}).agentID([]byte(tt.in), tt.in)
			var got *string
			if ok {
				got = &id
			}
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("agentID(%q) = %v, want %v", tt.in, deref(got), deref(tt.want))
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// realisticMix is a day's worth of message shapes in about the proportions a WhatsApp bot sees.
func realisticMix() []json.RawMessage {
	return []json.RawMessage{
		json.RawMessage(`{"user_id":"919565428256","sender":"user","message_type":"TEXT","response":"Hi, I need help with my order","timestamp":"2024-05-02 10:15:32.123+0000","file":null,"attachments":null}`),
		json.RawMessage(`{"user_id":"919565428256","sender":"bot","message_type":"TEXT","response":"Sure! Please share your order number.","timestamp":"2024-05-02 10:15:32.900+0000","file":null,"attachments":null}`),
		json.RawMessage(`{"user_id":"919565428256","sender":"bot","message_type":"OPTIONS","response":"[⭐, ⭐⭐, ⭐⭐⭐]","timestamp":"2024-05-02 10:15:33.001+0000","file":null,"attachments":null}`),
		json.RawMessage(`{"user_id":"919565428256","sender":"user","message_type":"FILE_RECEIVED","response":"User uploaded photo.jpeg - [image/jpeg]","timestamp":"2024-05-02 10:16:01.500+0000","file":{"url":"https://files.example/photo.jpeg?sig=abcdef0123456789","mimeType":"image/jpeg","uploadType":"IMAGE"},"attachments":null}`),
		json.RawMessage(`{"user_id":"919565428256","sender":"agent","message_type":"AGENT_PARTICIPATION_STATUS","response":"{\"agentId\":128654,\"PARTICIPATION_MESSAGE\":\"<strong>Ravi</strong> joined the conversation\"}","timestamp":"2024-05-02 10:17:00.000+0000","file":null,"attachments":null}`),
		json.RawMessage(`{"user_id":"919565428256","sender":"bot","message_type":"TEMPLATE","response":"Your order has shipped","timestamp":"2024-05-03 09:00:00.000+0530","template":{"name":"order_shipped","language":"en","broadcast_id":"nov-promo"},"file":null,"attachments":null}`),
		json.RawMessage(`{"user_id":"919565428256","sender":"User","message_type":"text","response":"Thanks a lot, that was quick","timestamp":"2024-05-02T10:18:00.250Z","file":null,"attachments":null}`),
		json.RawMessage(`{"user_id":"919565428256","sender":"user","message_type":"LOCATION","response":null,"timestamp":1714644932123,"location":{"lat":12.9716,"lng":77.5946},"file":null,"attachments":null}`),
	}
}

func BenchmarkFlatten(b *testing.B) {
	msgs := realisticMix()
	src, u := testSource(), testUser()
	var size int64
	for _, m := range msgs {
		size += int64(len(m))
	}
	b.SetBytes(size / int64(len(msgs)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := Flatten(src, u, msgs[i%len(msgs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// TestFlattenPage: a page's rows are the rows Flatten gives each message, and an error names
// the message.
func TestFlattenPage(t *testing.T) {
	src, u := testSource(), testUser()
	msgs := append(realisticMix(), realisticMix()...)
	var want []schema.Message
	for _, raw := range msgs {
		m, err := Flatten(src, u, raw)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, m)
	}
	got, err := FlattenPage([]schema.Message{{RunID: "before"}}, src, u, msgs)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got[1:], want) || got[0].RunID != "before" {
		t.Fatalf("FlattenPage differs from Flatten:\n got %+v\nwant %+v", got, want)
	}
	bad := []json.RawMessage{msgs[0], json.RawMessage(` {"sender":"x"} `), msgs[1]}
	got, err = FlattenPage(nil, src, u, bad)
	var fe *FieldError
	if !errors.As(err, &fe) || !errors.Is(err, ErrTimestamp) || !strings.HasPrefix(err.Error(), "message 2: ") || len(got) != 1 {
		t.Fatalf("FlattenPage of a page with a bad second message: %d rows, %v", len(got), err)
	}
}

// TestFlattenPageAllocations: a page of the realistic mix costs a few allocations, not a few
// per message.
func TestFlattenPageAllocations(t *testing.T) {
	src, u := testSource(), testUser()
	var msgs []json.RawMessage
	for range 8 {
		msgs = append(msgs, realisticMix()...)
	}
	dst := make([]schema.Message, 0, len(msgs))
	n := testing.AllocsPerRun(20, func() {
		if _, err := FlattenPage(dst[:0], src, u, msgs); err != nil {
			t.Fatal(err)
		}
	})
	if perMsg := n / float64(len(msgs)); perMsg > 0.5 {
		t.Errorf("%v allocations per page of %d messages (%.2f per message), want at most 0.5 per message", n, len(msgs), perMsg)
	}
}

func BenchmarkFlattenPage(b *testing.B) {
	var msgs []json.RawMessage
	for range 5 {
		msgs = append(msgs, realisticMix()...)
	}
	src, u := testSource(), testUser()
	var size int64
	for _, m := range msgs {
		size += int64(len(m))
	}
	b.SetBytes(size / int64(len(msgs)))
	b.ReportAllocs()
	dst := make([]schema.Message, 0, len(msgs))
	for b.Loop() {
		if _, err := FlattenPage(dst[:0], src, u, msgs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/msg")
}
