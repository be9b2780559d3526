package load

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/chatlake/chatlake/schema"
)

// TestFinishBatch: a batch whose stage held its rows is committed as one object, its done
// object, whose first bytes are an Arrow file of its rows that any Arrow reader reads and whose
// record, read back by another process, indexes them; a batch whose stage spilled stages its
// rows as a part of their own, and its done object is the record alone.
func TestFinishBatch(t *testing.T) {
	const day1, day2 = "2024-05-01", "2024-05-03"
	rows := map[string][]schema.Message{day1: testDay(day1, 0, 40), day2: testDay(day2, 0, 3)}
	for _, tc := range []struct {
		name      string
		memory    int64 // Options.StageMemory: -1 spills at once
		partBytes int64 // the lake's part size, if not the default
		objects   []string
	}{
		{"held", 0, 0, []string{"done/batch-000002.done"}},
		{"spilled", -1, 0, []string{"done/batch-000002.done", "staged/batch-000002-000.arrow"}},
		{"held, past one part", 0, 1 << 10, []string{"done/batch-000002.done", "staged/batch-000002-000.arrow", "staged/batch-000002-001.arrow"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			store := newMemStore()
			l := newTestLake(t, store, Options{StageMemory: tc.memory})
			if tc.partBytes > 0 {
				l.partBytes = tc.partBytes
			}
			s := stage(t, l, rows[day2], rows[day1])
			rec := &BatchDone{RunID: "run-1", Messages: 43, Failed: []FailedUser{{ID: "u9", Error: "boom"}}}
			st, err := l.FinishBatch(ctx, "plan-1", "a1", 2, s, rec)
			if err != nil {
				t.Fatal(err)
			}
			if st.Rows != 43 || st.Days != 2 {
				t.Errorf("stats %+v", st)
			}
			var objs []string
			for _, n := range names(t, store, "_chatlake/runs/") {
				objs = append(objs, strings.TrimPrefix(n, "_chatlake/runs/plan-1/attempts/a1/"))
			}
			if !slices.Equal(objs, tc.objects) {
				t.Fatalf("objects %q, want %q", objs, tc.objects)
			}
			other := newTestLake(t, store, Options{})
			if done, err := other.BatchesDone(ctx, "plan-1", "a1"); err != nil || !slices.Equal(done, []int{2}) {
				t.Fatalf("BatchesDone = %v, %v", done, err)
			}
			got, err := other.ReadBatchDone(ctx, "plan-1", "a1", 2)
			if err != nil {
				t.Fatal(err)
			}
			if got.RunID != "run-1" || !reflect.DeepEqual(got.Failed, rec.Failed) || got.Staged == nil {
				t.Fatalf("ReadBatchDone = %+v", got)
			}
			var partNames []string
			var back []schema.Message
			for _, part := range got.Staged.Parts {
				partNames = append(partNames, strings.TrimPrefix(part.Name, "_chatlake/runs/plan-1/attempts/a1/"))
				rows, _ := readStaged(t, store, part)
				back = append(back, rows...)
			}
			if want := tc.objects[min(1, len(tc.objects)-1):]; !slices.Equal(partNames, want) {
				t.Errorf("the index names %q, want %q", partNames, want)
			}
			if want := slices.Concat(rows[day1], rows[day2]); !reflect.DeepEqual(back, want) {
				t.Errorf("staged rows read back: %d, want %d", len(back), len(want))
			}
		})
	}
}

// TestFinishBatchOnce: of two processes that finish the same batch, the first commits it and
// the second's rows are not used, without an error for either.
func TestFinishBatchOnce(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	for i, runID := range []string{"run-1", "run-2"} {
		l := newTestLake(t, store, Options{})
		s := stage(t, l, testDay("2024-05-01", 0, 5+i))
		if _, err := l.FinishBatch(ctx, "plan-1", "a1", 0, s, &BatchDone{RunID: runID}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := newTestLake(t, store, Options{}).ReadBatchDone(ctx, "plan-1", "a1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got.RunID != "run-1" || got.Staged.Parts[0].Days[0].Rows != 5 {
		t.Errorf("the batch's record is %s's with %d rows, want run-1's with 5", got.RunID, got.Staged.Parts[0].Days[0].Rows)
	}
}

// TestDoneObjectRecords: a record longer than one read of a done object's end reads back
// whole; an object that does not end with a record, or whose length is out of range, is an
// error naming it; a binary before's JSON record reads back.
func TestDoneObjectRecords(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	l := newTestLake(t, store, Options{})
	long := &BatchDone{RunID: "run-1"}
	for i := range 3000 {
		long.Failed = append(long.Failed, FailedUser{ID: fmt.Sprintf("user-%05d", i), Error: strings.Repeat("e", 20)})
	}
	s := stage(t, l, testDay("2024-05-01", 0, 30))
	if _, err := l.FinishBatch(ctx, "plan-1", "a1", 0, s, long); err != nil {
		t.Fatal(err)
	}
	got, err := newTestLake(t, store, Options{}).ReadBatchDone(ctx, "plan-1", "a1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Failed, long.Failed) {
		t.Errorf("a long record reads back with %d failed users, want %d", len(got.Failed), len(long.Failed))
	}

	if _, err := store.PutIf(ctx, legacyBatchDonePath("plan-1", "a1", 1), []byte(`{"run_id":"old","messages":7}`), ""); err != nil {
		t.Fatal(err)
	}
	if got, err := newTestLake(t, store, Options{}).ReadBatchDone(ctx, "plan-1", "a1", 1); err != nil || got.RunID != "old" || got.Messages != 7 {
		t.Errorf("a binary before's record reads back as %+v, %v", got, err)
	}

	for _, tc := range []struct{ name, data string }{
		{"no trailer", `{"run_id":"x"}`},
		{"length past the object", `{}` + "\xff\x00\x00\x00\x00\x00\x00\x00CLDONE1\n"},
		{"empty record", "\x00\x00\x00\x00\x00\x00\x00\x00CLDONE1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := batchDonePath("plan-2", "a1", 0)
			if err := store.Delete(ctx, name); err != nil {
				t.Fatal(err)
			}
			if _, err := store.PutIf(ctx, name, []byte(tc.data), ""); err != nil {
				t.Fatal(err)
			}
			_, err := newTestLake(t, store, Options{}).ReadBatchDone(ctx, "plan-2", "a1", 0)
			if !errors.Is(err, errCorruptDone) || !strings.Contains(err.Error(), name) {
				t.Errorf("ReadBatchDone = %v, want errCorruptDone naming %s", err, name)
			}
		})
	}
}
