package extract

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// sameDecode fails t when the one-pass scan and the token decoder disagree on data, for the
// Conversations and the User API's list keys: the same elements and paging, or the same error.
func sameDecode(t *testing.T, data []byte) {
	t.Helper()
	for _, keys := range [][]string{{"conversations", "messages"}, {"users"}, nil} {
		got, gerr := decodeData(data, keys, true)
		want, werr := decodeData(data, keys, false)
		if fmt.Sprint(gerr) != fmt.Sprint(werr) || reflect.TypeOf(gerr) != reflect.TypeOf(werr) {
			t.Fatalf("%q %q: error %v, token decoder %v", data, keys, gerr, werr)
		}
		if len(got.items) != len(want.items) || got.pageSize != want.pageSize || got.total != want.total {
			t.Fatalf("%q %q: got %d items %d %d, token decoder %d items %d %d", data, keys,
				len(got.items), got.pageSize, got.total, len(want.items), want.pageSize, want.total)
		}
		for i := range got.items {
			if string(got.items[i]) != string(want.items[i]) {
				t.Fatalf("%q: item %d %q, token decoder %q", data, i, got.items[i], want.items[i])
			}
		}
	}
}

func scanInputs() []string {
	in := []string{
		`{"conversations":[{"a":1}],"conversations":[{"b":2}]}`,
		`{"responseObject":{"conversations":[{"a":1}]},"conversations":null}`,
		`{"convers\u0061tions":[{"a":1}],"status":{"code":1000}}`,
		`{"status":{"code":"1000"},"responseObject":{"messages":[ {"a" : [1, "]"]} , {} ],"page_size":"2","total_elements":2.0}}`,
		`{"status":{"code":1000},"responseObject":{"status":{"code":1003},"responseObject":[1],"conversations":[]}}`,
		`{"status":{"code":1000},"other":[1],"more":[]}`, `{"status":{"code":1000},"other":[ ]}`,
		`{"status":{"code":1000},"responseObject":true}`, `{"status":"x"}`, `{"status":{"code":"abc"}}`,
		`{"status":{"code":1003,"desc":"D","details":{"a":1}}}`, `{"status":null,"conversations":[]}`,
		`{"conversations":[1]}`, `{"conversations":{}}`, `{"conversations":[{}],"page_size":-5,"total_elements":1e2}`,
		`[]`, `{}`, ` {"conversations":[]} `, `{"conversations":[]} {}`, `{"users":[{"id":"é"}],"é":[1]}`,
		`{"status":{"code":1000,"code":1002}}`, `{"status":{"code":1e3}}`, `{"status":{}}`, `{"a":1,"b":{"c":[{}]}}`,
	}
	for _, v := range conversationVariants() {
		in = append(in, fill(v.body, canonMessages()))
	}
	for _, v := range userVariants() {
		for _, e := range userElements() {
			in = append(in, fmt.Sprintf(v.body, strings.Join(e.users, ",")))
		}
	}
	return in
}

func TestScanMatchesTokenDecoder(t *testing.T) {
	for _, s := range scanInputs() {
		sameDecode(t, []byte(s))
		for n := range len(s) { // and every cut of it
			sameDecode(t, []byte(s[:n]))
		}
	}
}

// FuzzScanMatchesTokenDecoder: the one-pass scan decodes any body as the token decoder does.
//
//	go test -run=^$ -fuzz=FuzzScanMatchesTokenDecoder -fuzztime=2m ./extract/
func FuzzScanMatchesTokenDecoder(f *testing.F) {
	for _, s := range scanInputs() {
		f.Add([]byte(s))
	}
	f.Fuzz(sameDecode)
}
