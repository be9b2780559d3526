package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatlake/chatlake/load/storage"
)

// TestLocalSweepTemporary: the temporary files of writes that never closed (a killed process)
// are removed once old enough; objects, the lock file and young temporaries stay.
func TestLocalSweepTemporary(t *testing.T) {
	dir := t.TempDir()
	s, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.PutIf(ctx, "state.json", []byte("{}"), ""); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"messages/dt=2024-05-01/part-00000-of-00001.parquet", "messages/dt=2024-05-02/part-00000-of-00001.parquet"} {
		w, err := s.Create(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("half a file")); err != nil {
			t.Fatal(err)
		}
		// never closed: the process "died"
	}
	temps, _ := filepath.Glob(filepath.Join(dir, "messages", "dt=*", ".*.tmp-*"))
	if len(temps) != 2 {
		t.Fatalf("found %d temporary files, want 2: the test sets nothing up", len(temps))
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(temps[0], old, old); err != nil {
		t.Fatal(err)
	}
	n, err := s.SweepTemporary(ctx, time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("swept %d, %v; want the one old temporary", n, err)
	}
	if _, err := os.Stat(temps[0]); !os.IsNotExist(err) {
		t.Fatalf("the old temporary is still there: %v", err)
	}
	if _, err := os.Stat(temps[1]); err != nil {
		t.Fatalf("the young temporary was removed: %v", err)
	}
	if _, _, err := s.Get(ctx, "state.json"); err != nil {
		t.Fatalf("an object was swept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".chatlake-storage.lock")); err != nil {
		t.Fatalf("the lock file was swept: %v", err)
	}
}
