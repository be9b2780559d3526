package extract

import (
	"encoding/json"
	"maps"
	"reflect"
	"testing"
)

// Every field of a user object is in exactly one place after parseUser and Extra: the id,
// channel or created_at field, the attributes, or the extra fields.
func TestUserExtra(t *testing.T) {
	for _, tc := range []struct {
		name      string
		raw       string
		wantAttrs map[string]string
		wantExtra map[string]string
	}{
		{"canonical", `{"channel_user_id":"1","channel":"whatsapp","created_at":"2024-05-01 08:00:00.000+0000","attributes":{"feedback":"1"}}`,
			map[string]string{"feedback": "1"}, nil},
		{"flat", `{"userId":"1","feedback":"1","score":4.5,"channel":null}`,
			map[string]string{"feedback": "1", "score": "4.5"}, nil},
		{"nested wins over a flat field of the same name, which stays extra",
			`{"user_id":"1","attributes":{"a":"x"},"a":"dup","status":{"on":true}}`,
			map[string]string{"a": "x", "status": `{"on":true}`}, map[string]string{"a": `"dup"`}},
		{"a second id field with another value is extra", `{"channel_user_id":"1","user_id":"session-9","userId":1}`,
			map[string]string{}, map[string]string{"user_id": `"session-9"`}},
		{"attributes that are not an object are an attribute", `{"user_id":"1","attributes":"x"}`,
			map[string]string{"attributes": "x"}, nil},
		{"attributes null", `{"user_id":"1","attributes":null,"created_at":null}`, map[string]string{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := parseUser(json.RawMessage(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(u.Attributes, tc.wantAttrs) {
				t.Errorf("attributes %v, want %v", u.Attributes, tc.wantAttrs)
			}
			extra, err := u.Extra()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k, v := range extra {
				got[k] = string(v)
			}
			if len(got) == 0 {
				got = nil
			}
			if !maps.Equal(got, tc.wantExtra) {
				t.Errorf("extra %v, want %v", got, tc.wantExtra)
			}
		})
	}
	for _, raw := range []string{`[1]`, `"x"`, `{"a":`, `null`} {
		if _, err := (User{ID: "u", Raw: json.RawMessage(raw)}).Extra(); err == nil {
			t.Errorf("Extra of %s: no error", raw)
		}
	}
	if extra, err := (User{ID: "u"}).Extra(); extra != nil || err != nil {
		t.Errorf("Extra without Raw: %v, %v", extra, err)
	}
}

// TestObjectMembersMatchesEncodingJSON: a user's members (and its attributes'), read without
// reflection, are what json.Unmarshal into a map of raw values gives, errors included.
func TestObjectMembersMatchesEncodingJSON(t *testing.T) {
	for _, in := range objectMembersCases {
		checkObjectMembers(t, []byte(in))
	}
}

var objectMembersCases = []string{
	`{}`, ` { "a" : 1 , "b":"x" } `, `{"a":1,"a":2}`, `{"k\u00e9y":"v","\ud83d\ude00":[1,{"x":null}]}`,
	"{\"bad\xff\":\"v\xfe\"}", `{"a":"\ud800"}`, `null`, `[]`, `"s"`, `{"a":}`, `{"a":1`, `{"a":1}x`, ``,
	`{"attributes":{"plan":"pro","n":3,"plan":"free"},"channel_user_id":"u1"}`,
}

func checkObjectMembers(t *testing.T, in []byte) {
	t.Helper()
	got, err := objectMembers(in)
	var want map[string]json.RawMessage
	werr := json.Unmarshal(in, &want)
	if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
		t.Fatalf("objectMembers(%q) error %v, json.Unmarshal %v", in, err, werr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("objectMembers(%q) = %q, json.Unmarshal %q", in, got, want)
	}
	for _, v := range want {
		if s, ok := stringValue(v); ok {
			var w string
			if err := json.Unmarshal(v, &w); err != nil || w != s {
				t.Fatalf("stringValue(%q) = %q, json.Unmarshal %q (%v)", v, s, w, err)
			}
		}
	}
}

func FuzzObjectMembers(f *testing.F) {
	for _, in := range objectMembersCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkObjectMembers(t, in) })
}
