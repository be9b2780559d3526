package storage_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"

	"github.com/chatlake/chatlake/load/storage"
)

// childEnv, when set to a directory, makes the test binary act as one process of
// TestLocalPutIfAcrossProcesses instead of running tests.
const childEnv = "CHATLAKE_STORAGE_TEST_CHILD_DIR"

const (
	counterName = "_state/counter"
	incsPerProc = 40
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		if err := incrementCounter(context.Background(), dir, incsPerProc); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// incrementCounter adds n to the counter object with read-modify-PutIf, retrying on
// ErrPrecondition: a lost update shows as a final count below the total.
func incrementCounter(ctx context.Context, dir string, n int) error {
	l, err := storage.NewLocal(dir)
	if err != nil {
		return err
	}
	for range n {
		for {
			b, v, err := l.Get(ctx, counterName)
			if err != nil {
				return err
			}
			c, err := strconv.Atoi(string(b))
			if err != nil {
				return err
			}
			_, err = l.PutIf(ctx, counterName, []byte(strconv.Itoa(c+1)), v)
			if err == nil {
				break
			}
			if !errors.Is(err, storage.ErrPrecondition) {
				return err
			}
		}
	}
	return nil
}

// TestLocalPutIfAcrossProcesses runs processes (this test binary, see TestMain) and goroutines
// that all increment one counter with PutIf: the flock must make them lose no update.
func TestLocalPutIfAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	l, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.PutIf(t.Context(), counterName, []byte("0"), ""); err != nil {
		t.Fatal(err)
	}
	const procs, goroutines = 3, 2
	var wg sync.WaitGroup
	for i := range procs {
		wg.Go(func() {
			cmd := exec.CommandContext(t.Context(), os.Args[0])
			cmd.Env = append(os.Environ(), childEnv+"="+dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("process %d: %v: %s", i, err, out)
			}
		})
	}
	for i := range goroutines {
		wg.Go(func() {
			if err := incrementCounter(t.Context(), dir, incsPerProc); err != nil {
				t.Errorf("goroutine %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	b, _, err := l.Get(t.Context(), counterName)
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa((procs + goroutines) * incsPerProc); string(b) != want {
		t.Fatalf("counter = %s, want %s", b, want)
	}
}
