package metrics

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/common/expfmt"
)

// WriteTextfile writes r's metrics to path in the Prometheus text format, replacing the file
// atomically: they go to a temporary file in the same directory (".<base>.tmp-<random>", which
// the textfile collector ignores because it reads only "*.prom"), which is fsynced and renamed
// over path, and the directory is fsynced. A reader sees the old file or the new one, never a
// part. path should end in ".prom" for node_exporter's --collector.textfile.directory.
func WriteTextfile(path string, r Run) error {
	g, err := Gather(r)
	if err != nil {
		return err
	}
	mfs, err := g.Gather()
	if err != nil {
		return fmt.Errorf("metrics: gather: %w", err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("metrics: write %s: %w", path, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			return fmt.Errorf("metrics: encode %s: %w", mf.GetName(), err)
		}
	}
	if _, err := f.WriteString(b.String()); err != nil {
		return fmt.Errorf("metrics: write %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("metrics: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("metrics: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("metrics: write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("metrics: write %s: %w", path, err)
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("metrics: write %s: %w", path, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("metrics: write %s: sync directory: %w", path, err)
	}
	return nil
}
