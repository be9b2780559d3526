package sim_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/chatlake/chatlake/sim"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ (review them before committing)")

// shape is what a variant's 200 bodies look like.
type shape struct {
	status  bool   // "status" at the top level
	nested  bool   // the list and paging under "responseObject"
	convKey string // key of the conversations list
	paging  bool   // page_number, page_size, total_elements present
	idKey   string // key of a user's id
	flat    bool   // user attributes beside the id
}

func shapes() map[sim.Variant]shape {
	c := shape{status: true, nested: true, convKey: "conversations", paging: true, idKey: "channel_user_id"}
	with := func(f func(s *shape)) shape { s := c; f(&s); return s }
	return map[sim.Variant]shape{
		sim.VariantCanonical:        c,
		sim.VariantTopLevel:         with(func(s *shape) { s.nested = false }),
		sim.VariantTopLevelNoStatus: with(func(s *shape) { s.nested, s.status = false, false }),
		sim.VariantMessagesKey:      with(func(s *shape) { s.convKey = "messages" }),
		sim.VariantNoPaging:         with(func(s *shape) { s.paging = false }),
		sim.VariantFlatUsers:        with(func(s *shape) { s.flat = true }),
		sim.VariantUserID:           with(func(s *shape) { s.idKey = "user_id" }),
		sim.VariantUserIDCamel:      with(func(s *shape) { s.idKey = "userId" }),
	}
}

// listOf checks body against sh and returns its list; listKey "users" or "" for conversations.
// It returns a description of the first mismatch, or "".
func listOf(body []byte, sh shape, users bool) ([]json.RawMessage, string) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, "not a JSON object"
	}
	if _, ok := top["status"]; ok != sh.status {
		return nil, "status presence"
	}
	obj := top
	if sh.nested {
		obj = nil
		if err := json.Unmarshal(top["responseObject"], &obj); err != nil {
			return nil, "no responseObject"
		}
	} else if _, ok := top["responseObject"]; ok {
		return nil, "responseObject present"
	}
	wantKeys := 1
	if sh.status && !sh.nested {
		wantKeys++
	}
	if sh.paging {
		wantKeys += 3
		for _, k := range []string{"page_number", "page_size", "total_elements"} {
			if _, ok := obj[k]; !ok {
				return nil, "no " + k
			}
		}
	}
	if !sh.nested && len(top) != wantKeys || sh.nested && (len(obj) != wantKeys || len(top) != 2) {
		return nil, "unexpected keys"
	}
	key := sh.convKey
	if users {
		key = "users"
	}
	var list []json.RawMessage
	if err := json.Unmarshal(obj[key], &list); err != nil || list == nil {
		return nil, "no list under " + key
	}
	if users {
		for _, u := range list {
			var m map[string]json.RawMessage
			_ = json.Unmarshal(u, &m)
			for _, k := range []string{"channel_user_id", "user_id", "userId"} {
				if _, ok := m[k]; ok != (k == sh.idKey) {
					return nil, "user id key " + k
				}
			}
			_, nested := m["attributes"]
			_, flat := m["feedback"]
			if nested == sh.flat || flat != sh.flat {
				return nil, "attributes nesting"
			}
		}
	}
	return list, ""
}

func TestVariantShapes(t *testing.T) {
	for v, sh := range shapes() {
		t.Run(string(v), func(t *testing.T) {
			h := newHarness(t, sim.Options{Seed: 21, Variant: v})
			ub := h.ok(usersPath(), url.Values{"attribute_name": {"user.channel"}, "attribute_value": {"whatsapp"}, "page_size": {"3"}})
			users, bad := listOf(ub, sh, true)
			if bad != "" || len(users) != 3 {
				t.Fatalf("users body (%s, %d users): %s", bad, len(users), ub)
			}
			// Users bodies tell the variants apart, except canonical and messages-key, which
			// differ in conversations only.
			var fits []sim.Variant
			for other, osh := range shapes() {
				if _, bad := listOf(ub, osh, true); bad == "" {
					fits = append(fits, other)
				}
			}
			slices.Sort(fits)
			want := []sim.Variant{v}
			if v == sim.VariantCanonical || v == sim.VariantMessagesKey {
				want = []sim.Variant{sim.VariantCanonical, sim.VariantMessagesKey}
			}
			if !slices.Equal(fits, want) {
				t.Errorf("users body fits %v, want %v", fits, want)
			}
			// Paging works in every variant: all pages of the straddle user equal Truth.
			id := h.s.Fixtures().StraddleUser
			var got []json.RawMessage
			for p := 1; ; p++ {
				b := h.ok(convPath(id), window(defFrom(), defTo(), p, 300))
				list, bad := listOf(b, sh, false)
				if bad != "" {
					t.Fatalf("conversations page %d: %s: %.300s", p, bad, b)
				}
				got = append(got, list...)
				if len(list) < 300 {
					break
				}
			}
			if d := equalRaws(got, rawsOf(truthOf(h.s, id, defFrom(), defTo(), farFuture()))); d != "" {
				t.Error(d)
			}
		})
	}
}

