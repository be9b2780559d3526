package extract

import (
	"encoding/json"
	"maps"
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
