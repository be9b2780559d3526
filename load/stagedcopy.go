package load

import (
	"fmt"
	"os"
	"strings"
	"sync"
)

// stagedCopyBudget bounds the bytes of the local copies of staged parts a Lake on a remote
// store keeps (stagedCopies); a part past it is not copied and is read from the store.
const stagedCopyBudget = 256 << 20

// stagedCopies are local copies of the staged parts this process wrote to a remote store, so
// that its own publisher reads them from disk instead of the store: on a cloud store each part
// would be downloaded again right after it was uploaded. A copy is written beside the upload
// (the same bytes, tee'd) and kept only when the upload committed; the parts are immutable
// once written, so the copy stays exact. Copies go with their plan (forgetRun) and with the
// Lake (Close); a killed process leaves them to SweepSpill. Safe for concurrent use.
type stagedCopies struct {
	tempDir string
	budget  int64 // stagedCopyBudget; tests make it smaller

	mu    sync.Mutex
	dir   string            // created on first use
	bytes int64             // of the kept copies, and of those being written
	paths map[string]string // staged part name -> local copy
	sizes map[string]int64
}

// create returns a new local file for part name's copy, or nil when the copies are at their
// budget (the copies being written may pass it by a part each). The caller keeps it (keep) or
// drops it (drop).
func (c *stagedCopies) create(name string) (*os.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bytes >= c.budget {
		return nil, nil
	}
	if c.dir == "" {
		dir, err := os.MkdirTemp(c.tempDir, spillPrefix("copy"))
		if err != nil {
			return nil, fmt.Errorf("staged copies: %w", err)
		}
		c.dir = dir
		c.paths, c.sizes = map[string]string{}, map[string]int64{}
	}
	f, err := os.CreateTemp(c.dir, "part-*.arrow")
	if err != nil {
		return nil, fmt.Errorf("staged copy of %s: %w", name, err)
	}
	return f, nil
}

// keep closes f, the copy of part name (n bytes), and records it; on an error the copy is
// dropped.
func (c *stagedCopies) keep(name string, f *os.File, n int64) error {
	if err := f.Close(); err != nil {
		c.drop(f)
		return fmt.Errorf("staged copy of %s: %w", name, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bytes += n
	c.paths[name], c.sizes[name] = f.Name(), n
	return nil
}

// drop removes f, a copy create made that is not kept.
func (c *stagedCopies) drop(f *os.File) {
	_ = f.Close()
	_ = os.Remove(f.Name())
}

// path is the local copy of part name holding its n bytes, if this process kept one.
func (c *stagedCopies) path(name string, n int64) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.paths[name]
	return p, ok && c.sizes[name] == n
}

// forget removes the copies of the parts whose names begin with prefix.
func (c *stagedCopies) forget(prefix string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, p := range c.paths {
		if strings.HasPrefix(name, prefix) {
			_ = os.Remove(p)
			c.bytes -= c.sizes[name]
			delete(c.paths, name)
			delete(c.sizes, name)
		}
	}
}

// close removes every copy and their directory.
func (c *stagedCopies) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir == "" {
		return nil
	}
	err := os.RemoveAll(c.dir)
	c.dir, c.bytes, c.paths, c.sizes = "", 0, nil, nil
	if err != nil {
		return fmt.Errorf("staged copies: %w", err)
	}
	return nil
}
