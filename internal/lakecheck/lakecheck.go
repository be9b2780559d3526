package lakecheck

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" database/sql driver

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
	"github.com/chatlake/chatlake/sim"
)

// Row is one message as DuckDB reads it from the lake.
type Row struct {
	ChannelUserID string
	SentAt        time.Time
	Sender        string
	MessageType   string
	Text          string
	TextNull      bool
	Dt            string
	MessageKey    string
}

// Open returns an in-memory DuckDB connection, closed when the test ends.
func Open(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatalf("opening duckdb: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Glob is the analysts' glob over a local lake directory.
func Glob(dir string) string {
	return filepath.ToSlash(filepath.Clean(dir)) + "/" + load.TableGlob(schema.MessagesTable)
}

// ReadMessages reads every message of a local lake with DuckDB. An error (a partial or corrupt
// file, no file at all) is returned, not fatal, so crash tests can assert on it.
func ReadMessages(ctx context.Context, db *sql.DB, dir string) ([]Row, error) {
	q := fmt.Sprintf(`SELECT channel_user_id, sent_at, sender, message_type, text, CAST(dt AS VARCHAR), message_key
		FROM read_parquet('%s', hive_partitioning = true)`, Glob(dir))
	rs, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []Row
	for rs.Next() {
		var r Row
		var text sql.NullString
		if err := rs.Scan(&r.ChannelUserID, &r.SentAt, &r.Sender, &r.MessageType, &text, &r.Dt, &r.MessageKey); err != nil {
			return nil, err
		}
		r.SentAt = r.SentAt.UTC()
		r.Text, r.TextNull = text.String, !text.Valid
		out = append(out, r)
	}
	return out, rs.Err()
}

// ColumnType returns DuckDB's type of a column of the messages table.
func ColumnType(ctx context.Context, db *sql.DB, dir, column string) (string, error) {
	var typ string
	q := fmt.Sprintf(`SELECT typeof(%s) FROM read_parquet('%s', hive_partitioning = true) LIMIT 1`, column, Glob(dir))
	err := db.QueryRowContext(ctx, q).Scan(&typ)
	return typ, err
}

func identity(channelUserID string, sentAt time.Time, sender, typ, text string) string {
	return strings.Join([]string{channelUserID, sentAt.UTC().Format("2006-01-02T15:04:05.000Z"), sender, typ, text}, "\x1f")
}

// Compare reports how the lake's rows differ from the truth as a multiset of (channel_user_id,
// sent_at, sender, message_type, text), and checks the lake's own rules: every row's dt is the
// UTC date of its sent_at and every message_key is unique. It returns "" when all holds.
func Compare(rows []Row, truth []sim.Message) string {
	want := map[string]int{}
	for _, m := range truth {
		want[identity(m.ChannelUserID, m.SentAt, m.Sender, m.MessageType, m.Text)]++
	}
	got := map[string]int{}
	keys := map[string]int{}
	var problems []string
	for _, r := range rows {
		text := r.Text
		if r.TextNull {
			text = "\x00NULL" // a lost text must not pass for an empty one
		}
		got[identity(r.ChannelUserID, r.SentAt, r.Sender, r.MessageType, text)]++
		keys[r.MessageKey]++
		if d := r.SentAt.UTC().Format("2006-01-02"); d != r.Dt {
			problems = append(problems, fmt.Sprintf("row %s at %s is in "+load.MessagesPartition+"=%s", r.MessageKey, r.SentAt.Format(time.RFC3339Nano), r.Dt))
		}
	}
	for k, n := range keys {
		if n > 1 {
			problems = append(problems, fmt.Sprintf("message_key %s appears %d times", k, n))
		}
	}
	for k, n := range want {
		if got[k] != n {
			problems = append(problems, fmt.Sprintf("truth has %d of %q, lake has %d", n, k, got[k]))
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			problems = append(problems, fmt.Sprintf("lake has %d of %q, truth has none", n, k))
		}
	}
	if len(problems) == 0 {
		return ""
	}
	sort.Strings(problems)
	if len(problems) > 20 {
		problems = append(problems[:20], fmt.Sprintf("... and %d more", len(problems)-20))
	}
	return fmt.Sprintf("lake (%d rows) differs from truth (%d messages):\n  %s", len(rows), len(truth), strings.Join(problems, "\n  "))
}

// Keys returns the message keys of rows, sorted.
func Keys(rows []Row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.MessageKey
	}
	sort.Strings(out)
	return out
}

// Download copies every object of a store into dir, so DuckDB can read a GCS lake the way it
// reads a local one (DuckDB's own gs:// support needs an extension download, which tests do not
// make).
//
// An object listed but gone when opened makes Download start over, up to a few times: a
// process killed by a test may have sent a request (the delete of a move, a cleanup) that the
// emulator carries out after the kill, while the lake is being copied. A reader that lists a
// bucket being written sees the same, and lists again.
func Download(ctx context.Context, store storage.Store, dir string) error {
	const attempts = 5
	var err error
	for range attempts {
		if err = downloadAll(ctx, store, dir); !errors.Is(err, storage.ErrNotExist) {
			return err
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%d listings in a row named an object that was gone: %w", attempts, err)
}

func downloadAll(ctx context.Context, store storage.Store, dir string) error {
	objs, err := store.List(ctx, "")
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := downloadOne(ctx, store, o.Name, filepath.Join(dir, filepath.FromSlash(o.Name))); err != nil {
			return fmt.Errorf("downloading %s: %w", o.Name, err)
		}
	}
	return nil
}

func downloadOne(ctx context.Context, store storage.Store, name, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	r, err := store.Open(ctx, name)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
