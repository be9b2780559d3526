package storage_test

import (
	"testing"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
)

// BenchmarkWrite64MiB streams a 64 MiB object in 256 KiB writes to each backend.
func BenchmarkWrite64MiB(b *testing.B) {
	const size, chunk = 64 << 20, 256 << 10
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	_, client := storagetest.StartFakeGCS(b, "bench")
	local, err := storage.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		store storage.Store
	}{
		{"local", local},
		{"gcs-fake", storage.NewGCS(client, "bench", "lake")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				w, err := bc.store.Create(b.Context(), "dt=2024-05-01/part-00000-of-00001.parquet")
				if err != nil {
					b.Fatal(err)
				}
				for range size / chunk {
					if _, err := w.Write(buf); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
