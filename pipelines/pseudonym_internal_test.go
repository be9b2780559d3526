package pipelines

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/transform"
)

func testPseudo(t *testing.T, key string) *pseudo {
	t.Helper()
	ps, err := transform.NewPseudonymizer([]byte(key), nil)
	if err != nil {
		t.Fatal(err)
	}
	q, err := newPseudo(ps, false)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestSealOpen: a sealed value opens only with its key and its place; two seals of one value
// differ (random nonce); a changed byte is refused.
func TestSealOpen(t *testing.T) {
	q := testPseudo(t, "key-one-0123456789abcdef")
	other := testPseudo(t, "key-two-0123456789abcdef")
	raw := "919565428256"
	a, err := q.seal([]byte(raw), owedAAD("p1"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := q.seal([]byte(raw), owedAAD("p1"))
	if a == b || strings.Contains(a, raw) {
		t.Fatalf("seals %q and %q", a, b)
	}
	if got, err := q.open(a, owedAAD("p1")); err != nil || string(got) != raw {
		t.Fatalf("open: %q %v", got, err)
	}
	flipped := []byte(a)
	flipped[len(flipped)/2] ^= 1
	for name, tc := range map[string]struct {
		q      *pseudo
		sealed string
		aad    string
	}{
		"another key":   {other, a, owedAAD("p1")},
		"another place": {q, a, owedAAD("p2")},
		"a flipped bit": {q, string(flipped), owedAAD("p1")},
		"not base64":    {q, "%%%", owedAAD("p1")},
	} {
		if got, err := tc.q.open(tc.sealed, tc.aad); err == nil {
			t.Errorf("%s: opened to %q", name, got)
		}
	}
}

// TestOpenOwedChecksThePseudonym: a sealed id moved to another owed user's entry is refused.
func TestOpenOwedChecksThePseudonym(t *testing.T) {
	q := testPseudo(t, "key-one-0123456789abcdef")
	id := q.ps.ID("alice")
	sealed, _ := q.seal([]byte("alice"), owedAAD(id))
	if raw, err := q.openOwed(id, load.Owed{SealedID: sealed}); err != nil || raw != "alice" {
		t.Fatalf("%q %v", raw, err)
	}
	bob := q.ps.ID("bob")
	wrong, _ := q.seal([]byte("alice"), owedAAD(bob))
	if _, err := q.openOwed(bob, load.Owed{SealedID: wrong}); err == nil {
		t.Fatal("alice's id opened as bob's")
	}
	if _, err := q.openOwed(bob, load.Owed{}); err == nil {
		t.Fatal("no sealed id opened")
	}
}

// TestScrubKeepsTheError: the text names the pseudonym in place of every form of the raw id,
// and errors.Is/As still see the original.
func TestScrubKeepsTheError(t *testing.T) {
	raw := `tg:+1 (555)/0100:042 ext "7"`
	inner := &extract.APIError{HTTPStatus: 502, Op: fmt.Sprintf("conversations of user %q", raw), Request: "GET /channel-user/" + url.PathEscape(raw) + "/conversations"}
	err := scrub(fmt.Errorf("user %s: %w (query %s)", raw, inner, url.QueryEscape(raw)), raw, "PSEUDO")
	for _, f := range []string{raw, url.PathEscape(raw), url.QueryEscape(raw), `ext \"7\"`} {
		if strings.Contains(err.Error(), f) {
			t.Errorf("%q is in %q", f, err.Error())
		}
	}
	if strings.Count(err.Error(), "PSEUDO") < 4 {
		t.Errorf("the pseudonym is missing: %q", err.Error())
	}
	var api *extract.APIError
	if !errors.As(err, &api) || api.HTTPStatus != 502 {
		t.Fatal("errors.As does not see the API error")
	}
}