func TestMixedVariant(t *testing.T) {
	h := newHarness(t, sim.Options{Seed: 22, Variant: sim.VariantMixed})
	seen := map[sim.Variant]bool{}
	for range 80 {
		b := h.ok(usersPath(), url.Values{"attribute_name": {"feedback"}, "attribute_value": {"2"}})
		var fits []sim.Variant
		for v, sh := range shapes() {
			if _, bad := listOf(b, sh, true); bad == "" {
				fits = append(fits, v)
			}
		}
		if len(fits) == 0 {
			t.Fatalf("body fits no variant: %.300s", b)
		}
		for _, v := range fits {
			seen[v] = true
		}
	}
	// canonical and messages-key frame users alike; the other seven are told apart.
	if len(seen) < 7 {
		t.Errorf("mixed produced only %v", seen)
	}
}

func TestParseVariant(t *testing.T) {
	for v := range shapes() {
		if got, err := sim.ParseVariant(string(v)); err != nil || got != v {
			t.Errorf("ParseVariant(%q) = %q, %v", v, got, err)
		}
	}
	if got, err := sim.ParseVariant(""); err != nil || got != sim.VariantCanonical {
		t.Errorf("ParseVariant(\"\") = %q, %v", got, err)
	}
	if _, err := sim.ParseVariant("xml"); err == nil {
		t.Error("ParseVariant(xml) accepted")
	}
}

// TestCanonicalGolden pins the canonical bodies byte for byte. The golden files were reviewed
// by eye against the contract's canonical examples.
func TestCanonicalGolden(t *testing.T) {
	h := newHarness(t, sim.Options{Seed: 1, Users: 5})
	f := h.s.Fixtures()
	tests := []struct {
		name string
		path string
		q    url.Values
	}{
		{"users", usersPath(), url.Values{"attribute_name": {"user.channel"}, "attribute_value": {"telegram"}, "page_size": {"2"}}},
		{"conversations", convPath(f.StraddleUser), url.Values{"start_date": {ms(defFrom())}, "end_date": {"1714521720000"}}},
		{"error_1003", convPath(f.StraddleUser), url.Values{"start_date": {"x"}}},
		// The fixture session from 2024-05-08T00:00:01Z: every kind in the four timestamp
		// forms, four messages per kind, so page k of size 4 holds kind k.
		{"agent_status", convPath(f.StraddleUser), showcase(5)},
		{"file_received", convPath(f.StraddleUser), showcase(6)},
		{"template", convPath(f.StraddleUser), showcase(9)},
		{"location", convPath(f.StraddleUser), showcase(10)},
		{"attachments", convPath(f.StraddleUser), showcase(12)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := h.do(tc.path, tc.q, nil).body
			file := filepath.Join("testdata", tc.name+".json")
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, bytes.TrimRight(want, "\n")) {
				t.Errorf("body differs from %s:\n got %s\nwant %s", file, got, want)
			}
		})
	}
	if !slices.Contains(h.s.UserIDs(nil), f.StraddleUser) {
		t.Error("straddle user not listed")
	}
}

func showcase(page int) url.Values {
	return url.Values{"start_date": {"1715126401000"}, "end_date": {"1715126449000"}, "page_size": {"4"}, "page_number": {strconv.Itoa(page)}}
}

// anyList is the list of a body in any variant: conversations, messages or users, nested or not.
func anyList(t *testing.T, body []byte) []json.RawMessage {
	t.Helper()
	for _, sh := range shapes() {
		for _, users := range []bool{false, true} {
			if list, bad := listOf(body, sh, users); bad == "" {
				return list
			}
		}
	}
	t.Fatalf("body fits no variant: %.300s", body)
	return nil
}

// MaxPageSize caps pages in every variant, the ones without paging metadata included: a page
// asked for 500 holds the cap, silently in no-paging, and the pages still add up to Truth.
func TestMaxPageSizeInEveryVariant(t *testing.T) {
	for _, v := range []sim.Variant{sim.VariantNoPaging, sim.VariantMixed, sim.VariantCanonical} {
		for _, maxSize := range []int{100, 250, 499} {
			t.Run(string(v)+"/"+strconv.Itoa(maxSize), func(t *testing.T) {
				h := newHarness(t, sim.Options{Seed: 23, Variant: v, MaxPageSize: maxSize})
				id := h.s.Fixtures().StraddleUser
				want := rawsOf(truthOf(h.s, id, defFrom(), defTo(), farFuture()))
				var got []json.RawMessage
				for p := 1; ; p++ {
					list := anyList(t, h.ok(convPath(id), window(defFrom(), defTo(), p, 500)))
					if len(list) > maxSize || (len(list) < maxSize && len(got)+len(list) != len(want)) {
						t.Fatalf("page %d holds %d messages; cap %d, %d of %d seen", p, len(list), maxSize, len(got), len(want))
					}
					got = append(got, list...)
					if len(list) == 0 {
						break
					}
				}
				if d := equalRaws(got, want); d != "" {
					t.Error(d)
				}
				users := anyList(t, h.ok(usersPath(), url.Values{"attribute_name": {"feedback"}, "attribute_value": {"1"},
					"page_size": {"500"}}))
				if n := len(h.s.UserIDs([]sim.Selector{{Name: "feedback", Value: "1"}})); len(users) != min(n, maxSize) {
					t.Errorf("users page holds %d of %d users, cap %d", len(users), n, maxSize)
				}
			})
		}
	}
}
