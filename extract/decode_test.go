package extract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// canonMessages are the five messages of the contract's canonical body, exactly as sent.
func canonMessages() []string {
	return []string{
		`{"user_id": "919565428256", "sender": "user", "message_type": "TEXT", "response": "Hi", "timestamp": "2024-05-02 10:15:32.123+0000", "file": null, "attachments": null}`,
		`{"user_id": "919565428256", "sender": "bot", "message_type": "OPTIONS", "response": "[⭐, ⭐⭐, ⭐⭐⭐]", "timestamp": "2024-05-02 10:15:33.001+0000", "file": null, "attachments": null}`,
		`{"user_id": "919565428256", "sender": "user", "message_type": "FILE_RECEIVED", "response": "User uploaded photo.jpeg - [image/jpeg]", "timestamp": "2024-05-02 10:16:01.500+0000", "file": {"url": "https://files.example/photo.jpeg", "mimeType": "image/jpeg", "uploadType": "IMAGE"}, "attachments": null}`,
		`{"user_id": "919565428256", "sender": "agent", "message_type": "AGENT_PARTICIPATION_STATUS", "response": "{\"agentId\":128654,\"PARTICIPATION_MESSAGE\":\"<strong>Ravi</strong> joined the conversation\"}", "timestamp": "2024-05-02 10:17:00.000+0000", "file": null, "attachments": null}`,
		`{"user_id": "919565428256", "sender": "bot", "message_type": "TEMPLATE", "response": "Your order has shipped", "timestamp": "2024-05-03 09:00:00.000+0000", "template": {"name": "order_shipped", "language": "en", "broadcast_id": "nov-promo"}, "file": null, "attachments": null}`,
	}
}

// conversationVariant is one body shape of the contract; %s stands for the list's elements.
type conversationVariant struct {
	name     string
	body     string
	pageSize int
	total    int
}

func conversationVariants() []conversationVariant {
	return []conversationVariant{
		{"canonical", `{"status": {"code": 1000, "desc": "SUCCESS"}, "responseObject": {"conversations": [%s], "page_number": 1, "page_size": 500, "total_elements": 5}}`, 500, 5},
		{"messages under responseObject", `{"status":{"code":1000,"desc":"SUCCESS"},"responseObject":{"messages":[%s],"page_number":1,"page_size":500,"total_elements":5}}`, 500, 5},
		{"top-level conversations with status", `{"status":{"code":1000,"desc":"SUCCESS"},"conversations":[%s],"page_size":500,"total_elements":5}`, 500, 5},
		{"top-level conversations without status", `{"conversations":[%s]}`, -1, -1},
		{"top-level messages without status", `{"messages":[%s]}`, -1, -1},
		{"responseObject without status or paging", `{"responseObject":{"conversations":[%s]}}`, -1, -1},
		{"status last, code as string, paging as strings", `{"responseObject":{"total_elements":"5","page_size":"500","conversations":[%s]},"status":{"code":"1000","desc":"SUCCESS","details":null}}`, 500, 5},
		{"pretty printed", "{\n  \"status\" : { \"code\" : 1000 },\n  \"responseObject\" : {\n    \"conversations\" : [\n      %s\n    ],\n    \"total_elements\" : 5\n  }\n}\n", -1, 5},
		{"unknown fields to skip", `{"meta":{"a":[1,{"b":[]}],"conversations":"not this"},"x":null,"status":{"code":1000,"extra":[1]},"responseObject":{"page_number":1,"cursor":{"next":null},"conversations":[%s],"flags":[true,false]},"trailer":"t"}`, -1, -1},
		{"paging as floats, unusable total", `{"responseObject":{"conversations":[%s],"page_size":500.0,"total_elements":"many"}}`, 500, -1},
	}
}

func fill(body string, msgs []string) string {
	sep := ", "
	if strings.Contains(body, "\n") {
		sep = ",\n      "
	}
	return fmt.Sprintf(body, strings.Join(msgs, sep))
}

func rawStrings(items []json.RawMessage) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = string(it)
	}
	return out
}

func TestDecodeConversationsVariants(t *testing.T) {
	for _, v := range conversationVariants() {
		t.Run(v.name, func(t *testing.T) {
			p, err := decodeConversations(strings.NewReader(fill(v.body, canonMessages())))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got := rawStrings(p.items); !slices.Equal(got, canonMessages()) {
				t.Errorf("messages differ from those sent:\n got %q\nwant %q", got, canonMessages())
			}
			if p.pageSize != v.pageSize || p.total != v.total {
				t.Errorf("page_size, total_elements = %d, %d; want %d, %d", p.pageSize, p.total, v.pageSize, v.total)
			}
		})
	}
}

