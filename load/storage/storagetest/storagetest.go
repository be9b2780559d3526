package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatlake/chatlake/load/storage"
)

// Run runs the conformance suite. newStore returns a new, empty store for each subtest.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"WriteRead", testWriteRead},
		{"Overwrite", testOverwrite},
		{"VersionConsistent", testVersionConsistent},
		{"ReadWhileOverwrite", testReadWhileOverwrite},
		{"Abort", testAbort},
		{"CancelledContext", testCancelledContext},
		{"AbandonedWriter", testAbandonedWriter},
		{"List", testList},
		{"Missing", testMissing},
		{"DeleteAll", testDeleteAll},
		{"OpenRange", testOpenRange},
		{"ListPage", testListPage},
		{"PutIf", testPutIf},
		{"PutIfRace", testPutIfRace},
		{"DeleteIf", testDeleteIf},
		{"Move", testMove},
		{"BadNames", testBadNames},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// content is n deterministic bytes that differ with seed and with position, so that a mix of
// two versions or a shifted read is detected.
func content(seed byte, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// write writes data to name through Create in writes of at most chunk bytes and closes.
func write(t *testing.T, s storage.Store, name string, data []byte, chunk int) {
	t.Helper()
	w, err := s.Create(t.Context(), name)
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	writeChunks(t, w, data, chunk)
	if err := w.Close(); err != nil {
		t.Fatalf("Close(%q): %v", name, err)
	}
}

func writeChunks(t *testing.T, w storage.Writer, data []byte, chunk int) {
	t.Helper()
	for len(data) > 0 {
		n := min(chunk, len(data))
		if _, err := w.Write(data[:n]); err != nil {
			t.Fatalf("Write: %v", err)
		}
		data = data[n:]
	}
}

// read reads name through Open.
func read(t *testing.T, s storage.Store, name string) []byte {
	t.Helper()
	r, err := s.Open(t.Context(), name)
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %q: %v", name, err)
	}
	return b
}

// mustHave checks that name holds exactly want, through Open, Get and Stat.
func mustHave(t *testing.T, s storage.Store, name string, want []byte) {
	t.Helper()
	if got := read(t, s, name); !bytes.Equal(got, want) {
		t.Fatalf("Open(%q): got %d bytes (%s), want %d bytes (%s)", name, len(got), head(got), len(want), head(want))
	}
	got, _, err := s.Get(t.Context(), name)
	if err != nil {
		t.Fatalf("Get(%q): %v", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q): got %d bytes (%s), want %d bytes (%s)", name, len(got), head(got), len(want), head(want))
	}
	o, err := s.Stat(t.Context(), name)
	if err != nil {
		t.Fatalf("Stat(%q): %v", name, err)
	}
	if o.Name != name || o.Size != int64(len(want)) || o.Version == "" || o.Updated.IsZero() {
		t.Fatalf("Stat(%q) = %+v, want name %q, size %d, a version and a time", name, o, name, len(want))
	}
}

// mustNotExist checks that Stat, Open and Get of name give ErrNotExist.
func mustNotExist(t *testing.T, s storage.Store, name string) {
	t.Helper()
	if o, err := s.Stat(t.Context(), name); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("Stat(%q) = %+v, %v; want ErrNotExist", name, o, err)
	}
	if r, err := s.Open(t.Context(), name); !errors.Is(err, storage.ErrNotExist) {
		if err == nil {
			r.Close()
		}
		t.Fatalf("Open(%q) error = %v; want ErrNotExist", name, err)
	}
	if _, _, err := s.Get(t.Context(), name); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("Get(%q) error = %v; want ErrNotExist", name, err)
	}
}

func head(b []byte) string {
	if len(b) > 8 {
		b = b[:8]
	}
	return fmt.Sprintf("%x...", b)
}

// names lists the names below prefix.
func names(t *testing.T, s storage.Store, prefix string) []string {
	t.Helper()
	objs, err := s.List(t.Context(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.Name)
	}
	return out
}

