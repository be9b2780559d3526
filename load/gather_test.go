package load

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

func TestKeyHashIsFNV1a(t *testing.T) {
	for _, key := range []string{"", "a", "k-2024-05-02-0000001", "ключ ⭐", strings.Repeat("x", 300)} {
		h := fnv.New64a()
		h.Write([]byte(key))
		if got, want := keyHash(key), h.Sum64(); got != want {
			t.Errorf("keyHash(%q) = %x, fnv-1a-64 %x", key, got, want)
		}
	}
}

// TestGatherRecord: rows gathered from several batches (one of them a slice, so its arrays
// have an offset), in any order, are the rows named, nulls, empty strings and lists included,
// and every buffer goes back to the allocator.
func TestGatherRecord(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	lay := newMsgLayout()
	var rows [][]schema.Message
	var batches []*msgBatch
	for i, r := range [][2]int{{0, 40}, {40, 50}, {100, 160}} {
		b := schema.NewMessageBuilder(mem)
		all := testDay("2024-05-02", r[0]-10*i, r[1])
		for j := range all {
			b.Append(&all[j])
		}
		rec := b.NewRecord()
		b.Release()
		if i > 0 { // a slice: its arrays start at an offset
			sl := rec.NewSlice(int64(10*i), rec.NumRows())
			rec.Release()
			rec, all = sl, all[10*i:]
		}
		defer rec.Release()
		mb, err := lay.batch(rec)
		if err != nil {
			t.Fatal(err)
		}
		rows, batches = append(rows, all), append(batches, mb)
	}
	var refs []rowRef
	var want []schema.Message
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		bi := rnd.IntN(len(batches))
		r := rnd.IntN(len(rows[bi]))
		refs = append(refs, rowRef{batch: int32(bi), row: int32(r)})
		want = append(want, rows[bi][r])
	}
	rec, err := gatherRecord(mem, lay, batches, refs)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	got, err := schema.AppendMessages(nil, rec)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("gathered rows differ: %s", firstDiff(got, want))
	}
	if err := checkArrays(rec); err != nil {
		t.Errorf("checkArrays of a gathered batch: %v", err)
	}
}

// TestCheckArrays: offsets beyond a column's buffer are an error, not a panic of a later read.
func TestCheckArrays(t *testing.T) {
	mem := memory.NewGoAllocator()
	b := schema.NewMessageBuilder(mem)
	defer b.Release()
	for _, m := range testDay("2024-05-02", 0, 8) {
		b.Append(&m)
	}
	rec := b.NewRecord()
	defer rec.Release()
	if err := checkArrays(rec); err != nil {
		t.Fatalf("a good batch: %v", err)
	}
	for _, tc := range []struct {
		col     string
		at, val int32
	}{
		{"options", 8, 1 << 20},     // the last offset past the items
		{"message_key", 4, 1 << 20}, // out of order, past the values
		{"options", 0, -1},          // before the items
	} {
		t.Run(fmt.Sprintf("%s[%d]=%d", tc.col, tc.at, tc.val), func(t *testing.T) {
			i := rec.Schema().FieldIndices(tc.col)[0]
			d := rec.Column(i).Data()
			offsets := slices.Clone(d.Buffers()[1].Bytes())
			arrow.Int32Traits.CastFromBytes(offsets)[tc.at] = tc.val
			bufs := slices.Clone(d.Buffers())
			bufs[1] = memory.NewBufferBytes(offsets)
			bad := array.NewData(d.DataType(), d.Len(), bufs, d.Children(), d.NullN(), d.Offset())
			defer bad.Release()
			arr := array.MakeFromData(bad)
			defer arr.Release()
			cols := slices.Clone(rec.Columns())
			cols[i] = arr
			r := array.NewRecordBatch(rec.Schema(), cols, rec.NumRows())
			defer r.Release()
			if err := checkArrays(r); err == nil {
				t.Error("bad offsets passed")
			}
		})
	}
}

// openRangeCounter counts the ranged reads of each staged object of a local store (which a
// merge reads in place).
type openRangeCounter struct {
	*storage.Local
	mu    sync.Mutex
	reads map[string]int
}

func (s *openRangeCounter) OpenRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	s.mu.Lock()
	if off > 0 { // the header of a part is read once per process whatever the merge does
		s.reads[name]++
	}
	s.mu.Unlock()
	return s.Local.OpenRange(ctx, name, off, n)
}