// TestDecodeConversationsExported: the exported decoder gives every variant's messages and
// total as Conversations sees them, page number 0, and refuses what Conversations refuses.
func TestDecodeConversationsExported(t *testing.T) {
	for _, v := range conversationVariants() {
		t.Run(v.name, func(t *testing.T) {
			p, err := DecodeConversations(strings.NewReader(fill(v.body, canonMessages())))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got := rawStrings(p.Messages); !slices.Equal(got, canonMessages()) || p.Total != v.total || p.Number != 0 {
				t.Errorf("got %q, total %d, number %d; want %q, total %d, number 0", got, p.Total, p.Number, canonMessages(), v.total)
			}
		})
	}
	for _, body := range []string{
		`{"status":{"code":1003,"desc":"INVALID_INPUT_DATE_VALUE"}}`,
		`{"conversations":[{"a":1},`,
		`<html>502</html>`,
	} {
		if p, err := DecodeConversations(strings.NewReader(body)); err == nil {
			t.Errorf("%s: decoded %+v, want an error", body, p)
		}
	}
}

func TestDecodeConversationsKeepsMessageBytes(t *testing.T) {
	// White space, key order, escapes and unknown fields inside a message are kept as sent.
	msg := "{ \"z\":1,\n\t\"sender\":\"BOT\", \"response\":\"a\\u00e9\\\"b\", \"nested\":{\"k\":[1, 2.50, null]} }"
	p, err := decodeConversations(strings.NewReader(`{"conversations":[` + msg + `  ,  {}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := rawStrings(p.items); !slices.Equal(got, []string{msg, "{}"}) {
		t.Errorf("got %q", got)
	}
}

func TestDecodeConversationsEmpty(t *testing.T) {
	for _, body := range []string{
		`{"status":{"code":1000,"desc":"SUCCESS"},"responseObject":{"conversations":[],"total_elements":0}}`,
		`{"conversations":[]}`,
		`{"messages":null}`,
		`{"status":{"code":1000,"desc":"SUCCESS"},"responseObject":null}`,
		`{"status":{"code":1000,"desc":"SUCCESS"},"responseObject":{}}`,
		`{"status":{"code":1000,"desc":"SUCCESS"}}`,
		`{"status":{"code":1000,"desc":"SUCCESS"},"responseObject":{"warnings":[],"n":1e999}}`,
	} {
		t.Run(body, func(t *testing.T) {
			p, err := decodeConversations(strings.NewReader(body))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if len(p.items) != 0 {
				t.Errorf("got %d messages, want none", len(p.items))
			}
		})
	}
}

func TestDecodeConversationsBadBodies(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"empty", ``},
		{"html", `<html><body><h1>502 Bad Gateway</h1></body></html>`},
		{"plain text", `upstream connect error`},
		{"json list", `[1,2]`},
		{"json string", `"ok"`},
		{"no list and no status", `{}`},
		{"unknown list key", `{"data":[{"a":1}]}`},
		{"unknown list key beside a success status", `{"status":{"code":1000},"responseObject":{"items":[{"a":1}]}}`},
		{"unknown top-level list beside a success status", `{"status":{"code":1000},"data":[[]]}`},
		{"list is not a list", `{"conversations":{"a":1}}`},
		{"element not an object", `{"conversations":[{"a":1},"b"]}`},
		{"null element", `{"conversations":[null]}`},
		{"two lists", `{"conversations":[{"a":1}],"messages":[{"b":2}]}`},
		{"list at top and under responseObject", `{"responseObject":{"conversations":[]},"conversations":[]}`},
		{"responseObject not an object", `{"responseObject":[{"a":1}]}`},
		{"status not an object", `{"status":5,"conversations":[]}`},
		{"status code not a number", `{"status":{"code":"ok"},"conversations":[]}`},
		{"trailing data", `{"conversations":[]} {"conversations":[]}`},
		{"trailing garbage", `{"conversations":[]}x`},
		{"missing colon", `{"conversations" []}`},
		{"unterminated string", `{"conversations":[{"a":"b}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeConversations(strings.NewReader(tc.body))
			var be *bodyError
			if !errors.As(err, &be) {
				t.Fatalf("got %v, want a body error", err)
			}
		})
	}
}

// Every cut of the canonical body short of its end is a body error, never a page.
func TestDecodeConversationsCutOff(t *testing.T) {
	body := fill(conversationVariants()[0].body, canonMessages())
	for n := 0; n < len(body); n++ {
		_, err := decodeConversations(strings.NewReader(body[:n]))
		var be *bodyError
		if !errors.As(err, &be) {
			t.Fatalf("cut at %d of %d: got %v, want a body error", n, len(body), err)
		}
	}
}

func TestDecodeStatusErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body    string
		code          int
		desc, details string
	}{
		{"1003 status only", `{"status":{"code":1003,"desc":"INVALID_INPUT_DATE_VALUE","details":"end_date should be greater than start_date."}}`,
			1003, "INVALID_INPUT_DATE_VALUE", "end_date should be greater than start_date."},
		{"1002 with a list", `{"status":{"code":1002,"desc":"INVALID_BOT_OR_CUSTOMER_ID"},"responseObject":{"conversations":[{"a":1}]}}`,
			1002, "INVALID_BOT_OR_CUSTOMER_ID", ""},
		{"code as string", `{"status":{"code":"1004","desc":"INVALID_PAGE_NUMBER"}}`, 1004, "INVALID_PAGE_NUMBER", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeConversations(strings.NewReader(tc.body))
			var se *statusError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a status error", err)
			}
			if se.code != tc.code || se.desc != tc.desc || se.details != tc.details {
				t.Errorf("got %d %q %q", se.code, se.desc, se.details)
			}
		})
	}
}

