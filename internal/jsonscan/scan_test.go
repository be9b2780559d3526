package jsonscan

import (
	"strings"
	"testing"
)

func TestSkipValue(t *testing.T) {
	for _, tc := range []struct{ text, rest string }{
		{`"a\"b" ,`, ` ,`},
		{`{"a":[1,{"b":"}"}],"c":null}]`, `]`},
		{`[1, [2, 3], "]"] x`, ` x`},
		{`-12.5e3,`, `,`},
		{`true}`, `}`},
		{`null`, ``},
		{`"cut`, ``},
	} {
		if got := tc.text[SkipValue([]byte(tc.text), 0):]; got != tc.rest {
			t.Errorf("SkipValue(%q) leaves %q, want %q", tc.text, got, tc.rest)
		}
	}
}

func TestEachMemberAndElement(t *testing.T) {
	b := []byte(` { "a" : 1 , "b":{"x":[1,2]}, "a":"two" } `)
	var got []string
	EachMember(b, SkipSpace(b, 0), func(key []byte, vs, ve int) bool {
		got = append(got, string(key)+"="+string(b[vs:ve]))
		return true
	})
	if want := `"a"=1 "b"={"x":[1,2]} "a"="two"`; strings.Join(got, " ") != want {
		t.Errorf("members %q, want %s (in order, duplicates included)", got, want)
	}
	got = nil
	EachMember(b, SkipSpace(b, 0), func(key []byte, vs, ve int) bool {
		got = append(got, string(key))
		return false
	})
	if len(got) != 1 {
		t.Errorf("EachMember went on after fn returned false: %q", got)
	}
	a := []byte(`[ 1, "x,y" ,{"k":[]} ,[] ]`)
	got = nil
	EachElement(a, 0, func(vs, ve int) bool {
		got = append(got, string(a[vs:ve]))
		return true
	})
	if want := `1|"x,y"|{"k":[]}|[]`; strings.Join(got, "|") != want {
		t.Errorf("elements %q, want %s", got, want)
	}
	got = nil
	EachElement([]byte(`[]`), 0, func(vs, ve int) bool { got = append(got, "?"); return true })
	if len(got) != 0 {
		t.Errorf("elements of [] %q, want none", got)
	}
}
