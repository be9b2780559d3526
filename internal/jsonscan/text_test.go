package jsonscan_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/chatlake/chatlake/internal/jsonscan"
)

// TestAppendUnquotedAndCompact: strings decode as encoding/json decodes them (escapes, surrogate
// pairs, unpaired surrogates and invalid UTF-8 as U+FFFD), and values compact as json.Compact
// does.
func TestAppendUnquotedAndCompact(t *testing.T) {
	for _, s := range []string{
		`""`, `"plain"`, `"a\"b\\c\/d"`, `"\b\f\n\r\t"`, `"\u00e9\u4e2d"`, `"\ud83d\ude00"`,
		`"\ud83d"`, `"\ude00x"`, `"\ud83d\u0041"`, "\"\xff\xfe\"", `"héllo 中"`,
	} {
		var want string
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got := string(jsonscan.AppendUnquoted([]byte("x"), []byte(s))); got != "x"+want {
			t.Errorf("AppendUnquoted(%s) = %q, want %q", s, got[1:], want)
		}
	}
	for _, v := range []string{`{}`, `{ "a" : [ 1 , 2 ] , "b" : " x y " }`, "[\n\t1,\r\n\"\\\" \"]", `"no space"`} {
		var want bytes.Buffer
		if err := json.Compact(&want, []byte(v)); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if got := jsonscan.AppendCompact(nil, []byte(v)); string(got) != want.String() {
			t.Errorf("AppendCompact(%s) = %s, want %s", v, got, want.String())
		}
	}
}
