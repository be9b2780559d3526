package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/sim"
)

// TestDemo runs `chatlake demo` as the README says, then runs the DuckDB query it prints,
// exactly as printed, and compares the lake with the simulator's truth. A second demo leaves
// the same rows and keys.
func TestDemo(t *testing.T) {
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	code, stdout, stderr := runCmd(t, "demo")
	if code != exitOK {
		t.Fatalf("demo exits %d:\n%s\n%s", code, stdout, stderr)
	}
	lake := filepath.Join(dir, "lake")
	m := regexp.MustCompile(`duckdb -c "(.*)"`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("the demo prints no DuckDB query:\n%s", stdout)
	}
	db := lakecheck.Open(t)
	rs, err := db.Query(m[1])
	if err != nil {
		t.Fatalf("the printed query fails: %v\n%s", err, m[1])
	}
	groups := 0
	for rs.Next() {
		groups++
	}
	rs.Close()
	if groups == 0 {
		t.Fatal("the printed query returns no rows")
	}

	o := sim.DefaultOptions()
	s, err := sim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := lakecheck.ReadMessages(context.Background(), db, lake)
	if err != nil {
		t.Fatal(err)
	}
	if diff := lakecheck.Compare(rows, s.Truth(nil, o.From, o.To, o.To.AddDate(1, 0, 0))); diff != "" {
		t.Fatal(diff)
	}

	code, _, stderr = runCmd(t, "demo")
	if code != exitOK {
		t.Fatalf("second demo exits %d: %s", code, stderr)
	}
	again, err := lakecheck.ReadMessages(context.Background(), db, lake)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := strings.Join(lakecheck.Keys(rows), ","), strings.Join(lakecheck.Keys(again), ","); a != b {
		t.Fatal("a second demo changed the lake's message keys")
	}
	// Every SQL block of the README and docs/schema.md runs as written (from a directory holding
	// ./lake; docs/schema.md writes the lake's path as LAKE).
	for _, doc := range []string{"README.md", "docs/schema.md"} {
		text, err := os.ReadFile(filepath.Join(repo, doc))
		if err != nil {
			t.Fatal(err)
		}
		blocks := regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(text), -1)
		if len(blocks) == 0 {
			t.Fatalf("%s has no SQL block", doc)
		}
		for _, b := range blocks {
			q := strings.ReplaceAll(b[1], "'LAKE/", "'lake/")
			rs, err := db.Query(q)
			if err != nil {
				t.Errorf("%s: the query fails: %v\n%s", doc, err, q)
				continue
			}
			n := 0
			for rs.Next() {
				n++
			}
			rs.Close()
			if n == 0 {
				t.Errorf("%s: the query returns no row on the demo lake:\n%s", doc, q)
			}
		}
	}

	code, out, _ := runCmd(t, "verify", "--lake", lake)
	if code != exitOK {
		t.Fatalf("verify of the demo lake exits %d:\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(lake, "_chatlake", "state.json")); err != nil {
		t.Fatal(err)
	}
}
