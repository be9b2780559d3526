package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/chatlake/chatlake/schema"
	"github.com/chatlake/chatlake/transform"
)

// stagedColumnsRows are rows for the staged columns' tests: testMessage's (NULL in every
// nullable column, empty strings and lists), with message keys and source timestamps of every
// kind format 1 tells apart, and the constants of batch (customer_id, bot_key, run_id,
// extracted_at), varied as vary says.
func stagedColumnsRows(n int, vary map[string]bool) []schema.Message {
	keys := []func(i int) string{
		func(i int) string { return transform.MessageKey(transform.Identity{byte(i), 0xab, 0xff}, i%3) }, // the form of MessageKey
		func(i int) string { return transform.MessageKey(transform.Identity{0x01}, 2147483647) },
		func(i int) string { return fmt.Sprintf("k-%07d", i) },
		func(i int) string { return strings.ToUpper(transform.MessageKey(transform.Identity{byte(i)}, 1)) }, // upper-case hex
		func(i int) string { return transform.MessageKey(transform.Identity{byte(i)}, 0) + "0" },            // "-00"
		func(i int) string { return transform.MessageKey(transform.Identity{byte(i)}, 5)[:33] + "05" },      // a leading zero
		func(i int) string { return transform.MessageKey(transform.Identity{byte(i)}, 0)[:33] + "2147483648" },
		func(i int) string { return transform.MessageKey(transform.Identity{byte(i)}, 0)[:33] + "-1" },
		func(i int) string { return transform.MessageKey(transform.Identity{byte(i)}, 0)[:33] },      // no occurrence
		func(i int) string { return "x" + transform.MessageKey(transform.Identity{byte(i)}, 0)[1:] }, // not hex
		func(i int) string { return "" },
	}
	sources := []func(t time.Time) string{
		func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000-0700") }, // rebuilt from sent_at
		func(t time.Time) string {
			return t.In(time.FixedZone("", 5*3600+1800)).Format("2006-01-02 15:04:05.000-0700")
		},
		func(t time.Time) string { return t.UTC().Format("2006/01/02 15:04:05.000-0700") },
		func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") },
		func(t time.Time) string { return fmt.Sprint(t.UnixMilli()) },
		func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000000-0700") }, // finer than sent_at
		func(t time.Time) string { return t.UTC().Add(time.Second).Format("2006-01-02 15:04:05.000-0700") },
		func(time.Time) string { return "" },
	}
	out := make([]schema.Message, n)
	for i := range out {
		m := testMessage("2024-05-02", i)
		m.MessageKey = keys[i%len(keys)](i)
		m.SourceTimestamp = sources[i%len(sources)](m.SentAt)
		m.ExtractedAt = time.Date(2024, 5, 3, 1, 2, 3, 4e6, time.UTC)
		switch i % 10 { // user_id: NULL (i%4 == 0), channel_user_id's (rebuilt), another, empty
		case 3:
			m.UserID = ptr(fmt.Sprint("session-", i))
		case 5:
			m.UserID = ptr("")
		case 7:
			m.ChannelUserID, m.UserID = "", ptr("")
		}
		if vary["customer_id"] {
			m.CustomerID = fmt.Sprint(i % 2)
		}
		if vary["bot_key"] {
			m.BotKey = fmt.Sprint("bot", i%3)
		}
		if vary["run_id"] && i == n-1 {
			m.RunID = "another run"
		}
		if vary["extracted_at"] {
			m.ExtractedAt = m.ExtractedAt.Add(time.Duration(i) * time.Millisecond)
		}
		out[i] = m
	}
	return out
}

