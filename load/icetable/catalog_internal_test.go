package icetable

import (
	"errors"
	"strings"
	"testing"
)

func TestRedactAndScrub(t *testing.T) {
	const pw = "p@ss w/rd"
	cases := []struct {
		uri, redacted string
		leak          string // the error text a driver might produce
	}{
		{"postgres://chat:p%40ss%20w%2Frd@db:5432/lake?sslmode=require", "postgres://db:5432/lake",
			"connect postgres://chat:p%40ss%20w%2Frd@db:5432/lake: password " + pw + " refused"},
		{"postgres://db/lake?user=chat&password=p%40ss+w%2Frd", "postgres://db/lake",
			"bad password=" + pw},
		{"sqlite:/var/lib/chatlake/catalog.db", "sqlite:/var/lib/chatlake/catalog.db", "disk full"},
	}
	for _, tc := range cases {
		if got := redact(tc.uri); got != tc.redacted {
			t.Errorf("redact(%q) = %q, want %q", tc.uri, got, tc.redacted)
		}
		cause := errors.New(tc.leak)
		err := scrub(cause, tc.uri)
		if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), "p%40ss") {
			t.Errorf("scrub(%q) = %q: shows the password", tc.leak, err)
		}
		if !strings.Contains(tc.leak, "pass") && err != cause {
			t.Errorf("scrub changed an error without a secret: %v", err)
		}
	}
}
