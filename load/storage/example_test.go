package storage_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/chatlake/chatlake/load/storage"
)

func ExampleOpen() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "lake")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	s, err := storage.Open(ctx, "file://"+dir, nil) // or "gs://bucket/prefix"
	if err != nil {
		fmt.Println(err)
		return
	}
	// A streaming write: visible whole at Close, or not at all.
	w, err := s.Create(ctx, "messages/dt=2024-05-01/part-00000-of-00001.parquet")
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := w.Write([]byte("PAR1...")); err != nil {
		w.Abort()
		fmt.Println(err)
		return
	}
	if err := w.Close(); err != nil {
		fmt.Println(err)
		return
	}
	// A conditional write of a small state object.
	v, err := s.PutIf(ctx, "_state/watermark.json", []byte(`{"end":"2024-05-02"}`), "")
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = s.PutIf(ctx, "_state/watermark.json", []byte(`{"end":"2024-05-03"}`), "")
	fmt.Println("second create:", errors.Is(err, storage.ErrPrecondition))
	if _, err := s.PutIf(ctx, "_state/watermark.json", []byte(`{"end":"2024-05-03"}`), v); err != nil {
		fmt.Println(err)
		return
	}

	objs, err := s.List(ctx, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range objs {
		fmt.Println(o.Name, o.Size)
	}
	// Output:
	// second create: true
	// _state/watermark.json 20
	// messages/dt=2024-05-01/part-00000-of-00001.parquet 7
}
