package load

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/chatlake/chatlake/schema"
)

// TestSweepSpill: the spill of a process that no longer exists is removed; the spill of a live
// process (this one) and unrelated directories stay.
func TestSweepSpill(t *testing.T) {
	tmp := t.TempDir()
	l, err := NewLake(newMemStore(), &Options{TempDir: tmp, StageMemory: -1}) // stages spill at once
	if err != nil {
		t.Fatal(err)
	}
	// A pid that existed and is gone: a child that has exited (and been waited for).
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	mk := func(name string) string {
		p := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Join(p, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	deadStage := mk("chatlake-stage-" + itoa(dead) + "-123")
	deadShards := mk("chatlake-merge-" + itoa(dead) + "-456")
	live, err := l.NewStage()
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if err := live.Add([]schema.Message{testMessage("2024-05-01", 1)}); err != nil || live.Dir() == "" {
		t.Fatalf("a stage that spills has no directory: %q, %v", live.Dir(), err)
	}
	other := mk("chatlake-something-" + itoa(dead) + "-1")
	unrelated := mk("not-ours")

	n, err := l.SweepSpill()
	if err != nil || n != 2 {
		t.Fatalf("swept %d, %v; want the 2 dead spills", n, err)
	}
	for _, gone := range []string{deadStage, deadShards} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("%s is still there", gone)
		}
	}
	for _, kept := range []string{live.Dir(), other, unrelated} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("%s was removed: %v", kept, err)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