// TestStagedColumnsRoundTrip: every column of rows staged in each format comes back as it was
// staged, NULLs and constants included, through a staged file and the decoder Merge uses;
// format 1 leaves out exactly the constant columns.
func TestStagedColumnsRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format int
		vary   map[string]bool
		omits  []string
	}{
		{"format 0", stagedFormatRows, nil, nil},
		{"format 1", stagedFormatCompact, nil, []string{"customer_id", "bot_key", "run_id", "extracted_at"}},
		{"format 1, extracted_at varies", stagedFormatCompact, map[string]bool{"extracted_at": true}, []string{"customer_id", "bot_key", "run_id"}},
		{"format 1, one run_id differs", stagedFormatCompact, map[string]bool{"run_id": true}, []string{"customer_id", "bot_key", "extracted_at"}},
		{"format 1, all vary", stagedFormatCompact, map[string]bool{"customer_id": true, "bot_key": true, "run_id": true, "extracted_at": true}, nil},
		{"format 2", stagedFormatFramed, nil, []string{"customer_id", "bot_key", "run_id", "extracted_at"}},
		{"format 2, all vary", stagedFormatFramed, map[string]bool{"customer_id": true, "bot_key": true, "run_id": true, "extracted_at": true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := stagedColumnsRows(3*spillBatchRows+17, tc.vary)
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			cols := stagedColumnsFor(t, tc.format, want)
			var omitted []string
			for i, f := range schema.Messages().Fields() {
				if cols.omit[i] {
					omitted = append(omitted, f.Name)
				}
			}
			if !slices.Equal(omitted, tc.omits) {
				t.Errorf("left out %q, want %q", omitted, tc.omits)
			}
			var buf bytes.Buffer
			w, err := newStagedRows(&buf, mem, stagedLZ4, cols)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.write(slices.Clone(want)); err != nil {
				t.Fatal(err)
			}
			if err := w.close(); err != nil {
				t.Fatal(err)
			}
			d, err := newStreamDecoder(stagedStream(buf.Bytes(), w.sw.header, tc.format), int64(len(want)), formatColumns(tc.format))
			if err != nil {
				t.Fatal(err)
			}
			defer d.close()
			var got []schema.Message
			for {
				if got, err = decodeRows(d, got); err == io.EOF {
					break
				} else if err != nil {
					t.Fatal(err)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("rows differ: %s", firstDiff(got, want))
			}
		})
	}
}

// stagedStream is the Arrow IPC stream of the staged part data of format, written whole by
// stagedRows (one segment), whose header has header bytes.
func stagedStream(data []byte, header int64, format int) io.Reader {
	if format == stagedFormatFramed {
		return segmentStreamOf(data[:header], io.NopCloser(bytes.NewReader(data[header:])), format, nil)
	}
	return bytes.NewReader(data[ipcMagicLen:])
}

// TestStagedColumnsFormatMismatch: a part read as another format than it has, or of a format
// not known, is errCorruptStaged.
func TestStagedColumnsFormatMismatch(t *testing.T) {
	rows := stagedColumnsRows(10, nil)
	for _, tc := range []struct{ wrote, read int }{
		{stagedFormatRows, stagedFormatCompact}, {stagedFormatCompact, stagedFormatRows}, {stagedFormatCompact, 7},
		{stagedFormatFramed, stagedFormatCompact}, {stagedFormatCompact, stagedFormatFramed}, {stagedFormatFramed, stagedFormatRows},
	} {
		var buf bytes.Buffer
		w, err := newStagedRows(&buf, memory.NewGoAllocator(), stagedLZ4, stagedColumnsFor(t, tc.wrote, rows))
		if err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(w.write(slices.Clone(rows)), w.close()); err != nil {
			t.Fatal(err)
		}
		if _, err := newStreamDecoder(stagedStream(buf.Bytes(), w.sw.header, tc.wrote), int64(len(rows)), formatColumns(tc.read)); !errors.Is(err, errCorruptStaged) {
			t.Errorf("format %d read as %d: %v, want errCorruptStaged", tc.wrote, tc.read, err)
		}
	}
}

// TestStagedColumnsEncodeChecksConstants: a record batch whose value of a left-out column is not
// the batch's is an error, not a row staged with another value.
func TestStagedColumnsEncodeChecksConstants(t *testing.T) {
	rows := stagedColumnsRows(10, nil)
	cols := stagedColumnsFor(t, stagedFormatCompact, rows)
	rows[4].RunID = "not the batch's"
	var buf bytes.Buffer
	w, err := newStagedRows(&buf, memory.NewGoAllocator(), stagedLZ4, cols)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(w.write(rows), w.close()); err == nil || !strings.Contains(err.Error(), "run_id") {
		t.Errorf("staged a row of another run_id: %v", err)
	}
}

// TestStagedFormatsBeforePublish: a batch staged in format 0 or 1 by a binary before this one
// (the index of format 0 has no format) is published after the upgrade, as staged.
func TestStagedFormatsBeforePublish(t *testing.T) {
	for _, format := range []int{stagedFormatRows, stagedFormatCompact} {
		t.Run(fmt.Sprint("format ", format), func(t *testing.T) { testStagedFormatPublishes(t, format) })
	}
}

