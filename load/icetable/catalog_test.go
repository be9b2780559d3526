package icetable_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatlake/chatlake/load/icetable"
)

func TestOpenRefusesOtherSchemesWithoutShowingSecrets(t *testing.T) {
	const secret = "hunter2-s3cr3t"
	cases := []struct {
		name, uri, scheme string
	}{
		{"jdbc", "jdbc:postgresql://db.example/lake?user=chat&password=" + secret, "jdbc"},
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

// CheckURI accepts what Open would try, refuses the rest, and never shows a password.
func TestCheckURI(t *testing.T) {
	const secret = "hunter2-s3cr3t"
	cases := []struct {
		uri string
		ok  bool
	}{
		{"sqlite:/var/lake/catalog.db", true},
		{"sqlite:relative/catalog.db", true},
		{"sqlite:///abs/catalog.db", true},
		{"postgres://chat:" + secret + "@db.example:5432/lake?sslmode=require", true},
		{"postgresql://chat@db.example/lake", true},
		{"glue:", true},
		{"glue://", true},
		{"glue://123456789012", true},
		{"glue://12345678901", false},
		{"glue://123456789012/chatlake", false},
		{"glue://AKIAEXAMPLE:" + secret + "@123456789012", false},
		{"glue:" + secret, false},
		{"sqlite:", false},
		{"sqlite:cat.db?mode=ro", false},
		{"postgres://chat:" + secret + "@db.example:port/lake", false},
		{"postgres://chat@db.example/lake?password=" + secret + "&sslmode=bogus", false},
		{"https://" + secret + "@polaris.example/api", false},
		{secret, false},
	}
	for _, tc := range cases {
		err := icetable.CheckURI(tc.uri)
		if (err == nil) != tc.ok {
			t.Errorf("CheckURI(%q) = %v, want ok=%v", tc.uri, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("CheckURI(%q) shows the secret: %v", tc.uri, err)
		}
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

// A PostgreSQL catalog whose connection fails: the error names the catalog, not the password.
func TestOpenPostgresErrorsHideThePassword(t *testing.T) {
	srv := postgres(t)
	wrong := "wrong-" + srv.password
	cases := []struct{ name, uri string }{
		{"wrong password", strings.Replace(srv.uri, srv.password, wrong, 1)},
		{"password in the query", strings.Replace(strings.Replace(srv.uri, ":"+srv.password+"@", "@", 1), "?", "?password="+wrong+"&", 1)},
		{"no server on the socket", strings.Replace(srv.uri, "port=54329", "port=54328", 1)},
		{"no such database", strings.Replace(srv.uri, "/postgres?", "/nosuchdb?", 1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := icetable.Open(ctx, icetable.Config{URI: tc.uri, Logger: quietLogger()})
			if err == nil {
				c.Close()
				t.Fatal("Open succeeded")
			}
			for _, secret := range []string{srv.password, wrong} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows the password: %v", err)
				}
			}
			if !strings.Contains(err.Error(), "postgres://") {
				t.Errorf("error does not name the catalog: %v", err)
			}
		})
	}
	// The right password opens it.
	c, err := icetable.Open(context.Background(), icetable.Config{URI: srv.uri, Namespace: "opened", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// A ReadOnly catalog creates nothing: a missing SQLite file, namespace or table is ErrNotFound;
// an existing table opens.
func TestReadOnlyCreatesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "catalog.db")
	ro := icetable.Config{URI: "sqlite:" + path, Logger: quietLogger(), ReadOnly: true}
	if _, err := icetable.Open(ctx, ro); !errors.Is(err, icetable.ErrNotFound) {
		t.Fatalf("read-only Open of a missing file = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read-only Open created %s (%v)", filepath.Dir(path), err)
	}
	l := newLake(t)
	l.catalog = "sqlite:" + path
	l.table(t, l.open(t), "messages") // creates the catalog, its namespace and the table
	for _, ns := range []string{"", "other"} {
		c, err := icetable.Open(ctx, icetable.Config{URI: l.catalog, Namespace: ns, Logger: quietLogger(), ReadOnly: true})
		if ns == "other" {
			if !errors.Is(err, icetable.ErrNotFound) {
				t.Fatalf("read-only Open of a missing namespace = %v, want ErrNotFound", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Table(ctx, "messages", l.location("messages"), fieldSchema(t), "sent_at"); err != nil {
			t.Fatalf("read-only Table of an existing table: %v", err)
		}
		if _, err := c.Table(ctx, "other", l.location("other"), fieldSchema(t), "sent_at"); !errors.Is(err, icetable.ErrNotFound) {
			t.Fatalf("read-only Table of a missing table = %v, want ErrNotFound", err)
		}
	}
}

// Identity keeps what names the catalog and drops its secrets.
func TestIdentity(t *testing.T) {
	const secret = "hunter2-s3cr3t"
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ uri, want string }{
		{"sqlite:/var/lake/./catalog.db", "sqlite:/var/lake/catalog.db"},
		{"sqlite:///var/lake/catalog.db", "sqlite:/var/lake/catalog.db"},
		{"sqlite:rel/catalog.db", "sqlite:" + filepath.Join(wd, "rel", "catalog.db")},
		{"postgres://chat:" + secret + "@db.example:5432/lake?sslmode=require", "postgres://chat@db.example:5432/lake?sslmode=require"},
		{"postgresql://chat@db.example:5432/lake?password=" + secret + "&sslmode=require", "postgres://chat@db.example:5432/lake?sslmode=require"},
		{"glue:", "glue:"},
		{"glue://123456789012", "glue://123456789012"},
	} {
		got := icetable.Identity(tc.uri)
		if got != tc.want {
			t.Errorf("Identity(%q) = %q, want %q", tc.uri, got, tc.want)
		}
		if strings.Contains(got, secret) {
			t.Errorf("Identity(%q) shows the secret", tc.uri)
		}
	}
}
