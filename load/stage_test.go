package load

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/chatlake/chatlake/schema"
)

func TestSpillCodecRoundTrip(t *testing.T) {
	sent := time.Date(2024, 5, 2, 10, 15, 32, 123000000, time.UTC)
	tests := []struct {
		name string
		m    schema.Message
	}{
		{"zero", schema.Message{SentAt: time.UnixMilli(0).UTC(), ExtractedAt: time.UnixMilli(0).UTC()}},
		{"nulls", schema.Message{MessageKey: "k", SentAt: sent, ExtractedAt: sent}},
		{"empty string and empty list are not null", schema.Message{Text: ptr(""), Channel: ptr(""), Options: []string{}, MessageKey: "k", SentAt: sent, ExtractedAt: sent}},
		{"every field", testMessage("2024-05-02", 5)},
		{"unicode and long text", schema.Message{Text: ptr(string(bytes.Repeat([]byte("⭐ é\x00"), 5000))), Options: []string{"", "a", "⭐⭐"}, SentAt: sent, ExtractedAt: sent}},
		{"before 1970", schema.Message{SentAt: time.Date(1969, 12, 31, 23, 59, 59, 999000000, time.UTC), ExtractedAt: sent}},
	}
	// Enough rows for several record batches, a flush in the middle (the stream goes on after
	// it, as a stage's does when FinishBatch reads it and rows keep coming), and a last partial
	// batch.
	var want []schema.Message
	for i := range 2*spillBatchRows + 7 {
		want = append(want, tests[i%len(tests)].m)
	}
	var buf bytes.Buffer
	w := newSpillWriter(&buf, memory.NewGoAllocator())
	defer w.release()
	for i := range want {
		if err := w.add(&want[i]); err != nil {
			t.Fatal(err)
		}
		if i == spillBatchRows/2 {
			if err := w.flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	r := newSpillReader(bytes.NewReader(buf.Bytes()))
	for i := range want {
		var got schema.Message
		if err := r.next(&got); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Fatalf("row %d (%s): decoded %+v, want %+v", i, tests[i%len(tests)].name, got, want[i])
		}
	}
	var m schema.Message
	if err := r.next(&m); err != io.EOF {
		t.Errorf("at the end: %v, want io.EOF", err)
	}
	if err := r.next(&m); err != io.EOF {
		t.Errorf("after the end: %v, want io.EOF", err)
	}
}

// TestSpillWriterBoundsBytes: large rows are written out once about spillBatchBytes of them are
// buffered, long before spillBatchRows, and read back whole.
func TestSpillWriterBoundsBytes(t *testing.T) {
	var buf bytes.Buffer
	w := newSpillWriter(&buf, memory.NewGoAllocator())
	defer w.release()
	big := testMessage("2024-05-02", 1)
	big.Text = ptr(strings.Repeat("x", spillBatchBytes/4))
	var want []schema.Message
	for i := range 10 {
		m := big
		m.MessageKey = fmt.Sprint(i)
		want = append(want, m)
		if err := w.add(&m); err != nil {
			t.Fatal(err)
		}
		if w.b.Len() >= 4 {
			t.Fatalf("after %d rows of %d bytes, %d rows are buffered", i+1, len(*big.Text), w.b.Len())
		}
	}
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	r := newSpillReader(&buf)
	for i := range want {
		var got schema.Message
		if err := r.next(&got); err != nil || !reflect.DeepEqual(got, want[i]) {
			t.Fatalf("row %d: %v, equal %v", i, err, reflect.DeepEqual(got, want[i]))
		}
	}
}

// TestSpillCodecTruncatesToMillis: the spill keeps what the lake keeps, UTC milliseconds.
func TestSpillCodecTruncatesToMillis(t *testing.T) {
	in := testMessage("2024-05-02", 5)
	in.SentAt = in.SentAt.Add(999999 * time.Nanosecond)
	var buf bytes.Buffer
	w := newSpillWriter(&buf, memory.NewGoAllocator())
	defer w.release()
	if err := errors.Join(w.add(&in), w.flush()); err != nil {
		t.Fatal(err)
	}
	var got schema.Message
	if err := newSpillReader(&buf).next(&got); err != nil {
		t.Fatal(err)
	}
	if want := in.SentAt.Truncate(time.Millisecond); !got.SentAt.Equal(want) {
		t.Errorf("sent_at %s, want %s", got.SentAt, want)
	}
}

func TestSpillCodecCorrupt(t *testing.T) {
	var buf bytes.Buffer
	w := newSpillWriter(&buf, memory.NewGoAllocator())
	defer w.release()
	for i := range 3 {
		m := testMessage("2024-05-02", i)
		if err := w.add(&m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	stream := buf.Bytes()
	// A stream of another schema: an Arrow stream, but not of messages.
	var other bytes.Buffer
	ob := schema.NewUserBuilder(memory.NewGoAllocator())
	ob.Append(&schema.User{CustomerID: "42"})
	rec := ob.NewRecord()
	ow := ipc.NewWriter(&other, ipc.WithSchema(rec.Schema()))
	if err := errors.Join(ow.Write(rec), ow.Close()); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	ob.Release()
	tests := []struct {
		name string
		data []byte
	}{
		{"cut in the batch", stream[:len(stream)-3]},
		{"cut in the schema", stream[:20]},
		{"not a stream", []byte("dt,text\n2024-05-02,hello\n")},
		{"another schema", other.Bytes()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newSpillReader(bytes.NewReader(tc.data))
			var err error
			for range 10 {
				var m schema.Message
				if err = r.next(&m); err != nil {
					break
				}
			}
			if !errors.Is(err, errCorruptSpill) {
				t.Errorf("err = %v, want errCorruptSpill", err)
			}
		})
	}
}

// TestStageConcurrentAdd: rows added from many goroutines are each read back once, intact,
// whether the stage holds them in memory, spills from the start, or spills on the way (the
// lake's budget passed while rows come in).
func TestStageConcurrentAdd(t *testing.T) {
	for _, tc := range []struct {
		name   string
		memory int64
		files  bool // spill files at the end
	}{
		{"in memory", 0, false},
		{"spilled", -1, true},
		{"spills on the way", 64 << 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) { testStageConcurrentAdd(t, tc.memory, tc.files) })
	}
}

func testStageConcurrentAdd(t *testing.T, stageMemory int64, files bool) {
	l := newTestLake(t, newMemStore(), Options{StageMemory: stageMemory})
	s, err := l.NewStage()
	if err != nil {
		t.Fatal(err)
	}
	days := []string{"2024-05-01", "2024-05-02", "2024-05-03"}
	const workers, batches, perBatch = 8, 20, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				rows := make([]schema.Message, 0, perBatch)
				for i := range perBatch {
					n := (w*batches+b)*perBatch + i
					rows = append(rows, testMessage(days[n%len(days)], n))
				}
				if err := s.Add(rows); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	total := workers * batches * perBatch
	want := map[string]int64{}
	for n := range total {
		want[days[n%len(days)]]++
	}
	if got := s.Days(); !reflect.DeepEqual(got, want) {
		t.Errorf("Days() = %v, want %v", got, want)
	}
	// Every row is in its day once, intact.
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	var spillFiles []string
	if s.Dir() != "" { // made when the stage first spills
		if spillFiles, err = filepath.Glob(filepath.Join(s.Dir(), "*")); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(spillFiles) > 0; got != files {
		t.Errorf("spill files %v, want files: %v", spillFiles, files)
	}
	if held := l.stages.used.Load(); (held == 0) != files {
		t.Errorf("the lake's stages hold %d bytes in memory, want some: %v", held, !files)
	}
	seen := make(map[string]bool)
	for _, day := range days {
		got, rows := readStageDay(t, s, day)
		for _, m := range got {
			var i int
			if _, err := fmt.Sscanf(m.MessageKey[len("k-2024-05-01-"):], "%d", &i); err != nil {
				t.Fatal(err)
			}
			if want := testMessage(day, i); !reflect.DeepEqual(m, want) || seen[m.MessageKey] {
				t.Errorf("row %s: %+v, want %+v once", m.MessageKey, m, want)
			}
			seen[m.MessageKey] = true
		}
		if int64(len(got)) != rows {
			t.Errorf("%s: %d rows read, %d counted", day, len(got), rows)
		}
	}
	if len(seen) != total {
		t.Errorf("%d rows read back, want %d", len(seen), total)
	}

	dir := s.Dir()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stage dir after Close: %v", err)
	}
	if held := l.stages.used.Load(); held != 0 {
		t.Errorf("after Close the lake's stages hold %d bytes", held)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Add([]schema.Message{testMessage(days[0], 1)}); !errors.Is(err, ErrStageClosed) {
		t.Errorf("Add after Close: %v", err)
	}
}

// TestStageBudgetIsTheLakes: the budget is shared by the lake's stages: a stage that adds rows
// when the stages together hold more than it spills what it holds, and the others keep theirs.
func TestStageBudgetIsTheLakes(t *testing.T) {
	l := newTestLake(t, newMemStore(), Options{StageMemory: 1 << 20})
	rows := func(day string, from, n int) []schema.Message {
		var out []schema.Message
		for i := range n {
			out = append(out, testMessage(day, from+i))
		}
		return out
	}
	a, err := l.NewStage()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := l.NewStage()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// a holds 3 batches of 512 rows of these messages (about 500 KiB, under the budget)...
	if err := errors.Join(a.Add(rows("2024-05-01", 0, 3*spillBatchRows)), a.flush()); err != nil {
		t.Fatal(err)
	}
	heldA := l.stages.used.Load()
	if heldA == 0 || heldA > l.opts.StageMemory || a.spilled() {
		t.Fatalf("a holds %d bytes (spilled %v), want some, at most %d", heldA, a.spilled(), l.opts.StageMemory)
	}
	// ...then b's rows pass the lake's budget: b spills, a keeps its rows in memory.
	for i := 0; !b.spilled(); i++ {
		if i == 100 {
			t.Fatalf("b never spilled: the lake's stages hold %d bytes", l.stages.used.Load())
		}
		if err := b.Add(rows("2024-05-02", i*spillBatchRows, spillBatchRows)); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.stages.used.Load(); got != heldA || a.spilled() {
		t.Errorf("after b spilled the stages hold %d bytes (a spilled %v), want a's %d", got, a.spilled(), heldA)
	}
	// b's rows are all read back, those held before it spilled and those written after.
	if err := b.flush(); err != nil {
		t.Fatal(err)
	}
	got, n := readStageDay(t, b, "2024-05-02")
	for i, m := range got {
		if want := testMessage("2024-05-02", i).MessageKey; m.MessageKey != want {
			t.Fatalf("row %d has key %s, want %s", i, m.MessageKey, want)
		}
	}
	if int64(len(got)) != n || n == 0 {
		t.Errorf("read %d rows, staged %d", len(got), n)
	}
}

// readStageDay reads every row s holds for day (flush must have been called) and the count s
// keeps of them. The rows stay valid until s is closed.
func readStageDay(t *testing.T, s *Stage, day string) ([]schema.Message, int64) {
	t.Helper()
	r, rows, closeDay, ok, err := s.open(day)
	if err != nil || !ok {
		t.Fatalf("open %s: %v %v", day, ok, err)
	}
	defer closeDay()
	var out []schema.Message
	for {
		var m schema.Message
		err := r.next(&m)
		if err == io.EOF {
			return out, rows
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
}

func TestOptions(t *testing.T) {
	file := t.TempDir() + "/f"
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    *Options
		ok   bool
	}{
		{"nil", nil, true},
		{"zero", &Options{}, true},
		{"negative size", &Options{TargetFileSize: -1}, false},
		{"negative row group", &Options{RowGroupRows: -1}, false},
		{"stage memory -1", &Options{StageMemory: -1}, true},
		{"stage memory below -1", &Options{StageMemory: -2}, false},
		{"missing temp dir", &Options{TempDir: t.TempDir() + "/nope"}, false},
		{"temp dir is a file", &Options{TempDir: file}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := NewLake(newMemStore(), tc.o)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if tc.ok && (l.opts.TargetFileSize != DefaultTargetFileSize || l.opts.RowGroupRows != DefaultRowGroupRows) {
				t.Errorf("defaults not applied: %+v", l.opts)
			}
		})
	}
	if _, err := NewLake(nil, nil); err == nil {
		t.Error("nil store accepted")
	}
}

// TestUTCDayNumber: two times have the same day number exactly when they have the same UTC
// date, before 1970 too.
func TestUTCDayNumber(t *testing.T) {
	times := []time.Time{
		time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999000000, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1970, 1, 1, 23, 59, 59, 0, time.UTC),
		time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 5, 2, 1, 30, 0, 0, time.FixedZone("+0200", 7200)), // 2024-05-01 UTC
		time.Date(2024, 5, 1, 23, 59, 59, 999999999, time.UTC),
	}
	for _, a := range times {
		for _, b := range times {
			if same := dayOf(a) == dayOf(b); same != (utcDayNumber(a) == utcDayNumber(b)) {
				t.Errorf("%s and %s: same day %v, day numbers %d and %d", a, b, same, utcDayNumber(a), utcDayNumber(b))
			}
		}
	}
}

// spillWriter is a day's spill as a stage writes it once spilled: builders over a stream.
type spillWriter struct {
	batchBuilder
	stream *spillStream
}

func newSpillWriter(w io.Writer, mem memory.Allocator) *spillWriter {
	sw := &spillWriter{stream: newSpillStream(w, mem)}
	sw.batchBuilder = newBatchBuilder(mem, spillBatchRows, spillBatchBytes, sw.stream)
	return sw
}

// flush writes the buffered rows and the write buffer.
func (w *spillWriter) flush() error {
	if err := w.writeBatch(); err != nil {
		return err
	}
	return w.stream.flush()
}

// newSpillReader reads the rows of a spill stream, as a stage that spilled reads a day.
func newSpillReader(r io.Reader) rowSource {
	next, _ := spillBatches(r) // a Go allocator's reader: nothing to release in a test
	return &batchRows{batch: next}
}

// TestStageFilter: Filter gives a new stage of the rows keep accepts, day by day in the order
// they were added, and leaves the stage it filtered as it was.
func TestStageFilter(t *testing.T) {
	l := newTestLake(t, newLocalStore(t), Options{})
	const day1, day2 = "2024-05-01", "2024-05-02"
	rows := map[string][]schema.Message{day1: testDay(day1, 0, 700), day2: testDay(day2, 0, 9)}
	s := stage(t, l, rows[day1], rows[day2])
	keep := func(m *schema.Message) bool { return m.Sender != "bot" }
	f, err := s.Filter(keep)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.flush(); err != nil { // as FinishBatch does
		t.Fatal(err)
	}
	read := func(s *Stage, day string) []schema.Message {
		t.Helper()
		r, _, closeDay, ok, err := s.open(day)
		if err != nil || !ok {
			t.Fatalf("open %s: %v, %v", day, ok, err)
		}
		defer closeDay()
		var out []schema.Message
		for {
			var m schema.Message
			if err := r.next(&m); err == io.EOF {
				return out
			} else if err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
	}
	for _, day := range []string{day1, day2} {
		var want []schema.Message
		for _, m := range rows[day] {
			if keep(&m) {
				want = append(want, m)
			}
		}
		if got := read(f, day); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: filtered %d rows, want %d: %s", day, len(got), len(want), firstDiff(got, want))
		}
		if got := read(s, day); !reflect.DeepEqual(got, rows[day]) {
			t.Errorf("%s: the filtered stage changed: %s", day, firstDiff(got, rows[day]))
		}
	}
}