// userVariant is one users body; %s stands for the list's elements.
func userVariants() []struct{ name, body string } {
	return []struct{ name, body string }{
		{"canonical", `{"status":{"code":1000,"desc":"SUCCESS"},"responseObject":{"users":[%s],"page_number":1,"page_size":500,"total_elements":2}}`},
		{"top-level users", `{"users":[%s]}`},
		{"top-level users with status", `{"status":{"code":1000},"users":[%s],"total_elements":2}`},
	}
}

// userElements are the same two users written in each way the contract allows.
func userElements() []struct {
	name  string
	users []string
} {
	return []struct {
		name  string
		users []string
	}{
		{"nested attributes, channel_user_id", []string{
			`{"channel_user_id":"919565428256","channel":"whatsapp","created_at":"2024-05-01 08:00:00.000+0000","attributes":{"user.user_name":"Asha","feedback":"1","score":4.5,"vip":true,"tags":["a","b"],"none":null}}`,
			`{"channel_user_id":"a+b:c/d e","channel":"web","attributes":{"feedback":"1"}}`,
		}},
		{"flat attributes, user_id", []string{
			`{"user_id":"919565428256","channel":"whatsapp","created_at":"2024-05-01 08:00:00.000+0000","user.user_name":"Asha","feedback":"1","score":4.5,"vip":true,"tags":["a","b"],"none":null}`,
			`{"user_id":"a+b:c/d e","channel":"web","feedback":"1"}`,
		}},
		{"flat attributes, userId", []string{
			`{"userId":"919565428256","user.user_name":"Asha","channel":"whatsapp","feedback":"1","created_at":"2024-05-01 08:00:00.000+0000","score":4.5,"vip":true,"tags":["a","b"],"none":null}`,
			`{"feedback":"1","userId":"a+b:c/d e","channel":"web"}`,
		}},
		{"both nested and flat", []string{
			`{"channel_user_id":"919565428256","channel":"whatsapp","created_at":"2024-05-01 08:00:00.000+0000","user.user_name":"Asha","score":4.5,"attributes":{"feedback":"1","vip":true,"tags":["a","b"],"none":null}}`,
			`{"channel_user_id":"a+b:c/d e","channel":"web","attributes":{"feedback":"1"}}`,
		}},
	}
}

func wantUsers() []User {
	return []User{
		{ID: "919565428256", Channel: "whatsapp", CreatedAt: "2024-05-01 08:00:00.000+0000", Attributes: map[string]string{
			"user.user_name": "Asha", "feedback": "1", "score": "4.5", "vip": "true", "tags": `["a","b"]`, "none": "null"}},
		{ID: "a+b:c/d e", Channel: "web", Attributes: map[string]string{"feedback": "1"}},
	}
}

