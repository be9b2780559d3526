package storage_test

import (
	"io"
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
	for _, bc := range benchStores(b) {
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

type benchStore struct {
	name  string
	store storage.Store
}

// benchStores are a store of each backend: local, fake-gcs-server, Azurite.
func benchStores(b *testing.B) []benchStore {
	_, client := storagetest.StartFakeGCS(b, "bench")
	_, az := storagetest.StartAzurite(b, "bench")
	local, err := storage.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	return []benchStore{
		{"local", local},
		{"gcs-fake", storage.NewGCS(client, "bench", "lake")},
		{"azurite", storage.NewAzure(az, "bench", "lake")},
	}
}

// BenchmarkOpenRange4KiB reads 4 KiB ranges of a 4 MiB object, as publishing reads a day's rows
// of each staged batch: the cost of one small ranged request on each backend.
func BenchmarkOpenRange4KiB(b *testing.B) {
	const size, n = 4 << 20, 4 << 10
	data := make([]byte, size)
	for _, bc := range benchStores(b) {
		b.Run(bc.name, func(b *testing.B) {
			w, err := bc.store.Create(b.Context(), "staged/batch.arrow")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := w.Write(data); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(n)
			i := int64(0)
			for b.Loop() {
				r, err := bc.store.OpenRange(b.Context(), "staged/batch.arrow", (i*n)%size, n)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
				r.Close()
				i++
			}
		})
	}
}