func testWriteRead(t *testing.T, s storage.Store) {
	for _, tc := range []struct {
		name  string
		size  int
		chunk int
	}{
		{"small.json", 11, 100},
		{"empty.bin", 0, 1},
		{"dt=2024-05-01/part-00000-of-00001.parquet", 5<<20 + 17, 4093}, // many small writes
		{"a/b/c/d/nested.txt", 1000, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := content(byte(tc.size), tc.size)
			write(t, s, tc.name, data, tc.chunk)
			mustHave(t, s, tc.name, data)
		})
	}
}

func testOverwrite(t *testing.T, s storage.Store) {
	const name = "dt=2024-05-01/part-00000-of-00001.parquet"
	a, b := content(1, 300_000), content(2, 1000)
	write(t, s, name, a, 1<<16)
	v1, err := s.Stat(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, name, b, 1<<16)
	mustHave(t, s, name, b)
	v2, err := s.Stat(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	if v1.Version == v2.Version {
		t.Fatalf("version %q unchanged by an overwrite", v1.Version)
	}
	if got := names(t, s, ""); !slices.Equal(got, []string{name}) {
		t.Fatalf("List = %q, want only %q", got, name)
	}
}

func testVersionConsistent(t *testing.T, s storage.Store) {
	const name = "state/watermark.json"
	seen := map[string]bool{}
	for i := range 3 {
		data := content(byte(i), 100) // same size every time
		write(t, s, name, data, 100)
		st, err := s.Stat(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := s.List(t.Context(), "state/")
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) != 1 {
			t.Fatalf("List(state/) = %+v, want one object", objs)
		}
		got, gv, err := s.Get(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("Get: wrong content")
		}
		if st.Version != objs[0].Version || st.Version != gv {
			t.Fatalf("write %d: versions differ: Stat %q, List %q, Get %q", i, st.Version, objs[0].Version, gv)
		}
		if seen[gv] {
			t.Fatalf("write %d: version %q repeats an earlier write's", i, gv)
		}
		seen[gv] = true
	}
}

func testReadWhileOverwrite(t *testing.T, s storage.Store) {
	const name = "dt=2024-05-01/part-00000-of-00001.parquet"
	a := bytes.Repeat([]byte("A"), 1<<20)
	b := bytes.Repeat([]byte("B"), 3<<19)
	write(t, s, name, a, 1<<16)

	const rewrites = 16
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for i := range rewrites {
			data := a
			if i%2 == 0 {
				data = b
			}
			if err := overwrite(ctx, s, name, data); err != nil {
				if ctx.Err() == nil {
					t.Errorf("rewrite %d: %v", i, err)
				}
				return
			}
		}
	})
	reads, sawA, sawB, failure := 0, false, false, ""
	for finished := false; !finished && failure == ""; {
		select {
		case <-done:
			finished = true // one more read after the last write
		default:
		}
		got, err := readBoth(ctx, s, name, reads%2 == 0)
		reads++
		switch {
		case err != nil:
			failure = fmt.Sprintf("read %d: %v", reads, err)
		case bytes.Equal(got, a):
			sawA = true
		case bytes.Equal(got, b):
			sawB = true
		default:
			failure = fmt.Sprintf("read %d: %d bytes, %d A and %d B: neither version whole",
				reads, len(got), bytes.Count(got, []byte("A")), bytes.Count(got, []byte("B")))
		}
	}
	cancel() // stops the writer early if a read failed
	wg.Wait()
	if failure != "" {
		t.Fatal(failure)
	}
	t.Logf("%d reads during %d rewrites, saw A %v, B %v", reads, rewrites, sawA, sawB)
	if reads < 2 || !sawA {
		t.Fatalf("%d reads, saw A %v, B %v: want at least two reads including the first version", reads, sawA, sawB)
	}
	// rewrites is even, so the last write wrote a.
	mustHave(t, s, name, a)
}

// overwrite writes data to name in 32 KiB writes, without touching t (it runs in a goroutine).
func overwrite(ctx context.Context, s storage.Store, name string, data []byte) error {
	w, err := s.Create(ctx, name)
	if err != nil {
		return err
	}
	for p := data; len(p) > 0; {
		n := min(len(p), 1<<15)
		if _, err := w.Write(p[:n]); err != nil {
			w.Abort()
			return err
		}
		p = p[n:]
	}
	return w.Close()
}

