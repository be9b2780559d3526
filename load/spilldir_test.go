package load

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSweepSpillEveryKind: SweepSpill removes a dead process's spill directory of every kind
// the package makes (a kind it does not know would be left behind for ever), keeps a live
// one's, and leaves other directories alone.
func TestSweepSpillEveryKind(t *testing.T) {
	tmp := t.TempDir()
	l := &Lake{opts: Options{TempDir: tmp}}
	var want []string
	for _, kind := range spillKinds() {
		if err := os.Mkdir(filepath.Join(tmp, "chatlake-"+kind+"-1073741824-x"), 0o755); err != nil {
			t.Fatal(err)
		}
		live, err := l.SpillDir(kind)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, filepath.Base(live))
	}
	if err := os.Mkdir(filepath.Join(tmp, "other-1073741824-x"), 0o755); err != nil {
		t.Fatal(err)
	}
	want = append(want, "other-1073741824-x")
	n, err := l.SweepSpill()
	if err != nil || n != len(spillKinds()) {
		t.Fatalf("SweepSpill removed %d, %v; want the %d dead ones", n, err, len(spillKinds()))
	}
	left, _ := os.ReadDir(tmp)
	if len(left) != len(want) {
		t.Fatalf("left %v, want %v", left, want)
	}
}
