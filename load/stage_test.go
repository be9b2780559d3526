package load

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/chatlake/chatlake/schema"
)

func TestSpillCodecRoundTrip(t *testing.T) {
	sent := time.Date(2024, 5, 2, 10, 15, 32, 123456789, time.UTC)
	tests := []struct {
		name string
		m    schema.Message
	}{
		{"zero", schema.Message{}},
		{"nulls", schema.Message{MessageKey: "k", SentAt: sent, ExtractedAt: sent}},
		{"empty string and empty list are not null", schema.Message{Text: ptr(""), Channel: ptr(""), Options: []string{}, MessageKey: "k", SentAt: sent}},
		{"every field", testMessage("2024-05-02", 5)},
		{"unicode and long text", schema.Message{Text: ptr(string(bytes.Repeat([]byte("⭐ é\x00"), 5000))), Options: []string{"", "a", "⭐⭐"}, SentAt: sent}},
		{"before 1970", schema.Message{SentAt: time.Date(1969, 12, 31, 23, 59, 59, 999000000, time.UTC)}},
	}
	var buf, scratch []byte
	for _, tc := range tests {
		buf, scratch = appendRecord(buf, scratch, &tc.m)
	}
	r := newSpillReader(bytes.NewReader(buf))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got schema.Message
			if err := r.next(&got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.m) {
				t.Errorf("decoded %+v, want %+v", got, tc.m)
			}
		})
	}
	var m schema.Message
	if err := r.next(&m); err != io.EOF {
		t.Errorf("at the end: %v, want io.EOF", err)
	}
}

func TestSpillCodecCorrupt(t *testing.T) {
	one := testMessage("2024-05-02", 3)
	rec, _ := appendRecord(nil, nil, &one)
	body := appendMessage(nil, &one)
	frame := func(b []byte) []byte { return append(binary.AppendUvarint(nil, uint64(len(b))), b...) }
	tests := []struct {
		name string
		data []byte
	}{
		{"truncated record", rec[:len(rec)-3]},
		{"truncated length", []byte{0x80}},
		{"huge length", []byte{0xff, 0xff, 0xff, 0xff, 0x7f}},
		{"record shorter than its fields", frame(body[:5])},
		{"trailing bytes", frame(append(body, 0))},
		{"bad null flag", frame([]byte{0, 0, 0, 7})},
		{"nanoseconds out of range", frame(append(body[:len(body)-1], 0xff, 0xff, 0xff, 0xff, 0x0f))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m schema.Message
			err := newSpillReader(bytes.NewReader(tc.data)).next(&m)
			if !errors.Is(err, errCorruptSpill) {
				t.Errorf("err = %v, want errCorruptSpill", err)
			}
		})
	}
}

func TestStageConcurrentAdd(t *testing.T) {
	l := newTestLake(t, newMemStore(), Options{})
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
	// Every row is in its day's spill file once, intact.
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool)
	for _, day := range days {
		f, _, rows, ok, err := s.open(day)
		if err != nil || !ok {
			t.Fatalf("open %s: %v %v", day, ok, err)
		}
		r := newSpillReader(f)
		var n int64
		for {
			var m schema.Message
			err := r.next(&m)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			var i int
			if _, err := fmt.Sscanf(m.MessageKey[len("k-2024-05-01-"):], "%d", &i); err != nil {
				t.Fatal(err)
			}
			if want := testMessage(day, i); !reflect.DeepEqual(m, want) || seen[m.MessageKey] {
				t.Errorf("row %s: %+v, want %+v once", m.MessageKey, m, want)
			}
			seen[m.MessageKey] = true
			n++
		}
		f.Close()
		if n != rows {
			t.Errorf("%s: %d rows in the file, %d counted", day, n, rows)
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
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Add([]schema.Message{testMessage(days[0], 1)}); !errors.Is(err, ErrStageClosed) {
		t.Errorf("Add after Close: %v", err)
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
