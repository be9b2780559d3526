package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

func ptr(s string) *string { return &s }

// testMessage is message i of a day: every fourth has nulls, others vary every column.
func testMessage(day string, i int) schema.Message {
	base, err := time.Parse(schema.DayLayout, day)
	if err != nil {
		panic(err)
	}
	sent := base.Add(time.Duration(i%86400)*time.Second + time.Duration(i%1000)*time.Millisecond)
	m := schema.Message{
		CustomerID:      "42",
		BotKey:          "0123456789abcdef",
		ChannelUserID:   fmt.Sprintf("9190000%05d", i%97),
		Sender:          []string{"user", "bot", "agent"}[i%3],
		MessageType:     []string{"TEXT", "OPTIONS", "FILE_RECEIVED", "TEMPLATE"}[i%4],
		SentAt:          sent,
		SourceTimestamp: sent.Format("2006-01-02 15:04:05.000-0700"),
		MessageKey:      fmt.Sprintf("k-%s-%07d", day, i),
		RunID:           "run-gen",
		ExtractedAt:     base.Add(48 * time.Hour),
	}
	if i%4 != 0 {
		m.Channel = ptr("whatsapp")
		m.UserID = ptr(m.ChannelUserID)
		m.Text = ptr(fmt.Sprintf("message %d of %s, with some text to compress: %s", i, day, strings.Repeat("ab", i%13)))
		m.FileURL = ptr(fmt.Sprintf("https://files.example/%d.jpeg", i))
		m.FileMimeType = ptr("image/jpeg")
		m.FileUploadType = ptr("IMAGE")
		m.AgentID = ptr("128654")
		m.Options = []string{"⭐", "⭐⭐"}
		m.TemplateName = ptr("order_shipped")
		m.TemplateLanguage = ptr("en")
		m.BroadcastID = ptr("nov-promo")
		m.ExtraJSON = ptr(`{"attachments":null}`)
	}
	if i%7 == 1 {
		m.Text = ptr("") // an empty string is not NULL
		m.Options = []string{}
	}
	return m
}

func testDay(day string, from, to int) []schema.Message {
	out := make([]schema.Message, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, testMessage(day, i))
	}
	return out
}

