package load

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/chatlake/chatlake/schema"
	"github.com/chatlake/chatlake/sim"
	"github.com/chatlake/chatlake/transform"
)

// BenchmarkLakeEncoding writes the same messages (BenchmarkFloor's 200k: the simulator's seed 1
// over 14 days, decoded, flattened and keyed before the clock starts) as one Parquet file per
// UTC day in each candidate encoding, and reports lake/json (Parquet bytes over the API's JSON
// bytes of those messages) and ns/msg (write time). The lake's own format is "lake", its
// format before issue 10 "before"; the others change settings of "before", except the
// schema-candidate variants, which change the rows (a shorter message_key, no
// source_timestamp) and write them in the lake's format.
//
//	go test -run '^$' -bench 'LakeEncoding' -benchtime 3x ./load/
func BenchmarkLakeEncoding(b *testing.B) {
	so := sim.DefaultOptions()
	so.Seed, so.Users = 1, benchSizes[0].users
	pages, jsonBytes, w := capturePages(b, so)
	src := transform.Source{CustomerID: so.CustomerID, BotKey: so.BotKey, RunID: "run-floor", ExtractedAt: time.Now()}
	days := map[string][]schema.Message{}
	n := floorRows(b, pages, src, w, func(day string, m *schema.Message) { days[day] = append(days[day], *m) })
	pages = nil

	with := func(change func(*fileFormat)) fileFormat {
		f := beforeFormat()
		change(&f)
		return f
	}
	plus := func(cols ...string) func(*fileFormat) {
		return func(f *fileFormat) { f.dictColumns = append(slices.Clone(f.dictColumns), cols...) }
	}
	delta := func(f *fileFormat) { f.deltaColumns = []string{"sent_at", "extracted_at"} }
	// Schema candidates, not encodings: rows changed the way a messages schema version 2 could
	// change them, written in the lake's format, to size what such a version would save.
	shortKey := func(m *schema.Message) { // 64 bits of the identity hash instead of 128
		if hash, occ, ok := strings.Cut(m.MessageKey, "-"); ok && len(hash) == 32 {
			m.MessageKey = hash[:16] + "-" + occ
		}
	}
	noSourceTimestamp := func(m *schema.Message) { m.SourceTimestamp = "" } // upper bound: all derivable
	type variant struct {
		name string
		f    fileFormat
		edit func(*schema.Message) // nil: the rows as they are
	}
	candidates := []variant{
		{"schema-candidate-key-64-bits", messageFormat(), shortKey},
		{"schema-candidate-no-source_timestamp", messageFormat(), noSourceTimestamp},
		{"schema-candidate-both", messageFormat(), func(m *schema.Message) { shortKey(m); noSourceTimestamp(m) }},
	}
	variants := []struct {
		name string
		f    fileFormat
	}{
		{"lake", messageFormat()},
		{"before", beforeFormat()},
		{"no-dictionaries", fileFormat{}},
		{"dict+channel_user_id", with(plus("channel_user_id"))},
		{"dict+channel_user_id+user_id", with(plus("channel_user_id", "user_id"))},
		{"dict+source_timestamp", with(plus("source_timestamp"))},
		{"dict+text", with(plus("text"))},
		{"dict+extra_json", with(plus("extra_json"))},
		{"dict+text+extra_json+file_url", with(plus("text", "extra_json", "file_url"))},
		{"dict-only-varying", with(func(f *fileFormat) { f.dictColumns = varyingDictColumns() })},
		{"varying+text", with(func(f *fileFormat) { f.dictColumns = append(varyingDictColumns(), "text") })},
		{"varying+text+zstd-1", with(func(f *fileFormat) { f.dictColumns, f.zstdLevel = append(varyingDictColumns(), "text"), 1 })},
		{"varying+text+zstd-7", with(func(f *fileFormat) { f.dictColumns, f.zstdLevel = append(varyingDictColumns(), "text"), 7 })},
		{"delta-timestamps", with(delta)},
		{"lake+prefix-source_timestamp", func() fileFormat { f := messageFormat(); f.prefixColumns = []string{"source_timestamp"}; return f }()},
		{"lake+prefix-source_timestamp+delta-timestamps", func() fileFormat {
			f := messageFormat()
			f.prefixColumns, f.deltaColumns = []string{"source_timestamp"}, []string{"sent_at", "extracted_at"}
			return f
		}()},
		{"zstd-1", with(func(f *fileFormat) { f.zstdLevel = 1 })},
		{"zstd-7", with(func(f *fileFormat) { f.zstdLevel = 7 })},
		{"zstd-11", with(func(f *fileFormat) { f.zstdLevel = 11 })},
		{"page-256KiB", with(func(f *fileFormat) { f.pageSize = 256 << 10 })},
		{"page-4MiB", with(func(f *fileFormat) { f.pageSize = 4 << 20 })},
	}
	all := make([]variant, 0, len(variants)+len(candidates))
	for _, v := range variants {
		all = append(all, variant{name: v.name, f: v.f})
	}
	all = append(all, candidates...)
	mem := memory.NewGoAllocator()
	for _, v := range all {
		b.Run(v.name, func(b *testing.B) {
			var size int64
			var scratch []schema.Message
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				size = 0
				for _, day := range slices.Sorted(maps.Keys(days)) {
					cw := &countingWriter{w: io.Discard}
					fw, err := newMessageFileWriterFormat(cw, mem, DefaultRowGroupRows, src.RunID, v.f)
					if err != nil {
						b.Fatal(err)
					}
					for rows := days[day]; len(rows) > 0; {
						k := min(len(rows), DefaultRowGroupRows)
						scratch = append(scratch[:0], rows[:k]...) // write consumes its rows
						if v.edit != nil {
							for i := range scratch {
								v.edit(&scratch[i])
							}
						}
						if err := fw.write(scratch); err != nil {
							b.Fatal(err)
						}
						rows = rows[k:]
					}
					if err := fw.close(); err != nil {
						b.Fatal(err)
					}
					size += cw.n
				}
			}
			if v.name == "lake" {
				logColumnSizes(b, days, src.RunID, v.f, n)
			}
			b.ReportMetric(float64(size)/float64(jsonBytes), "lake/json")
			b.ReportMetric(float64(size)/float64(n), "bytes/msg")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*int64(b.N)), "ns/msg")
		})
	}
}