// TestMergeReadsStagedOncePerDay: a day of several shards reads each staged segment once, not
// once per shard, and gets the rows it would get shard by shard.
func TestMergeReadsStagedOncePerDay(t *testing.T) {
	const day = "2024-05-02"
	store := &openRangeCounter{Local: newLocalStore(t), reads: map[string]int{}}
	l := newTestLake(t, store, Options{TargetFileSize: 4 << 10, RowGroupRows: 150})
	rows := testDay(day, 0, 3000)
	s := stage(t, l, rows[:1000], testDay("2024-05-03", 0, 10), rows[1000:])
	ctx := context.Background()
	idx, _, err := l.stageBatch(ctx, "plan-1", "a1", 0, s)
	if err != nil {
		t.Fatal(err)
	}
	st, err := l.Merge(ctx, day, MergeInput{Plan: "plan-1", Attempt: "a1", Replace: func(string) bool { return true },
		RunID: "run-1", Staged: []*StagedBatch{idx}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := l.Manifest(ctx, day)
	if err != nil || m.Shards < 3 {
		t.Fatalf("manifest %+v, %v: the test needs several shards", m, err)
	}
	if st.Staged != 3000 || st.Added != 3000 || st.Rows != 3000 {
		t.Errorf("stats %+v, want 3000 rows staged, added and written", st)
	}
	for name, n := range store.reads {
		if n != 1 {
			t.Errorf("%s read %d times for %d shards, want once", name, n, m.Shards)
		}
	}
	if len(store.reads) == 0 {
		t.Error("no staged object read")
	}
	files := readPartition(t, store, day)
	var got []schema.Message
	for name, fr := range files {
		checkRowGroupOrder(t, name, fr, 150)
		for _, r := range fr {
			if i, _, _ := parseShardName(name); shardOf(r.MessageKey, m.Shards) != i {
				t.Fatalf("%s holds key %s of another shard", name, r.MessageKey)
			}
		}
		got = append(got, fr...)
	}
	if want := sortByKey(slices.Clone(rows)); !reflect.DeepEqual(sortByKey(got), want) {
		t.Errorf("partition: %s", firstDiff(sortByKey(got), want))
	}
}

// TestMergeLargeOldFile: an old file of more rows than a Parquet batch (sourceBatchRows), most
// of whose rows are replaced in some batches and few in others, keeps the other users' rows
// whole, in sorted row groups of RowGroupRows rows (not a divisor of the batch size).
func TestMergeLargeOldFile(t *testing.T) {
	const day = "2024-05-02"
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			inv := &invariantStore{Store: b.new(t), t: t}
			l := newTestLake(t, inv, Options{RowGroupRows: 5000})
			old := testDay(day, 0, 2*sourceBatchRows+500)
			publish(t, l, []string{day}, "run-1", old)

			// Users 0..9 of 97 are replaced: fewer than half of each batch is dropped (the batch
			// is retained, across row groups); then users 0..79: more than half (a copy of the
			// rows kept).
			for _, n := range []int{10, 80} {
				replace := func(u string) bool { return u < userOf(n) }
				fresh := rowsOfUsers(testDay(day, 100000, 101000), replace)
				before := partitionRows(t, inv, day)
				st := merge(t, l, day, "plan-"+userOf(n), replace, fresh)
				want := sortByKey(append(rowsOfUsers(before, func(u string) bool { return !replace(u) }), fresh...))
				var got []schema.Message
				for name, fr := range readPartition(t, inv, day) {
					checkRowGroupOrder(t, name, fr, 5000)
					got = append(got, fr...)
				}
				if got = sortByKey(got); !reflect.DeepEqual(got, want) {
					t.Fatalf("%d users replaced: %s", n, firstDiff(got, want))
				}
				if wantOut := int64(len(rowsOfUsers(before, replace))); st.Replaced != wantOut || st.Staged != int64(len(fresh)) {
					t.Errorf("%d users replaced: stats %+v, want %d replaced, %d staged", n, st, wantOut, len(fresh))
				}
			}
		})
	}
}

// userOf is the channel_user_id of testMessage's user n.
func userOf(n int) string { return fmt.Sprintf("9190000%05d", n) }