func testStagedFormatPublishes(t *testing.T, format int) {
	ctx := context.Background()
	const day1, day2 = "2024-05-01", "2024-05-02"
	store := newMemStore()
	l := newTestLake(t, store, Options{})
	want := map[string][]schema.Message{day1: testDay(day1, 0, 700), day2: testDay(day2, 0, 30)}
	l.stagedFormat = format // as the binaries before
	idx, _, err := l.stageBatch(ctx, "plan-1", "a1", 0, stage(t, l, want[day1], want[day2]))
	if err != nil {
		t.Fatal(err)
	}
	l.stagedFormat = stagedFormatFramed
	data, err := json.Marshal(BatchDone{RunID: "run-1", Staged: idx})
	if err != nil {
		t.Fatal(err)
	}
	if hasFormat := bytes.Contains(data, []byte(`"format"`)); hasFormat != (format != stagedFormatRows) {
		t.Fatalf("a format %d index says its format: %v: %s", format, hasFormat, data) // the binaries of format 0 wrote none
	}
	var rec BatchDone
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	if err := rec.Staged.check("plan-1", "a1", 0); err != nil {
		t.Fatal(err)
	}
	if got := rec.Staged.Parts[0].Format; got != format {
		t.Fatalf("staged in format %d, want %d", got, format)
	}
	for _, d := range []string{day1, day2} {
		mergeStaged(t, l, store, d, []*StagedBatch{rec.Staged}, nil, want[d])
	}
}

// TestAppendTimestamp: the source timestamps format 1 rebuilds are what the time package writes
// in each form and at each offset, over years 0 to 9999 and around leap days, month and year
// ends; tsCode finds the form and offset of each, and refuses what it would not write back.
func TestAppendTimestamp(t *testing.T) {
	ms := []int64{0, -1, 1, 999, -999, 86399999, -86400000, 951782400000, 951868799999, 4107542399999,
		253402300799999, -62135596800000, -62167219200000}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		ms = append(ms, r.Int64N(253402300800000-2*86400000+62167219200000)-62167219200000+86400000)
	}
	offsets := []int{0, 330, -180, 60, 345, -480, 600, 120, -270, 1439, -1439, 1}
	var buf [32]byte
	for i, v := range ms {
		off := offsets[i%len(offsets)]
		at := time.UnixMilli(v).In(time.FixedZone("", off*60))
		for _, form := range []int{tsDash, tsSlash, tsRFC, tsEpoch} {
			want := at.Format(tsLayout(form))
			o := off
			if form == tsEpoch {
				want, o = fmt.Sprint(v), 0
			}
			code := int16(o<<3 | form)
			if got := string(appendTimestamp(nil, v, code)); got != want {
				t.Fatalf("%d at %d minutes, form %d: %q, want %q", v, off, form, got, want)
			}
			if c, ok := tsCode(want, v, buf[:]); !ok || c != code {
				t.Fatalf("tsCode(%q) = %d, %v; want %d", want, c, ok, code)
			}
		}
	}
	for _, v := range []string{
		"2024-05-02 10:15:32.123+00:00", "2024-05-02 10:15:32.1234+0000", "2024-05-02 10:15:32+0000",
		"2024-05-02T10:15:32.123+00:00", "2024-05-02T10:15:32.123+0000", "02024-05-02 10:15:32.123+000",
		"1714644932123.0", "01714644932123", "+1714644932123", "2024-05-02 10:15:32.123+2400", "2024-05-02 10:15:32.123+0060",
		"2024-05-02 10:15:32.123 0000", "", "2024-05-02 10:15:32.124+0000",
	} {
		if c, ok := tsCode(v, 1714644932123, buf[:]); ok {
			t.Errorf("tsCode(%q) = %d, want it kept as it is", v, c)
		}
	}
}

// TestParseMessageKey: a key of MessageKey's form is decoded and written back the same; any
// other is refused.
func TestParseMessageKey(t *testing.T) {
	id := transform.Identity{0x00, 0x1f, 0xa0, 0xff, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4}
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{transform.MessageKey(id, 0), true},
		{transform.MessageKey(id, 9), true},
		{transform.MessageKey(id, 10), true},
		{transform.MessageKey(id, 2147483647), true},
		{transform.MessageKey(id, 2147483648), false},
		{transform.MessageKey(id, 0) + "0", false},
		{strings.ToUpper(transform.MessageKey(id, 1)), false},
		{transform.MessageKey(id, 1)[:33], false},
		{transform.MessageKey(id, 1)[:33] + "+1", false},
		{transform.MessageKey(id, 1)[1:], false},
		{"g" + transform.MessageKey(id, 1)[1:], false},
		{transform.MessageKey(id, 1)[:32] + "_1", false},
		{transform.MessageKey(id, 1) + "x", false},
		{"", false},
	} {
		var b [messageKeyIDLen]byte
		o, ok := parseMessageKey(tc.key, b[:])
		if ok != tc.ok {
			t.Errorf("%q: ok %v, want %v", tc.key, ok, tc.ok)
			continue
		}
		if ok {
			if back := string(appendMessageKey(nil, b[:], o)); back != tc.key {
				t.Errorf("%q written back as %q", tc.key, back)
			}
		}
	}
}
