package transform

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/schema"
)

func TestFlattenUser(t *testing.T) {
	src := testSource()
	sel := []extract.Selector{{Name: "feedback", Value: "1"}, {Name: "user.channel", Value: "whatsapp"}}
	tests := []struct {
		name string
		in   extract.User
		want schema.User
	}{
		{
			name: "canonical nested attributes",
			in: extract.User{
				ID: "919565428256", Channel: "whatsapp", CreatedAt: "2024-05-01 08:00:00.000+0000",
				Attributes: map[string]string{"user.user_name": "Asha", "user.phone_no": "+919565428256", "feedback": "1"},
				Raw:        json.RawMessage(`{"channel_user_id": "919565428256", "channel": "whatsapp", "created_at": "2024-05-01 08:00:00.000+0000", "attributes": {"user.user_name": "Asha", "user.phone_no": "+919565428256", "feedback": "1"}}`),
				Selectors:  sel,
			},
			want: schema.User{
				ChannelUserID: "919565428256", Channel: ptr("whatsapp"),
				CreatedAt: ptr(time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)), SourceCreatedAt: ptr("2024-05-01 08:00:00.000+0000"),
				AttributesJSON: `{"feedback":"1","user.phone_no":"+919565428256","user.user_name":"Asha"}`,
				Selectors:      []string{"feedback=1", "user.channel=whatsapp"},
			},
		},
		{
			name: "flat attributes, userId, unknown fields kept, offset created_at",
			in: extract.User{
				ID: "5f0c-uuid", CreatedAt: "2024-05-01T05:30:00+05:30",
				Attributes: map[string]string{"city": "Pune", "score": "4.5"},
				Raw:        json.RawMessage(`{"userId": "5f0c-uuid", "created_at": "2024-05-01T05:30:00+05:30", "city": "Pune", "score": 4.5, "channel": null, "user_id": "other-session"}`),
				Selectors:  sel[:1],
			},
			want: schema.User{
				ChannelUserID: "5f0c-uuid",
				CreatedAt:     ptr(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)), SourceCreatedAt: ptr("2024-05-01T05:30:00+05:30"),
				AttributesJSON: `{"city":"Pune","score":"4.5"}`,
				Selectors:      []string{"feedback=1"},
				ExtraJSON:      ptr(`{"user_id":"other-session"}`),
			},
		},
		{
			name: "nested attributes with extra fields and unparseable created_at",
			in: extract.User{
				ID: "919000000001", Channel: "whatsapp", CreatedAt: "last tuesday",
				Attributes: map[string]string{"a": "<b>&"},
				Raw:        json.RawMessage(`{"user_id": "919000000001", "channel": "whatsapp", "created_at": "last tuesday", "attributes": {"a": "<b>&"}, "status": {"active": true, "since": 2024}, "a": "dup"}`),
			},
			want: schema.User{
				ChannelUserID: "919000000001", Channel: ptr("whatsapp"),
				SourceCreatedAt: ptr("last tuesday"),
				AttributesJSON:  `{"a":"<b>&"}`,
				Selectors:       []string{},
				ExtraJSON:       ptr(`{"a":"dup","status":{"active":true,"since":2024}}`),
			},
		},
		{
			// As extract parses it: flat fields beside nested attributes are attributes too,
			// unless a nested one has their name; only what no column holds is extra.
			name: "nested and flat attributes, as extract parses them",
			in: extract.User{
				ID: "919000000002", Channel: "whatsapp",
				Attributes: map[string]string{"a": "<b>&", "status": `{"active":true}`},
				Raw:        json.RawMessage(`{"user_id": "919000000002", "channel": "whatsapp", "attributes": {"a": "<b>&"}, "status": {"active":true}, "a": "dup", "userId": "other"}`),
			},
			want: schema.User{
				ChannelUserID: "919000000002", Channel: ptr("whatsapp"),
				AttributesJSON: `{"a":"<b>&","status":"{\"active\":true}"}`,
				Selectors:      []string{},
				ExtraJSON:      ptr(`{"a":"dup","userId":"other"}`),
			},
		},
		{
			name: "epoch created_at, no attributes, no raw",
			in:   extract.User{ID: "u1", CreatedAt: "1714550400000"},
			want: schema.User{
				ChannelUserID: "u1", CreatedAt: ptr(time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)), SourceCreatedAt: ptr("1714550400000"),
				AttributesJSON: `{}`, Selectors: []string{},
			},
		},
		{
			name: "channel in raw differs from the user's channel",
			in: extract.User{ID: "u2", Channel: "web",
				Raw: json.RawMessage(`{"channel_user_id": "u2", "channel": "WEB_WIDGET", "attributes": null}`)},
			want: schema.User{ChannelUserID: "u2", Channel: ptr("web"), AttributesJSON: `{}`, Selectors: []string{},
				ExtraJSON: ptr(`{"channel":"WEB_WIDGET"}`)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FlattenUser(src, tt.in)
			if err != nil {
				t.Fatalf("FlattenUser: %v", err)
			}
			want := tt.want
			want.CustomerID, want.BotKey, want.RunID = "1001", "0123456789abcdef", "run-20240504"
			want.ExtractedAt = time.Date(2024, 5, 4, 1, 0, 0, 0, time.UTC)
			if g, w := userJSON(t, got), userJSON(t, want); g != w {
				t.Errorf("FlattenUser\ngot  %s\nwant %s", g, w)
			}
			if got.ExtractedAt.Location() != time.UTC || (got.CreatedAt != nil && got.CreatedAt.Location() != time.UTC) {
				t.Error("times not in UTC")
			}
			if got.Selectors == nil {
				t.Error("Selectors is nil, want a list")
			}
		})
	}
}

func TestFlattenUserNotObject(t *testing.T) {
	for _, raw := range []string{`[1]`, `"x"`, `{"a":`, `null`} {
		t.Run(raw, func(t *testing.T) {
			_, err := FlattenUser(testSource(), extract.User{ID: "u", Raw: json.RawMessage(raw)})
			var fe *FieldError
			if !errors.Is(err, ErrNotObject) || !errors.As(err, &fe) || fe.Field != "user" {
				t.Errorf("err = %v, want a user *FieldError matching ErrNotObject", err)
			}
		})
	}
}

// userJSON renders a User for comparison, with times in RFC 3339.
func userJSON(t *testing.T, u schema.User) string {
	t.Helper()
	b, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
