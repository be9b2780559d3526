package transform

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// sameFlatten fails t when Flatten and refFlatten (the map-based Flatten it replaced) disagree
// on raw: the same row, or errors of the same text.
func sameFlatten(t *testing.T, raw []byte) {
	t.Helper()
	src, u := testSource(), testUser()
	got, gerr := Flatten(src, u, raw)
	want, werr := refFlatten(src, u, raw)
	if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
		t.Fatalf("%q: error %v, reference %v", raw, gerr, werr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %+v\nwant %+v", raw, toRow(got), toRow(want))
	}
}

// differentialInputs are the shapes where a one-pass scanner and a map-based decoder could part:
// duplicate keys, escaped keys, white space, nesting, invalid UTF-8 and every timestamp form.
func differentialInputs() []string {
	return []string{
		`{"timestamp":"2024-05-02 10:15:32.123+0000","sender":"a","sender":"B"}`,
		`{"timestamp":"2024-05-02 10:15:32.123+0000","time\u0073tamp":"2024-05-03 10:15:32.123+0000"}`,
		`{"timestamp":"2024-05-02 10:15:32.123+0000","file":{"url":"a","url":null,"x":1,"x":2},"file":{"url":"b","y":[1, 2]}}`,
		`{ "timestamp" : "2024-05-02 10:15:32.123+0000" , "z" : { "b" : [ 1 , "x y" ] } , "a\"b":1, "é":2, "\u00e9x":3 }`,
		`{"timestamp":"2024-05-02 10:15:32.123+0000","response":{"a" : "b c"},"user_id":7,"message_type":null}`,
		`{"timestamp":"2024-05-02 10:15:32.123+0000","response":"caf\xe9","user_id":"\xff","k\xfe":1}`,
		`{"timestamp":"2024-05-02 10:15:32.123+0000","template":{"name":"n","name":{"x":1},"language":"en"}}`,
		`{"timestamp":"2024-05-02 10:15:32.123+0000","sender":"\u0041gent","message_type":"agent_participation_status","response":"{\"agentId\":\"a\\u0062\",\"agentId\":5}"}`,
		`{"timestamp":"2024-05-02 10:15:32.123+0000","message_type":"AGENT_PARTICIPATION_STATUS","response":"\u00a0{\"agentId\":1}"}`,
		`{"timestamp":"2024-05-02 10:15:32.123+0000","message_type":"OPTIONS","response":" [\"a \", \"b\"] "}`,
		`{"timestamp":"2024-05-02 10:15:32.123+0000","message_type":"OPTIONS","response":"[a, [b], c]"}`,
		`{"timestamp":"2024-05-02 10:15:32.123+0000","\u003c":"<>&\u2028"}`,
		`{"timestamp":"2024-02-29 23:59:59.999-0130"}`,
		`{"timestamp":"2023-02-29 10:00:00.000+0000"}`,
		`{"timestamp":"2024-05-02 24:00:00.000+0000"}`,
		`{"timestamp":"2024-05-02 10:60:00.000+0000"}`,
		`{"timestamp":"2024-05-02 10:00:60.000+0000"}`,
		`{"timestamp":"2024-13-02 10:00:00.000+0000"}`,
		`{"timestamp":"2024-05-00 10:00:00.000+0000"}`,
		`{"timestamp":"2024-05-02 10:00:00,123+0000"}`,
		`{"timestamp":"2024-05-02 10:00:00.1234567891234+0000"}`,
		`{"timestamp":"2024-05-02 10:00:00.+0000"}`,
		`{"timestamp":"2024-05-02 10:00:00.5+2400"}`,
		`{"timestamp":"2024-05-02 10:00:00.5+2360"}`,
		`{"timestamp":"2024-05-02 10:00:00.5+23:59"}`,
		`{"timestamp":"2024-05-02 10:00:00.5-00:00"}`,
		`{"timestamp":"2024-05-02T10:00:00Z"}`,
		`{"timestamp":"2024/05/02T10:00:00Z"}`,
		`{"timestamp":"2024-05/02 10:00:00Z"}`,
		`{"timestamp":"2024-05-02 10:00:00"}`,
		`{"timestamp":"2024-05-02 10:00:00z"}`,
		`{"timestamp":" 2024-05-02 10:00:00Z "}`,
		`{"timestamp":"0001-01-01 00:00:00.000+0001"}`,
		`{"timestamp":"9999-12-31 23:59:59.999-0001"}`,
		`{"timestamp":"2024-05-02 10:00:00Z\u0000"}`,
		`{"timestamp":"+024-05-02 10:00:00Z"}`,
		`{"timestamp":"2024-05-02 10:00:00.123+05"}`,
		`{"timestamp":"2024-05-02 10:00:00.123+0530x"}`,
		`{"timestamp":1714644932123}`,
		`{"timestamp":"1714644932123"}`,
		`{"timestamp":1.5}`,
		`{"timestamp":null}`,
		`{"timestamp":"2024-05-02 10:15:32.123+0000"} `,
		` {"timestamp":"2024-05-02 10:15:32.123+0000"}x`,
		`{"timestamp":"2024-05-02 10:15:32.123+0000",}`,
		`{}`, `[]`, `"x"`, ``, `{"a":1`,
	}
}

func TestFlattenMatchesReference(t *testing.T) {
	for _, in := range differentialInputs() {
		sameFlatten(t, []byte(in))
	}
	for _, m := range realisticMix() {
		sameFlatten(t, m)
	}
	inputs, _ := filepath.Glob(filepath.Join("testdata", "flatten", "*", "input.json"))
	for _, p := range inputs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sameFlatten(t, b)
	}
}

// FuzzFlattenReference: Flatten gives what the map-based Flatten it replaced gives, on any input.
//
//	go test -run=^$ -fuzz=FuzzFlattenReference -fuzztime=2m ./transform/
func FuzzFlattenReference(f *testing.F) {
	for _, in := range differentialInputs() {
		f.Add([]byte(in))
	}
	for _, m := range realisticMix() {
		f.Add([]byte(m))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { sameFlatten(t, raw) })
}

// The API's forms take parseCommon's way, allocate nothing, and agree with time.Parse; a
// sweep of near misses agrees with the reference whichever way they take.
func TestParseTimestampCommonForms(t *testing.T) {
	for _, s := range []string{
		`"2024-05-02 10:15:32.123+0000"`, `"2024/05/02 10:15:32.123+0530"`, `"2024-05-02T10:15:32.123Z"`,
		`"2024-05-02T10:15:32-03:00"`, `"2024-05-02 10:15:32.1-0000"`, `"2024-12-31 23:59:59.123456789+2359"`,
	} {
		if _, ok := parseCommon([]byte(s)); !ok {
			t.Errorf("%s: not parsed by parseCommon", s)
		}
		raw := []byte(s)
		if n := testing.AllocsPerRun(100, func() { _, _ = ParseTimestamp(raw) }); n != 0 {
			t.Errorf("%s: %v allocations, want 0", s, n)
		}
	}
	base := []byte(`"2024-02-29 23:59:59.999+0530"`)
	for i := 1; i < len(base)-1; i++ {
		for _, c := range []byte("09/-T :.Z+x") {
			in := append([]byte(nil), base...)
			in[i] = c
			got, gerr := ParseTimestamp(in)
			want, werr := refParseTimestamp(in)
			if (gerr == nil) != (werr == nil) || !got.Equal(want) || got.Location() != want.Location() {
				t.Fatalf("%s: %v %v, reference %v %v", in, got, gerr, want, werr)
			}
		}
	}
}
