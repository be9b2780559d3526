package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/chatlake/chatlake/extract"
)

// rfc4231Key is the key of RFC 4231 test case 1 (20 bytes of 0x0b); HMAC-SHA256 of "Hi There"
// under it is given by the RFC.
var rfc4231Key = bytes.Repeat([]byte{0x0b}, 20)

func TestPseudonymIsHMACSHA256(t *testing.T) {
	p, err := NewPseudonymizer(rfc4231Key, nil)
	if err != nil {
		t.Fatal(err)
	}
	const want = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" // RFC 4231, 4.2
	if got := p.ID("Hi There"); got != want {
		t.Fatalf("ID = %s, want %s", got, want)
	}
	fp := p.Fingerprint()
	if len(fp) != 16 || strings.Contains(want, fp) || fp == p.ID("")[:16] {
		t.Fatalf("fingerprint %q", fp)
	}
	if bytes.Equal(p.SealingKey(), rfc4231Key) || len(p.SealingKey()) != 32 {
		t.Fatal("the sealing key is not derived")
	}
	other, _ := NewPseudonymizer(append(bytes.Repeat([]byte{0x0b}, 19), 0x0c), nil)
	if other.Fingerprint() == fp || other.ID("Hi There") == want {
		t.Fatal("another key gives the same values")
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "p", p, "v", *p)
	shown := fmt.Sprintf("%v %+v %#v %s %v %+v", p, p, p, *p, *p, struct{ P *Pseudonymizer }{p}) + logged.String()
	if strings.Contains(shown, "\x0b") || strings.Contains(shown, "[11 11") || strings.Contains(shown, "0b0b") || !strings.Contains(shown, fp) {
		t.Fatalf("printing shows the key: %s", shown)
	}
}

func TestNewPseudonymizerRefusesShortKey(t *testing.T) {
	_, err := NewPseudonymizer([]byte("short-secret"), nil)
	if err == nil || strings.Contains(err.Error(), "short-secret") {
		t.Fatalf("err = %v", err)
	}
}

func TestIsPII(t *testing.T) {
	p, _ := NewPseudonymizer(rfc4231Key, nil)
	for name, want := range map[string]bool{
		"user.phone_no": true, "Phone": true, "user.user_name": true, "EMAIL": true, "user.email-id": true,
		"name": true, "feedback": false, "username": false, "filename": false, "user.channel": false, "telephone": false,
	} {
		if got := p.IsPII(name); got != want {
			t.Errorf("IsPII(%q) = %v, want %v", name, got, want)
		}
	}
	q, _ := NewPseudonymizer(rfc4231Key, []string{"City"})
	if !q.IsPII("user.city") || q.IsPII("user.phone_no") {
		t.Error("a configured list is not what is matched")
	}
}

func TestPseudonymizeUser(t *testing.T) {
	p, _ := NewPseudonymizer(rfc4231Key, nil)
	raw := `{"channel_user_id":"919565428256","user_id":"919565428256-old","channel":"whatsapp","attributes":{"user.user_name":"Asha","user.phone_no":"+919565428256","feedback":"1","age":41}}`
	u := extract.User{ID: "919565428256", Channel: "whatsapp", Raw: json.RawMessage(raw),
		Attributes: map[string]string{"user.user_name": "Asha", "user.phone_no": "+919565428256", "feedback": "1", "age": "41"}}
	row, err := FlattenUser(Source{}, u)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.User(&row); err != nil {
		t.Fatal(err)
	}
	if row.ChannelUserID != p.ID("919565428256") {
		t.Errorf("channel_user_id %s", row.ChannelUserID)
	}
	want := `{"age":"41","feedback":"1","user.phone_no":"` + p.ID("+919565428256") + `","user.user_name":"` + p.ID("Asha") + `"}`
	if row.AttributesJSON != want {
		t.Errorf("attributes_json\n got %s\nwant %s", row.AttributesJSON, want)
	}
	if row.ExtraJSON == nil || *row.ExtraJSON != `{"user_id":"`+p.ID("919565428256-old")+`"}` {
		t.Errorf("extra_json %v", row.ExtraJSON)
	}
	all := row.AttributesJSON + *row.ExtraJSON + row.ChannelUserID
	for _, secret := range []string{"9565428256", "Asha"} {
		if strings.Contains(all, secret) {
			t.Errorf("%q left in %s", secret, all)
		}
	}
}

func TestRewriteMessage(t *testing.T) {
	p, _ := NewPseudonymizer(rfc4231Key, nil)
	r := NewRedactor()
	cases := []struct {
		name string
		p    *Pseudonymizer
		r    *Redactor
		in   string
		want string
	}{
		{"ids and text", p, r,
			`{"user_id": "919565428256", "sender":"user", "response":"I am a@b.io", "timestamp":"2024-05-02 10:15:32.123+0000"}`,
			`{"user_id": "` + p.ID("919565428256") + `", "sender":"user", "response":"I am <email>", "timestamp":"2024-05-02 10:15:32.123+0000"}`},
		{"ids only", p, nil, `{"userId":"x y","response":"a@b.io"}`, `{"userId":"` + p.ID("x y") + `","response":"a@b.io"}`},
		{"text only", nil, r, `{"user_id":"1","response":"+919565428256"}`, `{"user_id":"1","response":"<phone>"}`},
		{"escaped id", p, nil, `{"user_id":"a\u002fb"}`, `{"user_id":"` + p.ID("a/b") + `"}`},
		{"non-string id kept", p, nil, `{"user_id":12,"response":null}`, `{"user_id":12,"response":null}`},
		{"not an object", p, r, `[1]`, `[1]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := string(RewriteMessage(json.RawMessage(tc.in), tc.p, tc.r))
			if got != tc.want {
				t.Fatalf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// BenchmarkRewriteMessage: what pseudonymisation and redaction add per message before Flatten.
func BenchmarkRewriteMessage(b *testing.B) {
	msgs := realisticMix()
	p, _ := NewPseudonymizer(rfc4231Key, nil)
	r := NewRedactor()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = RewriteMessage(msgs[i%len(msgs)], p, r)
		i++
	}
}

func ExampleRewriteMessage() {
	p, _ := NewPseudonymizer([]byte("example-key-0123456789"), nil)
	raw := json.RawMessage(`{"user_id":"919565428256","sender":"user","response":"mail me: asha@example.com","timestamp":"2024-05-02 10:15:32.123+0000"}`)
	m, _ := Flatten(Source{}, nil, RewriteMessage(raw, p, NewRedactor()))
	fmt.Println(*m.UserID == p.ID("919565428256"), *m.Text)
	// Output: true mail me: <email>
}