// newTestLake is a lake whose Arrow memory is checked for leaks at the end of the test.
func newTestLake(t testing.TB, store storage.Store, o Options) *Lake {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	o.Allocator = mem
	if o.TempDir == "" {
		o.TempDir = t.TempDir()
	}
	l, err := NewLake(store, &o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// stage stages rows in a new stage closed at the end of the test.
func stage(t testing.TB, l *Lake, rows ...[]schema.Message) *Stage {
	t.Helper()
	s, err := l.NewStage()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, r := range rows {
		if err := s.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// publish stages rows and publishes days, failing the test on error.
func publish(t testing.TB, l *Lake, days []string, runID string, rows ...[]schema.Message) PublishStats {
	t.Helper()
	s := stage(t, l, rows...)
	st, err := publishStage(l, context.Background(), s, days, runID)
	if err != nil {
		t.Fatalf("publish %v: %v", days, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return st
}

// snapshot is every object of the store, by name.
func snapshot(t testing.TB, s storage.Store, prefix string) map[string]string {
	t.Helper()
	objs, err := s.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, len(objs))
	for _, o := range objs {
		data, _, err := s.Get(context.Background(), o.Name)
		if err != nil {
			t.Fatal(err)
		}
		out[o.Name] = string(data)
	}
	return out
}

// partitionFiles are the base names of the files of a day's partition.
func partitionFiles(t testing.TB, s storage.Store, day string) []string {
	t.Helper()
	objs, err := s.List(context.Background(), partitionDir(day))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, strings.TrimPrefix(o.Name, partitionDir(day)))
	}
	return names
}

// readFile reads a whole Parquet file of messages back with pqarrow.
func readFile(t testing.TB, s storage.Store, name string) []schema.Message {
	t.Helper()
	rows, err := readMessages(s, name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return rows
}

func readMessages(s storage.Store, name string) ([]schema.Message, error) {
	r, err := s.Open(context.Background(), name)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return nil, err
	}
	mem := memory.NewGoAllocator()
	tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(data), nil, pqarrow.ArrowReadProperties{}, mem)
	if err != nil {
		return nil, err
	}
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 1000)
	defer tr.Release()
	var out []schema.Message
	for tr.Next() {
		rec := tr.RecordBatch()
		col := func(name string) arrow.Array {
			idx := rec.Schema().FieldIndices(name)
			if len(idx) != 1 {
				panic("no column " + name)
			}
			return rec.Column(idx[0])
		}
		str := func(name string, i int) string { return col(name).(*array.String).Value(i) }
		nstr := func(name string, i int) *string {
			a := col(name).(*array.String)
			if a.IsNull(i) {
				return nil
			}
			return ptr(a.Value(i))
		}
		ts := func(name string, i int) time.Time {
			a := col(name).(*array.Timestamp)
			return a.Value(i).ToTime(a.DataType().(*arrow.TimestampType).Unit)
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			m := schema.Message{
				CustomerID: str("customer_id", i), BotKey: str("bot_key", i),
				ChannelUserID: str("channel_user_id", i), Channel: nstr("channel", i),
				UserID: nstr("user_id", i), Sender: str("sender", i), MessageType: str("message_type", i),
				Text: nstr("text", i), SentAt: ts("sent_at", i), SourceTimestamp: str("source_timestamp", i),
				FileURL: nstr("file_url", i), FileMimeType: nstr("file_mime_type", i),
				FileUploadType: nstr("file_upload_type", i), AgentID: nstr("agent_id", i),
				TemplateName: nstr("template_name", i), TemplateLanguage: nstr("template_language", i),
				BroadcastID: nstr("broadcast_id", i), ExtraJSON: nstr("extra_json", i),
				MessageKey: str("message_key", i), RunID: str("run_id", i), ExtractedAt: ts("extracted_at", i),
			}
			if l := col("options").(*array.List); !l.IsNull(i) {
				start, end := l.ValueOffsets(i)
				vals := l.ListValues().(*array.String)
				m.Options = make([]string, 0, end-start)
				for j := start; j < end; j++ {
					m.Options = append(m.Options, vals.Value(int(j)))
				}
			}
			out = append(out, m)
		}
	}
	return out, tr.Err()
}

// readPartition reads every file of a day: rows by file base name.
func readPartition(t testing.TB, s storage.Store, day string) map[string][]schema.Message {
	t.Helper()
	out := make(map[string][]schema.Message)
	for _, name := range partitionFiles(t, s, day) {
		out[name] = readFile(t, s, partitionDir(day)+name)
	}
	return out
}

// mergeStaged publishes day from the staged batches idx (read through f when it is not nil) as
// run-1 of plan-1, replacing every user, and checks that the partition then holds want, in any
// order.
func mergeStaged(t testing.TB, l *Lake, s storage.Store, day string, idx []*StagedBatch, f *StagedFetch, want []schema.Message) {
	t.Helper()
	in := MergeInput{Plan: "plan-1", Attempt: "a1", Replace: func(string) bool { return true }, RunID: "run-1", Staged: idx, Fetched: f}
	if _, err := l.Merge(context.Background(), day, in); err != nil {
		t.Fatal(err)
	}
	var got []schema.Message
	for _, rows := range readPartition(t, s, day) {
		got = append(got, rows...)
	}
	if !reflect.DeepEqual(sortByKey(got), sortByKey(want)) {
		t.Errorf("%s: published rows differ from staged: %s", day, firstDiff(sortByKey(got), sortByKey(want)))
	}
}

// keysOf maps each message key of a partition to its file.
func keysOf(t testing.TB, files map[string][]schema.Message) map[string]string {
	t.Helper()
	out := make(map[string]string)
	for name, rows := range files {
		for _, m := range rows {
			if prev, dup := out[m.MessageKey]; dup {
				t.Errorf("key %s in %s and %s", m.MessageKey, prev, name)
			}
			out[m.MessageKey] = name
		}
	}
	return out
}

// sortByKey sorts rows by message key, for comparison.
func sortByKey(rows []schema.Message) []schema.Message {
	out := slices.Clone(rows)
	slices.SortFunc(out, func(a, b schema.Message) int { return strings.Compare(a.MessageKey, b.MessageKey) })
	return out
}

// fileMeta reads a file's key-value metadata.
func fileMeta(t testing.TB, s storage.Store, name string) map[string]string {
	t.Helper()
	r, err := s.Open(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	out := make(map[string]string)
	kv := pf.MetaData().KeyValueMetadata()
	for i, k := range kv.Keys() {
		out[k] = kv.Values()[i]
	}
	return out
}

// readColumn reads one string column of a Parquet file.
func readColumn(t testing.TB, s storage.Store, name, column string) []string {
	t.Helper()
	r, err := s.Open(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(data), nil, pqarrow.ArrowReadProperties{}, memory.NewGoAllocator())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	idx := tbl.Schema().FieldIndices(column)
	if len(idx) != 1 {
		t.Fatalf("%s has no column %s", name, column)
	}
	var out []string
	for _, c := range tbl.Column(idx[0]).Data().Chunks() {
		a := c.(*array.String)
		for i := 0; i < a.Len(); i++ {
			out = append(out, a.Value(i))
		}
	}
	return out
}

// publishStage publishes the rows of s as the whole content of days: the stage becomes batch 0
// of a plan, and each day is merged with every user replaced. It is what a run that exported
// every user of those days does.
func publishStage(l *Lake, ctx context.Context, s *Stage, days []string, runID string) (PublishStats, error) {
	var total PublishStats
	plan := "plan-" + runID
	idx, _, err := l.stageBatch(ctx, plan, "a1", 0, s)
	if err != nil {
		return total, err
	}
	pub, err := l.BeginPublication(ctx, plan, "a1", runID)
	if err != nil {
		return total, err
	}
	for _, d := range days {
		st, err := l.Merge(ctx, d, MergeInput{Plan: plan, Attempt: "a1", Replace: func(string) bool { return true }, RunID: runID,
			Staged: []*StagedBatch{idx}, Publication: pub})
		if err != nil {
			return total, err
		}
		total.add(st)
	}
	if err := pub.Commit(ctx); err != nil {
		return total, err
	}
	return total, l.RemoveRun(ctx, plan)
}

// sliceSource yields rows from a slice.
type sliceSource struct{ rows []schema.Message }

func (s *sliceSource) next(m *schema.Message) error {
	if len(s.rows) == 0 {
		return io.EOF
	}
	*m, s.rows = s.rows[0], s.rows[1:]
	return nil
}

// newLocalStore is a storage.Local in a new temporary directory.
func newLocalStore(t testing.TB) *storage.Local {
	t.Helper()
	s, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// names lists the names of the objects under prefix.
func names(t testing.TB, s storage.Store, prefix string) []string {
	t.Helper()
	objs, err := s.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Name)
	}
	return out
}

// decodeRows appends the rows of d's next record batch to dst as Go values (copied strings);
// io.EOF after the last. The merge reads batches by columns; tests and benchmarks read rows.
func decodeRows(d batchDecoder, dst []schema.Message) ([]schema.Message, error) {
	rec, err := d.next()
	if err != nil {
		return dst, err
	}
	return schema.AppendMessages(dst, rec)
}
