package icetable_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatlake/chatlake/load/icetable"
)

func TestOpenRefusesOtherSchemesWithoutShowingSecrets(t *testing.T) {
	const secret = "hunter2-s3cr3t"
	cases := []struct {
		name, uri, scheme string
	}{
		{"postgres with password", "postgres://chat:" + secret + "@db.example:5432/lake", "postgres"},
		{"password in the query", "postgresql://db.example/lake?user=chat&password=" + secret, "postgresql"},
		{"mysql", "mysql://root:" + secret + "@tcp(localhost)/x", "mysql"},
		{"rest", "rest://" + secret + "@catalog.example", "rest"},
		{"no scheme", secret, ""},
		{"unparsable", "post gres://u:" + secret + "@h/%zz", "post gres"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := icetable.Open(context.Background(), icetable.Config{URI: tc.uri, Logger: quietLogger()})
			if !errors.Is(err, icetable.ErrUnsupportedCatalog) {
				t.Fatalf("Open(%q) = %v, want ErrUnsupportedCatalog", tc.uri, err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the secret: %v", err)
			}
			if tc.scheme != "" && !strings.Contains(err.Error(), tc.scheme) {
				t.Errorf("error %q does not name the scheme %q", err, tc.scheme)
			}
		})
	}
}

func TestOpenCreatesTheSQLiteFileAndNamespace(t *testing.T) {
	dir := t.TempDir()
	for _, uri := range []string{
		"sqlite:" + filepath.Join(dir, "a", "b", "catalog.db"),
		"sqlite://" + filepath.Join(dir, "c", "catalog.db"),
	} {
		for range 2 { // the second Open finds the file and the namespace
			c, err := icetable.Open(context.Background(), icetable.Config{URI: uri, Namespace: "ns1", Logger: quietLogger()})
			if err != nil {
				t.Fatalf("Open(%s): %v", uri, err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		}
		path := strings.TrimPrefix(strings.TrimPrefix(uri, "sqlite:"), "//")
		if _, err := os.Stat(path); err != nil {
			t.Errorf("catalog file of %s: %v", uri, err)
		}
	}
	if _, err := icetable.Open(context.Background(), icetable.Config{URI: "sqlite:" + dir + "/x.db?mode=ro"}); err == nil {
		t.Error("Open accepted a sqlite path with a query")
	}
	if _, err := icetable.Open(context.Background(), icetable.Config{URI: "sqlite:" + dir + "/y.db", Namespace: "a.b"}); err == nil {
		t.Error("Open accepted a dotted namespace")
	}
}