func TestDecodeUsersVariants(t *testing.T) {
	for _, v := range userVariants() {
		for _, e := range userElements() {
			t.Run(v.name+"/"+e.name, func(t *testing.T) {
				_, got, err := decodeUsers(strings.NewReader(fmt.Sprintf(v.body, strings.Join(e.users, ","))))
				if err != nil {
					t.Fatal(err)
				}
				want := wantUsers()
				if len(got) != len(want) {
					t.Fatalf("got %d users, want %d", len(got), len(want))
				}
				for i := range want {
					g, w := got[i], want[i]
					if g.ID != w.ID || g.Channel != w.Channel || g.CreatedAt != w.CreatedAt || !maps.Equal(g.Attributes, w.Attributes) {
						t.Errorf("user %d:\n got %+v\nwant %+v", i, g, w)
					}
					if string(g.Raw) != e.users[i] {
						t.Errorf("user %d raw %s, want %s", i, g.Raw, e.users[i])
					}
				}
			})
		}
	}
}

func TestParseUserIDs(t *testing.T) {
	for _, tc := range []struct{ name, raw, id string }{
		{"numeric id", `{"channel_user_id":919565428256}`, "919565428256"},
		{"channel_user_id first", `{"userId":"c","user_id":"b","channel_user_id":"a"}`, "a"},
		{"empty channel_user_id falls back", `{"channel_user_id":"","user_id":"b"}`, "b"},
		{"null falls back", `{"channel_user_id":null,"userId":"c"}`, "c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := parseUser(json.RawMessage(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			if u.ID != tc.id {
				t.Errorf("id %q, want %q", u.ID, tc.id)
			}
		})
	}
}

func TestDecodeUsersBad(t *testing.T) {
	for _, body := range []string{
		`{"users":[{"name":"no id"}]}`,
		`{"users":[{"channel_user_id":""}]}`,
		`{"conversations":[{"channel_user_id":"1"}]}`,
		`{"users":[{"channel_user_id":"1"}]`,
	} {
		t.Run(body, func(t *testing.T) {
			_, _, err := decodeUsers(strings.NewReader(body))
			var be *bodyError
			if !errors.As(err, &be) {
				t.Fatalf("got %v, want a body error", err)
			}
		})
	}
}

// checkConversationsInvariants holds for any input: an accepted body is valid JSON and every
// message is a JSON object found verbatim in it.
func checkConversationsInvariants(t *testing.T, data []byte) {
	p, err := decodeConversations(bytes.NewReader(data))
	if err != nil {
		var be *bodyError
		var se *statusError
		if !errors.As(err, &be) && !errors.As(err, &se) {
			t.Fatalf("error of an unexpected type %T: %v", err, err)
		}
		return
	}
	if !json.Valid(data) {
		t.Fatalf("accepted invalid JSON %q", data)
	}
	for i, m := range p.items {
		if !json.Valid(m) || m[0] != '{' {
			t.Fatalf("message %d is not a JSON object: %q", i, m)
		}
		if !bytes.Contains(data, m) {
			t.Fatalf("message %d is not as sent: %q", i, m)
		}
	}
	if p.total < -1 || p.pageSize < -1 {
		t.Fatalf("paging %d %d", p.pageSize, p.total)
	}
}

func FuzzDecodeConversations(f *testing.F) {
	for _, v := range conversationVariants() {
		f.Add([]byte(fill(v.body, canonMessages())))
	}
	for _, s := range []string{`{"status":{"code":1003,"desc":"INVALID_INPUT_DATE_VALUE"}}`, `{"conversations":[]}`,
		`{"status":{"code":1000},"responseObject":null}`, `<html>502</html>`, `{"conversations":[{"a":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(checkConversationsInvariants)
}

func FuzzDecodeUsers(f *testing.F) {
	for _, v := range userVariants() {
		for _, e := range userElements() {
			f.Add([]byte(fmt.Sprintf(v.body, strings.Join(e.users, ","))))
		}
	}
	f.Add([]byte(`{"users":[{"channel_user_id":919565428256,"attributes":null}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, users, err := decodeUsers(bytes.NewReader(data))
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if len(users) != len(p.items) {
			t.Fatalf("%d users from %d elements", len(users), len(p.items))
		}
		for i, u := range users {
			if u.ID == "" || u.Attributes == nil || !bytes.Equal(u.Raw, p.items[i]) {
				t.Fatalf("user %d: %+v", i, u)
			}
		}
	})
}

func BenchmarkDecodeConversations(b *testing.B) {
	msgs := make([]string, 500)
	for i := range msgs {
		msgs[i] = canonMessages()[i%5]
	}
	body := []byte(fill(conversationVariants()[0].body, msgs))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := decodeConversations(bytes.NewReader(body))
		if err != nil || len(p.items) != 500 {
			b.Fatal(len(p.items), err)
		}
	}
}