// readBoth reads name whole through Open or, if !open, through Get.
func readBoth(ctx context.Context, s storage.Store, name string, open bool) ([]byte, error) {
	if !open {
		b, _, err := s.Get(ctx, name)
		return b, err
	}
	r, err := s.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func testAbort(t *testing.T, s storage.Store) {
	t.Run("existing", func(t *testing.T) {
		const name = "dt=2024-05-01/part-00000-of-00001.parquet"
		old := content(1, 5000)
		write(t, s, name, old, 1000)
		w, err := s.Create(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		writeChunks(t, w, content(2, 3<<20), 1<<16)
		if err := w.Abort(); err != nil {
			t.Fatalf("Abort: %v", err)
		}
		if err := w.Abort(); err != nil {
			t.Fatalf("second Abort: %v", err)
		}
		if err := w.Close(); err == nil {
			t.Fatal("Close after Abort succeeded")
		}
		mustHave(t, s, name, old)
		if got := names(t, s, ""); !slices.Equal(got, []string{name}) {
			t.Fatalf("List = %q, want only %q", got, name)
		}
	})
	t.Run("new", func(t *testing.T) {
		const name = "dt=2024-05-02/part-00000-of-00001.parquet"
		w, err := s.Create(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		writeChunks(t, w, content(3, 1<<20), 1<<16)
		if err := w.Abort(); err != nil {
			t.Fatalf("Abort: %v", err)
		}
		mustNotExist(t, s, name)
		if got := names(t, s, "dt=2024-05-02/"); len(got) != 0 {
			t.Fatalf("List = %q, want nothing", got)
		}
	})
}

func testCancelledContext(t *testing.T, s storage.Store) {
	for _, tc := range []struct {
		name     string
		previous []byte // nil: no object before
	}{
		{"dt=2024-05-01/part-00000-of-00001.parquet", content(1, 4000)},
		{"dt=2024-05-02/part-00000-of-00001.parquet", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.previous != nil {
				write(t, s, tc.name, tc.previous, 1000)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			w, err := s.Create(ctx, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			writeChunks(t, w, content(2, 2<<20), 1<<16)
			cancel()
			// Writes after the cancellation may or may not report it; Close must.
			for range 4 {
				if _, err := w.Write(content(4, 1<<16)); err != nil {
					break
				}
			}
			if err := w.Close(); err == nil {
				t.Fatal("Close after cancel succeeded")
			}
			if tc.previous != nil {
				mustHave(t, s, tc.name, tc.previous)
			} else {
				mustNotExist(t, s, tc.name)
			}
			want := []string{}
			if tc.previous != nil {
				want = []string{tc.name}
			}
			if got := names(t, s, tc.name); !slices.Equal(got, want) {
				t.Fatalf("List = %q, want %q", got, want)
			}
		})
	}
}

func testAbandonedWriter(t *testing.T, s storage.Store) {
	const kept = "dt=2024-05-01/part-00000-of-00002.parquet"
	const name = "dt=2024-05-01/part-00001-of-00002.parquet"
	write(t, s, kept, content(1, 100), 100)
	before := names(t, s, "")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel() // what a dying process's cleanup amounts to; the checks come before it
	w, err := s.Create(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	writeChunks(t, w, content(2, 12<<20), 1<<16) // more than one upload chunk; never closed

	if got := names(t, s, ""); !slices.Equal(got, before) {
		t.Fatalf("List with an unfinished write = %q, want %q", got, before)
	}
	if got := names(t, s, "dt=2024-05-01/part-00001"); len(got) != 0 {
		t.Fatalf("List(prefix of the unfinished write) = %q, want nothing", got)
	}
	mustNotExist(t, s, name)
	mustHave(t, s, kept, content(1, 100))
}

func testList(t *testing.T, s storage.Store) {
	all := []string{
		"a.txt",
		"dt=2024-05-01/part-00000-of-00002.parquet",
		"dt=2024-05-01/part-00001-of-00002.parquet",
		"dt=2024-05-01/sub/deeper/x.json",
		"dt=2024-05-02/part-00000-of-00001.parquet",
		"dt=2024-05-10/part-00000-of-00001.parquet",
		"dtx",
		"z/y/x/w.bin",
	}
	// Written out of order, each with its own size.
	for _, i := range []int{5, 2, 7, 0, 3, 6, 1, 4} {
		write(t, s, all[i], content(byte(i), 10+i), 64)
	}
	// A pending write must not show, in a listed directory or at the root.
	for _, p := range []string{"dt=2024-05-01/part-00002-of-00002.parquet", "pending.parquet"} {
		w, err := s.Create(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		writeChunks(t, w, content(9, 1<<20), 1<<16)
		defer w.Abort()
	}

	objs, err := s.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != len(all) {
		t.Fatalf("List(\"\") = %d objects %+v, want %d", len(objs), objs, len(all))
	}
	for i, o := range objs {
		if o.Name != all[i] || o.Size != int64(10+i) || o.Version == "" || o.Updated.IsZero() {
			t.Errorf("List(\"\")[%d] = %+v, want name %q size %d with version and time", i, o, all[i], 10+i)
		}
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"dt=2024-05-0", all[1:5]},
		{"dt=2024-05-01/", all[1:4]},
		{"dt=2024-05-01/part-", all[1:3]},
		{"dt=2024-05-01/sub", all[3:4]},
		{"dt=2024-05-1", all[5:6]},
		{"dt", all[1:7]},
		{"z/y/", all[7:8]},
		{"a", all[0:1]},
		{"nothing/", []string{}},
		{"dt=2024-06", []string{}},
		{"a.txt/", []string{}},  // an object is not a directory
		{"dtx/y/z", []string{}}, // nor below one
		{"nothing/at/all/", []string{}},
	} {
		if got := names(t, s, tc.prefix); !slices.Equal(got, tc.want) {
			t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
	}
}

func testMissing(t *testing.T, s storage.Store) {
	mustNotExist(t, s, "nope.parquet")
	mustNotExist(t, s, "dt=2024-05-01/nope.parquet")
	if err := s.Delete(t.Context(), "nope.parquet"); err != nil {
		t.Fatalf("Delete(missing) = %v, want nil", err)
	}
	write(t, s, "dt=2024-05-01/x.parquet", content(1, 10), 10)
	mustNotExist(t, s, "dt=2024-05-01") // a "directory" is not an object
	if err := s.Delete(t.Context(), "dt=2024-05-01/x.parquet"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustNotExist(t, s, "dt=2024-05-01/x.parquet")
	if got := names(t, s, ""); len(got) != 0 {
		t.Fatalf("List after Delete = %q, want nothing", got)
	}
}

// testDeleteAll: storage.DeleteAll removes every name given, more than a page of them, takes
// names that are missing, and leaves every other object.
func testDeleteAll(t *testing.T, s storage.Store) {
	var gone []string
	for i := range storage.ListPageSize + 5 {
		name := fmt.Sprintf("runs/p/batch-%06d.json", i)
		if i%10 == 0 || i == storage.ListPageSize+4 { // the others are never written
			write(t, s, name, content(byte(i), 3), 3)
		}
		gone = append(gone, name)
	}
	write(t, s, "runs/q/keep.json", content(1, 5), 5)
	write(t, s, "runs/p-keep.json", content(2, 5), 5)
	if err := storage.DeleteAll(t.Context(), s, gone, 16); err != nil {
		t.Fatalf("DeleteAll: %v", err)
	}
	if got, want := names(t, s, ""), []string{"runs/p-keep.json", "runs/q/keep.json"}; !slices.Equal(got, want) {
		t.Fatalf("after DeleteAll: %d objects (first %q), want %q", len(got), got[:min(len(got), 3)], want)
	}
}

func testOpenRange(t *testing.T, s storage.Store) {
	data := content(7, 3<<20+17) // more than one buffer of any reader
	write(t, s, "staged/batch-000001.arrow", data, 1<<20)
	size := int64(len(data))
	for _, tc := range []struct{ off, n int64 }{
		{0, 1}, {0, size}, {1, 10}, {size - 1, 1}, {1 << 20, 2 << 20}, {size / 3, 12345},
		{size - 5, 100}, // cut at the end
		{size, 0}, {size, 10}, {0, 0}, {17, 0},
	} {
		r, err := s.OpenRange(t.Context(), "staged/batch-000001.arrow", tc.off, tc.n)
		if err != nil {
			t.Fatalf("OpenRange(%d, %d): %v", tc.off, tc.n, err)
		}
		got, err := io.ReadAll(r)
		if cerr := r.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatalf("OpenRange(%d, %d): read: %v", tc.off, tc.n, err)
		}
		end := min(tc.off+tc.n, size)
		if want := data[tc.off:end]; !bytes.Equal(got, want) {
			t.Fatalf("OpenRange(%d, %d) = %d bytes %s, want %d bytes %s", tc.off, tc.n, len(got), head(got), len(want), head(want))
		}
	}
	for _, tc := range []struct{ off, n int64 }{{-1, 10}, {0, -1}} {
		if _, err := s.OpenRange(t.Context(), "staged/batch-000001.arrow", tc.off, tc.n); !errors.Is(err, storage.ErrBadRange) {
			t.Fatalf("OpenRange(%d, %d) = %v, want ErrBadRange", tc.off, tc.n, err)
		}
	}
	if _, err := s.OpenRange(t.Context(), "staged/nope.arrow", 0, 10); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("OpenRange(missing) = %v, want ErrNotExist", err)
	}
}

func testListPage(t *testing.T, s storage.Store) {
	ctx := t.Context()
	var want []string
	for i := range 23 {
		name := fmt.Sprintf("runs/p%02d/plan.json", i)
		if i%3 == 0 {
			name = fmt.Sprintf("runs/p%02d/staged/batch-000000-000.arrow", i)
		}
		write(t, s, name, content(byte(i), 10), 10)
		want = append(want, name)
	}
	write(t, s, "runsx/other.json", content(1, 3), 3)
	write(t, s, "a.json", content(2, 3), 3)
	slices.Sort(want)
	for _, size := range []int{1, 5, 23, 24, 1000} {
		var got []string
		after, pages := "", 0
		for {
			objs, next, err := s.ListPage(ctx, "runs/", after, size)
			if err != nil {
				t.Fatalf("ListPage(size %d, after %q): %v", size, after, err)
			}
			if len(objs) > size {
				t.Fatalf("ListPage(size %d) = %d objects", size, len(objs))
			}
			for _, o := range objs {
				got = append(got, o.Name)
			}
			pages++
			if next == "" {
				break
			}
			if next != objs[len(objs)-1].Name {
				t.Fatalf("ListPage(size %d): next %q, want the page's last name", size, next)
			}
			after = next
			if pages > len(want)+1 {
				t.Fatalf("ListPage(size %d) does not end", size)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("pages of %d: %q, want %q", size, got, want)
		}
	}
	// Deleting what a page returned does not disturb the next page.
	var got []string
	err := storage.Walk(ctx, s, "runs/", func(objs []storage.Object) error {
		for _, o := range objs {
			got = append(got, o.Name)
			if err := s.Delete(ctx, o.Name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Walk deleting: %q, want %q", got, want)
	}
	if left := names(t, s, "runs/"); len(left) != 0 {
		t.Fatalf("left after Walk deleted every object: %q", left)
	}
	if _, _, err := s.ListPage(ctx, "runs/", "", 0); !errors.Is(err, storage.ErrBadRange) {
		t.Fatalf("ListPage(size 0) = %v, want ErrBadRange", err)
	}
}

func testPutIf(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const name = "_state/lock.json"
	v1, err := s.PutIf(ctx, name, []byte("one"), "")
	if err != nil {
		t.Fatalf("PutIf create: %v", err)
	}
	if v1 == "" {
		t.Fatal("PutIf returned an empty version")
	}
	if _, err := s.PutIf(ctx, name, []byte("two"), ""); !errors.Is(err, storage.ErrPrecondition) {
		t.Fatalf("PutIf create over an existing object = %v, want ErrPrecondition", err)
	}
	mustHave(t, s, name, []byte("one"))
	if _, gv, _ := s.Get(ctx, name); gv != v1 {
		t.Fatalf("Get version %q, PutIf returned %q", gv, v1)
	}

	v2, err := s.PutIf(ctx, name, []byte("three"), v1)
	if err != nil {
		t.Fatalf("PutIf with the current version: %v", err)
	}
	if v2 == v1 || v2 == "" {
		t.Fatalf("PutIf returned version %q after %q, want a new one", v2, v1)
	}
	mustHave(t, s, name, []byte("three"))
	if st, _ := s.Stat(ctx, name); st.Version != v2 {
		t.Fatalf("Stat version %q, PutIf returned %q", st.Version, v2)
	}

	for _, stale := range []string{v1, "garbage", "0"} {
		if _, err := s.PutIf(ctx, name, []byte("four"), stale); !errors.Is(err, storage.ErrPrecondition) {
			t.Fatalf("PutIf with version %q = %v, want ErrPrecondition", stale, err)
		}
	}
	mustHave(t, s, name, []byte("three"))

	// A version of another object, or of a deleted one, does not match a missing object.
	if err := s.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutIf(ctx, name, []byte("five"), v2); !errors.Is(err, storage.ErrPrecondition) {
		t.Fatalf("PutIf of a deleted object with its old version = %v, want ErrPrecondition", err)
	}
	mustNotExist(t, s, name)
}

func testPutIfRace(t *testing.T, s storage.Store) {
	const n = 8
	for _, tc := range []struct {
		name   string
		create bool // race from "" (create-only) rather than from an existing version
	}{
		{"_state/race-update.json", false},
		{"_state/race-create.json", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := ""
			if !tc.create {
				v, err := s.PutIf(t.Context(), tc.name, []byte("base"), "")
				if err != nil {
					t.Fatal(err)
				}
				from = v
			}
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				winners  []int
				versions []string
			)
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					v, err := s.PutIf(t.Context(), tc.name, fmt.Appendf(nil, "writer %d", i), from)
					switch {
					case err == nil:
						mu.Lock()
						winners = append(winners, i)
						versions = append(versions, v)
						mu.Unlock()
					case !errors.Is(err, storage.ErrPrecondition):
						t.Errorf("writer %d: %v, want nil or ErrPrecondition", i, err)
					}
				})
			}
			close(start)
			wg.Wait()
			if len(winners) != 1 {
				t.Fatalf("winners %v, want exactly one", winners)
			}
			got, v, err := s.Get(t.Context(), tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("writer %d", winners[0]); string(got) != want || v != versions[0] {
				t.Fatalf("object holds %q version %q, want %q version %q", got, v, want, versions[0])
			}
		})
	}
}

func testDeleteIf(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const name = "_state/run.lock"
	v1, err := s.PutIf(ctx, name, []byte("one"), "")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := s.PutIf(ctx, name, []byte("two"), v1)
	if err != nil {
		t.Fatal(err)
	}
	for _, stale := range []string{v1, "garbage", ""} {
		if err := s.DeleteIf(ctx, name, stale); !errors.Is(err, storage.ErrPrecondition) {
			t.Fatalf("DeleteIf with version %q = %v, want ErrPrecondition", stale, err)
		}
		mustHave(t, s, name, []byte("two"))
	}
	if err := s.DeleteIf(ctx, name, v2); err != nil {
		t.Fatalf("DeleteIf with the current version: %v", err)
	}
	mustNotExist(t, s, name)
	if err := s.DeleteIf(ctx, name, v2); !errors.Is(err, storage.ErrPrecondition) {
		t.Fatalf("DeleteIf of a deleted object = %v, want ErrPrecondition", err)
	}
}

func testMove(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const (
		src = "_staging/run-1/dt=2024-05-01/part-00000-of-00001.parquet"
		dst = "dt=2024-05-01/part-00000-of-00001.parquet"
	)
	write(t, s, dst, content(1, 5000), 1000)
	data := content(2, 70_000)
	write(t, s, src, data, 1000)
	moved, err := s.Move(ctx, src, dst)
	if err != nil {
		t.Fatalf("Move: %v", err)
	}
	checkMoved(t, s, moved, dst)
	mustHave(t, s, dst, data)
	mustNotExist(t, s, src)
	if got := names(t, s, ""); !slices.Equal(got, []string{dst}) {
		t.Fatalf("List after Move = %q, want %q", got, []string{dst})
	}

	// Into a directory that does not exist yet.
	const dst2 = "dt=2024-05-02/sub/moved.parquet"
	moved, err = s.Move(ctx, dst, dst2)
	if err != nil {
		t.Fatalf("Move to a new directory: %v", err)
	}
	checkMoved(t, s, moved, dst2)
	mustHave(t, s, dst2, data)
	mustNotExist(t, s, dst)

	if _, err := s.Move(ctx, "missing.parquet", dst); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("Move of a missing source = %v, want ErrNotExist", err)
	}
	mustNotExist(t, s, dst)
}

// checkMoved: what Move returned describes dst as Stat and List do: its name, size and version,
// and its time to the second (an HTTP date has no fraction).
func checkMoved(t *testing.T, s storage.Store, moved storage.Object, dst string) {
	t.Helper()
	st, err := s.Stat(t.Context(), dst)
	if err != nil {
		t.Fatal(err)
	}
	if moved.Name != st.Name || moved.Size != st.Size || moved.Version != st.Version {
		t.Errorf("Move returned %+v; Stat of %s gives %+v", moved, dst, st)
	}
	if d := moved.Updated.Sub(st.Updated); d < -time.Second || d > time.Second {
		t.Errorf("Move returned the time %s; Stat of %s gives %s", moved.Updated, dst, st.Updated)
	}
	listed, err := s.List(t.Context(), dst)
	if err != nil || len(listed) != 1 || listed[0].Version != moved.Version {
		t.Errorf("List of %s = %+v, %v; want one object of version %q", dst, listed, err, moved.Version)
	}
}

func testBadNames(t *testing.T, s storage.Store) {
	ctx := t.Context()
	write(t, s, "ok.txt", []byte("ok"), 2)
	for _, name := range []string{"", "/abs", "../escape", "a/../../escape", "a/..", "..", ".", "a/./b", "a//b", "a/", "nul\x00"} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			check := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, storage.ErrBadName) {
					t.Errorf("%s(%q) = %v, want ErrBadName", op, name, err)
				}
			}
			w, err := s.Create(ctx, name)
			if err == nil {
				w.Abort()
			}
			check("Create", err)
			r, err := s.Open(ctx, name)
			if err == nil {
				r.Close()
			}
			check("Open", err)
			_, err = s.Stat(ctx, name)
			check("Stat", err)
			_, _, err = s.Get(ctx, name)
			check("Get", err)
			_, err = s.PutIf(ctx, name, []byte("x"), "")
			check("PutIf", err)
			check("DeleteIf", s.DeleteIf(ctx, name, "1"))
			check("Delete", s.Delete(ctx, name))
			_, err = s.Move(ctx, name, "ok2.txt")
			check("Move from", err)
			_, err = s.Move(ctx, "ok.txt", name)
			check("Move to", err)
		})
	}
	for _, prefix := range []string{"/abs", "../", "a/../b", "a//"} {
		if _, err := s.List(ctx, prefix); !errors.Is(err, storage.ErrBadName) {
			t.Errorf("List(%q) = %v, want ErrBadName", prefix, err)
		}
	}
	if got := names(t, s, ""); !slices.Equal(got, []string{"ok.txt"}) {
		t.Fatalf("List after bad names = %q, want only ok.txt", got)
	}
	mustHave(t, s, "ok.txt", []byte("ok"))
}
