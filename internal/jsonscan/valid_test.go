package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

func validInputs() []string {
	return []string{
		``, ` `, `{}`, `[]`, `""`, `"a\"b\\c\/\b\f\n\r\t\u00e9\uD83D"`, `"\x"`, `"\u12"`, `"\u12g4"`,
		"\"a\x01\"", "\"\x7f\xff\xfe\"", `"cut`, `"cut\`, `0`, `-0`, `01`, `-`, `1.`, `1.5`, `.5`,
		`1e`, `1e+`, `1E-7`, `1e5x`, `-12.5e3`, `true`, `tru`, `truex`, `false`, `null`, `nul`,
		`{"a":1,}`, `{"a" 1}`, `{"a":}`, `{,}`, `{"a":1 "b":2}`, `[1,]`, `[,1]`, `[1 2]`,
		`{"a":[1,{"b":"}"}],"c":null}`, " {\t\"a\" :\n[ 1 , 2 ]\r} ", `{} {}`, `{}x`, `[[[]]]`,
		`{"a":{"b":{"c":[true,false,null]}}}`, `{1:2}`, `{"a":1}}`, `[1]]`, `+1`, `Infinity`,
		strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth),
		strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
		strings.Repeat(`{"a":`, maxDepth) + "1" + strings.Repeat("}", maxDepth),
		strings.Repeat(`{"a":`, maxDepth+1) + "1" + strings.Repeat("}", maxDepth+1),
	}
}

func TestValidMatchesEncodingJSON(t *testing.T) {
	for _, s := range validInputs() {
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%.60q) = %v, json.Valid %v", s, got, want)
		}
	}
}

func TestStringFlags(t *testing.T) {
	for _, tc := range []struct {
		s     string
		flags StringFlags
	}{{`"abc"`, 0}, {`"a\nb"`, Escaped}, {`"é"`, NonASCII}, {`"é\u00e9"`, Escaped | NonASCII}} {
		end, flags, ok := String([]byte(tc.s+","), 0)
		if !ok || end != len(tc.s) || flags != tc.flags {
			t.Errorf("String(%q) = %d, %b, %v; want %d, %b, true", tc.s, end, flags, ok, len(tc.s), tc.flags)
		}
	}
}

// FuzzValid: Valid agrees with encoding/json.Valid on any text, and Value ends where
// SkipValue does on valid text.
//
//	go test -run=^$ -fuzz=FuzzValid -fuzztime=1m ./internal/jsonscan/
func FuzzValid(f *testing.F) {
	for _, s := range validInputs() {
		if len(s) < 1000 {
			f.Add([]byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, want := Valid(b), json.Valid(b)
		if got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid %v", b, got, want)
		}
		if !got {
			return
		}
		i := SkipSpace(b, 0)
		if end, _ := Value(b, i); end != SkipValue(b, i) {
			t.Fatalf("Value(%q) ends at %d, SkipValue at %d", b, end, SkipValue(b, i))
		}
	})
}

func BenchmarkValid(b *testing.B) {
	msg := `{"user_id":"919565428256","sender":"user","message_type":"FILE_RECEIVED","response":"User uploaded photo.jpeg - [image/jpeg]","timestamp":"2024-05-02 10:16:01.500+0000","file":{"url":"https://files.example/photo.jpeg","mimeType":"image/jpeg","uploadType":"IMAGE"},"attachments":null}`
	body := []byte(`{"status":{"code":1000,"desc":"SUCCESS"},"responseObject":{"conversations":[` +
		strings.TrimSuffix(strings.Repeat(msg+",", 100), ",") + `],"page_number":1,"page_size":500,"total_elements":100}}`)
	b.SetBytes(int64(len(body)))
	b.Run("jsonscan", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if !Valid(body) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if !json.Valid(body) {
				b.Fatal("invalid")
			}
		}
	})
}