// beforeFormat is the lake's format before issue 10: twelve dictionary columns, zstd's
// default level. The variants below change one setting of it.
func beforeFormat() fileFormat {
	return fileFormat{dictColumns: []string{
		"customer_id", "bot_key", "channel", "sender", "message_type", "template_name",
		"template_language", "broadcast_id", "run_id", "file_mime_type", "file_upload_type", "agent_id",
	}}
}

// varyingDictColumns are beforeFormat's dictionary columns without those that hold one value
// per file (customer_id, bot_key, run_id).
func varyingDictColumns() []string {
	return slices.DeleteFunc(beforeFormat().dictColumns, func(c string) bool {
		return c == "customer_id" || c == "bot_key" || c == "run_id"
	})
}

// logColumnSizes logs the compressed bytes per message of each column of the messages in
// format f, largest first: where the lake's bytes go.
func logColumnSizes(b *testing.B, days map[string][]schema.Message, runID string, f fileFormat, n int64) {
	b.Helper()
	sizes := map[string]int64{}
	for _, rows := range days {
		var buf bytes.Buffer
		fw, err := newMessageFileWriterFormat(&buf, memory.NewGoAllocator(), DefaultRowGroupRows, runID, f)
		if err != nil {
			b.Fatal(err)
		}
		if err := errors.Join(fw.write(slices.Clone(rows)), fw.close()); err != nil {
			b.Fatal(err)
		}
		r, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		md := r.MetaData()
		for g := range md.NumRowGroups() {
			rg := md.RowGroup(g)
			for c := range rg.NumColumns() {
				cc, err := rg.ColumnChunk(c)
				if err != nil {
					b.Fatal(err)
				}
				sizes[cc.PathInSchema().String()] += cc.TotalCompressedSize()
			}
		}
		r.Close()
	}
	cols := slices.SortedFunc(maps.Keys(sizes), func(x, y string) int { return cmp.Compare(sizes[y], sizes[x]) })
	var line strings.Builder
	for _, c := range cols {
		fmt.Fprintf(&line, " %s %.2f", c, float64(sizes[c])/float64(n))
	}
	b.Logf("compressed bytes/msg by column:%s", line.String())
}
