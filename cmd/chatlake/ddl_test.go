package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chatlake/chatlake/internal/lakecheck"
)

// demoLake exports the demo into a temporary lake with `chatlake demo` and adds an older users
// snapshot (a copy of the demo's), so users holds two rows per user.
func demoLake(t testing.TB, extra ...string) string {
	t.Helper()
	lake := filepath.Join(t.TempDir(), "lake")
	var out, stderr bytes.Buffer
	if err := run(context.Background(), append([]string{"demo", "--lake", lake}, extra...), &out, &stderr); err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out.String(), stderr.String())
	}
	snaps, err := filepath.Glob(filepath.Join(lake, "users", "snapshot_date=*", "*.parquet"))
	if err != nil || len(snaps) != 1 {
		t.Fatalf("the demo wrote users snapshots %v (%v), want one", snaps, err)
	}
	older := filepath.Join(lake, "users", "snapshot_date=2024-05-01", "part-00000.parquet")
	if err := os.MkdirAll(filepath.Dir(older), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(snaps[0], older, 0o644); err != nil { // chroot_test.go
		t.Fatal(err)
	}
	return lake
}

// ddlViews runs `chatlake ddl --engine duckdb` in-process and executes what it prints in a
// new in-memory DuckDB.
func ddlViews(t *testing.T, lake string, extra ...string) *sql.DB {
	t.Helper()
	code, script, stderr := runCmd(t, append([]string{"ddl", "--engine", "duckdb", "--lake", lake}, extra...)...)
	if code != exitOK {
		t.Fatalf("ddl exits %d: %s", code, stderr)
	}
	db := lakecheck.Open(t)
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(script); err != nil {
		t.Fatalf("the printed definitions fail in DuckDB: %v\n%s", err, script)
	}
	return db
}

func queryInt(t *testing.T, db *sql.DB, q string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	return n
}

// sameRows fails unless queries a and b return the same multiset of rows, and shows a few
// rows that differ.
func sameRows(t *testing.T, db *sql.DB, what, a, b string) {
	t.Helper()
	q := fmt.Sprintf(`SELECT 'only in the view' AS side, * FROM ((%s) EXCEPT ALL (%s))
		UNION ALL SELECT 'only in the independent query', * FROM ((%s) EXCEPT ALL (%s)) LIMIT 6`, a, b, b, a)
	rs, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v\n%s", what, err, q)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var diffs []string
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		diffs = append(diffs, fmt.Sprint(vals...))
	}
	if err := rs.Err(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if len(diffs) > 0 {
		t.Errorf("%s differ (columns %v):\n  %s", what, cols, strings.Join(diffs, "\n  "))
	}
}

// independentSessions computes sessions without the view's LAG and running count: a message
// starts a session when NOT EXISTS an earlier message of the user within the gap, nor one at
// the same millisecond with a smaller message_key; every message belongs to the latest start
// at or before it. (Two NOT EXISTS rather than one with an OR: DuckDB plans the OR as a nested
// loop, 20 s on the demo lake.)
func independentSessions(glob string, gap time.Duration) string {
	return fmt.Sprintf(`
WITH m AS (
  SELECT * FROM read_parquet('%s', hive_partitioning = true)
),
starts AS (
  SELECT m.* FROM m
  WHERE NOT EXISTS (
    SELECT 1 FROM m p
    WHERE p.customer_id = m.customer_id AND p.bot_key = m.bot_key AND p.channel_user_id = m.channel_user_id
      AND p.sent_at < m.sent_at AND p.sent_at >= m.sent_at - to_milliseconds(%d))
    AND NOT EXISTS (
    SELECT 1 FROM m p
    WHERE p.customer_id = m.customer_id AND p.bot_key = m.bot_key AND p.channel_user_id = m.channel_user_id
      AND p.sent_at = m.sent_at AND p.message_key < m.message_key)
),
member AS (
  SELECT m.customer_id, m.bot_key, m.channel_user_id, m.message_key, max(s.sent_at) AS started_at
  FROM m JOIN starts s
    ON s.customer_id = m.customer_id AND s.bot_key = m.bot_key AND s.channel_user_id = m.channel_user_id
   AND s.sent_at <= m.sent_at
  GROUP BY ALL
)
SELECT x.customer_id, x.bot_key, x.channel_user_id, x.started_at,
       max(m.sent_at) AS ended_at,
       count(*) AS messages,
       count(*) FILTER (WHERE m.sender = 'user') AS user_messages,
       count(*) FILTER (WHERE m.sender = 'bot') AS bot_messages,
       count(*) FILTER (WHERE m.sender = 'agent') AS agent_messages,
       bool_or(m.sender = 'agent' OR m.message_type = 'AGENT_PARTICIPATION_STATUS') AS agent_joined,
       arg_min_null(m.text, (m.sent_at, m.message_key)) FILTER (WHERE m.sender = 'user') AS first_user_text,
       any_value(CASE WHEN s.message_type = 'TEMPLATE' THEN s.template_name END) AS template_name,
       any_value(CASE WHEN s.message_type = 'TEMPLATE' THEN s.broadcast_id END) AS broadcast_id
FROM member x
JOIN m USING (customer_id, bot_key, channel_user_id, message_key)
JOIN starts s ON s.customer_id = x.customer_id AND s.bot_key = x.bot_key
             AND s.channel_user_id = x.channel_user_id AND s.sent_at = x.started_at
GROUP BY ALL`, glob, gap.Milliseconds())
}

const sessionCols = `customer_id, bot_key, channel_user_id, started_at, ended_at, messages, user_messages, bot_messages,
	agent_messages, agent_joined, first_user_text, template_name, broadcast_id`

// independentBroadcasts: reach and replies with EXISTS and interval arithmetic, sessions opened
// from the independent sessions.
func independentBroadcasts(glob string, gap, window time.Duration) string {
	return fmt.Sprintf(`
WITH m AS (
  SELECT * FROM read_parquet('%s', hive_partitioning = true)
),
t AS (
  SELECT t.*, EXISTS (
           SELECT 1 FROM m r
           WHERE r.customer_id = t.customer_id AND r.bot_key = t.bot_key AND r.channel_user_id = t.channel_user_id
             AND r.sender = 'user' AND r.sent_at > t.sent_at AND r.sent_at <= t.sent_at + to_milliseconds(%d)
         ) AS answered
  FROM m t
  WHERE t.message_type = 'TEMPLATE' AND t.broadcast_id IS NOT NULL
),
opened AS (
  SELECT customer_id, bot_key, broadcast_id, template_name, count(*) AS sessions_opened
  FROM (%s) WHERE broadcast_id IS NOT NULL
  GROUP BY ALL
)
SELECT t.customer_id, t.bot_key, t.broadcast_id, t.template_name,
       count(DISTINCT t.channel_user_id) AS users_reached,
       min(t.sent_at) AS first_sent_at, max(t.sent_at) AS last_sent_at,
       count(DISTINCT t.channel_user_id) FILTER (WHERE answered) AS users_replied,
       coalesce(any_value(o.sessions_opened), 0) AS sessions_opened
FROM t LEFT JOIN opened o USING (customer_id, bot_key, broadcast_id, template_name)
GROUP BY ALL`, glob, window.Milliseconds(), independentSessions(glob, gap))
}

// TestDDLDuckDBOnDemoLake runs `chatlake ddl --engine duckdb` against a real exported lake and
// checks every view against a direct read of the files and an independent SQL computation.
func TestDDLDuckDBOnDemoLake(t *testing.T) {
	lake := demoLake(t)
	glob := lakecheck.Glob(lake)
	users := filepath.ToSlash(filepath.Join(lake, "users")) + "/*/*.parquet"
	cases := []struct {
		name        string
		flags       []string
		gap, window time.Duration
	}{
		{"defaults", nil, 30 * time.Minute, 24 * time.Hour},
		{"--session-gap 5m --reply-window 90m", []string{"--session-gap", "5m", "--reply-window", "90m"}, 5 * time.Minute, 90 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := ddlViews(t, lake, tc.flags...)

			direct := queryInt(t, db, fmt.Sprintf("SELECT count(*) FROM read_parquet('%s', hive_partitioning = true)", glob))
			if n := queryInt(t, db, "SELECT count(*) FROM messages"); n != direct || n == 0 {
				t.Errorf("messages has %d rows, the files %d", n, direct)
			}
			sameRows(t, db, "messages per dt",
				"SELECT dt, count(*) FROM messages GROUP BY dt",
				fmt.Sprintf("SELECT dt, count(*) FROM read_parquet('%s', hive_partitioning = true) GROUP BY dt", glob))

			if n, u := queryInt(t, db, "SELECT count(*) FROM users"), queryInt(t, db, "SELECT count(DISTINCT channel_user_id) FROM users"); n != 2*u {
				t.Fatalf("users has %d rows of %d users, want two snapshots of each", n, u)
			}
			sameRows(t, db, "users_latest",
				"SELECT channel_user_id, snapshot_date FROM users_latest",
				fmt.Sprintf(`SELECT channel_user_id, snapshot_date FROM read_parquet('%s', hive_partitioning = true) u
					WHERE NOT EXISTS (SELECT 1 FROM read_parquet('%s', hive_partitioning = true) v
					                  WHERE v.channel_user_id = u.channel_user_id AND v.snapshot_date > u.snapshot_date)`, users, users))

			sameRows(t, db, "sessions", "SELECT "+sessionCols+" FROM sessions",
				"SELECT "+sessionCols+" FROM ("+independentSessions(glob, tc.gap)+")")
			if n, m := queryInt(t, db, "SELECT count(*) FROM sessions"), queryInt(t, db, "SELECT count(DISTINCT channel_user_id) FROM sessions"); n <= m {
				t.Errorf("%d sessions of %d users: the demo should have several per user", n, m)
			}
			if n := queryInt(t, db, "SELECT count(*) FROM sessions WHERE CAST(timezone('UTC', started_at) AS DATE) <> CAST(timezone('UTC', ended_at) AS DATE)"); n == 0 {
				t.Error("no session of the demo crosses UTC midnight; the check above proves less than it should")
			}
			checkSessionIDs(t, db)

			bcCols := "customer_id, bot_key, broadcast_id, template_name, users_reached, first_sent_at, last_sent_at, users_replied, sessions_opened"
			sameRows(t, db, "broadcasts", "SELECT "+bcCols+" FROM broadcasts",
				"SELECT "+bcCols+" FROM ("+independentBroadcasts(glob, tc.gap, tc.window)+")")
			if n := queryInt(t, db, "SELECT count(*) FROM broadcasts WHERE reply_rate <> users_replied / users_reached OR users_replied = 0 OR users_replied >= users_reached"); n != 0 {
				t.Errorf("%d broadcasts have a wrong reply_rate, or no or all users replied (the check proves less)", n)
			}
			if n := queryInt(t, db, "SELECT count(*) FROM broadcasts"); n == 0 {
				t.Error("the demo lake has no broadcasts")
			}
		})
	}

	t.Run("queries of docs/schema.md over the views", func(t *testing.T) {
		db := ddlViews(t, lake)
		text, err := os.ReadFile(filepath.Join("..", "..", "docs", "schema.md"))
		if err != nil {
			t.Fatal(err)
		}
		blocks := regexp.MustCompile("(?s)```sql views\n(.*?)```").FindAllStringSubmatch(string(text), -1)
		if len(blocks) == 0 {
			t.Fatal("docs/schema.md has no ```sql views block")
		}
		for _, b := range blocks {
			rs, err := db.Query(b[1])
			if err != nil {
				t.Errorf("the query fails: %v\n%s", err, b[1])
				continue
			}
			n := 0
			for rs.Next() {
				n++
			}
			rs.Close()
			if n == 0 {
				t.Errorf("the query returns no row on the demo lake:\n%s", b[1])
			}
		}
	})
}

// checkSessionIDs recomputes every session_id in Go: the MD5 of
// customer_id|bot_key|channel_user_id|epoch milliseconds of started_at.
func checkSessionIDs(t *testing.T, db *sql.DB) {
	t.Helper()
	rs, err := db.Query("SELECT session_id, customer_id, bot_key, channel_user_id, started_at FROM sessions")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	seen := map[string]bool{}
	for rs.Next() {
		var id, c, b, u string
		var start time.Time
		if err := rs.Scan(&id, &c, &b, &u, &start); err != nil {
			t.Fatal(err)
		}
		sum := md5.Sum([]byte(fmt.Sprintf("%s|%s|%s|%d", c, b, u, start.UnixMilli())))
		if want := hex.EncodeToString(sum[:]); id != want {
			t.Fatalf("session of %s at %s: id %s, want %s", u, start, id, want)
		}
		if seen[id] {
			t.Fatalf("session_id %s twice", id)
		}
		seen[id] = true
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestDDLFlags: the flags reach the definitions of every engine; a relative lake is written
// absolute, for DuckDB too (its views then work from any directory).
func TestDDLFlags(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "lake"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--engine", "bigquery", "--lake", "gs://acme/chat", "--require-partition-filter", "--schema", "acme-proj.chat"},
			[]string{"CREATE OR REPLACE EXTERNAL TABLE `acme-proj.chat.messages`", "require_hive_partition_filter = true", "hive_partition_uri_prefix = 'gs://acme/chat/messages'"}},
		{[]string{"--engine", "spark", "--lake", "gs://acme/chat", "--session-gap", "45m"},
			[]string{"MSCK REPAIR TABLE chatlake.messages", "gap_ms > 2700000"}},
		{[]string{"--engine", "trino", "--lake", "file://" + dir, "--reply-window", "2h", "--schema", "lake.chat"},
			[]string{"CALL lake.system.sync_partition_metadata('chat', 'messages', 'FULL')", "<= 7200000", "external_location = 'file://" + dir + "/messages'"}},
		{[]string{"--engine", "duckdb", "--lake", "lake"},
			[]string{"read_parquet('" + dir + "/lake/messages/dt=*/*.parquet'"}},
		{[]string{"--engine", "duckdb", "--lake", "gs://acme/chat"},
			[]string{"read_parquet('gs://acme/chat/messages/dt=*/*.parquet', hive_partitioning = true"}},
		{[]string{"--engine", "athena", "--lake", "s3://acme/chat", "--first-day", "2023-06-01", "--schema", "lake"},
			[]string{"CREATE EXTERNAL TABLE IF NOT EXISTS lake.messages", "'projection.dt.range' = '2023-06-01,NOW'", "'storage.location.template' = 's3://acme/chat/messages/dt=${dt}/'"}},
		{[]string{"--engine", "trino", "--lake", "lake", "--table-format", "iceberg"},
			[]string{"--   iceberg.jdbc-catalog.connection-url=jdbc:sqlite:" + dir + "/lake/_chatlake/catalog.db\n", "FROM chatlake.chatlake.messages\n"}},
		{[]string{"--engine", "spark", "--lake", "gs://acme/chat", "--table-format", "iceberg", "--catalog", "postgres://reader@pg:5432/cat"},
			[]string{"--   spark.sql.catalog.chatlake.uri jdbc:postgresql://pg:5432/cat\n", "--   spark.sql.catalog.chatlake.jdbc.user reader\n",
				"CREATE OR REPLACE VIEW spark_catalog.chatlake.sessions AS"}},
		{[]string{"--engine", "athena", "--lake", "s3://acme/chat", "--table-format", "iceberg", "--catalog", "glue:"},
			[]string{"CREATE OR REPLACE VIEW chatlake.sessions AS", "FROM awsdatacatalog.chatlake.messages\n"}},
		{[]string{"--engine", "trino", "--lake", "s3://acme/chat", "--table-format", "iceberg", "--catalog", "glue://123456789012"},
			[]string{"--   iceberg.catalog.type=glue\n", "--   hive.metastore.glue.catalogid=123456789012\n"}},
		{[]string{"--engine", "duckdb", "--lake", "lake", "--table-format", "iceberg", "--catalog", "sqlite:other.db"},
			[]string{"FROM iceberg_scan('" + dir + "/lake/messages', allow_moved_paths = true);"}},
	}
	for _, tc := range cases {
		code, out, stderr := runCmd(t, append([]string{"ddl"}, tc.args...)...)
		if code != exitOK {
			t.Fatalf("ddl %v exits %d: %s", tc.args, code, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("ddl %v: the output lacks %q", tc.args, w)
			}
		}
	}
}

// TestDDLBadInput: a wrong ddl command line, or a local lake that is not there, is a one-line
// error naming the flag, exit 2, and nothing on stdout.
func TestDDLBadInput(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-lake")
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no flags", nil, "missing required flag(s): --engine, --lake"},
		{"no lake", []string{"--engine", "duckdb"}, "missing required flag(s): --lake"},
		{"no engine", []string{"--lake", "lake"}, "missing required flag(s): --engine"},
		{"unknown engine", []string{"--engine", "postgres", "--lake", "lake"}, `--engine: unknown engine "postgres"`},
		{"not a duration", []string{"--engine", "duckdb", "--lake", "lake", "--session-gap", "half an hour"}, "-session-gap"},
		{"negative gap", []string{"--engine", "duckdb", "--lake", "lake", "--session-gap", "-5m"}, "--session-gap -5m must be 1ms..366d"},
		{"zero gap", []string{"--engine", "duckdb", "--lake", "lake", "--session-gap", "0"}, "--session-gap 0s must be 1ms..366d"},
		{"not whole milliseconds", []string{"--engine", "duckdb", "--lake", "lake", "--session-gap", "1500us"}, "--session-gap: 1.5ms is not a positive whole number of milliseconds"},
		{"sub-millisecond window", []string{"--engine", "duckdb", "--lake", "lake", "--reply-window", "10us"}, "--reply-window 10µs must be 1ms..366d"},
		{"local lake for bigquery", []string{"--engine", "bigquery", "--lake", "/data/lake"}, "--lake: \"/data/lake\": BigQuery reads only gs://"},
		{"s3 lake for spark", []string{"--engine", "spark", "--lake", "s3://b/p"}, "--lake: \"s3://b/p\": unsupported scheme"},
		{"gs lake for athena", []string{"--engine", "athena", "--lake", "gs://b/p"}, "--lake: \"gs://b/p\": Athena reads only s3://"},
		{"first day for trino", []string{"--engine", "trino", "--lake", "s3://b/p", "--first-day", "2024-01-01"}, "--first-day: is an Athena option"},
		{"bad first day", []string{"--engine", "athena", "--lake", "s3://b/p", "--first-day", "2024-02-30"}, "--first-day: \"2024-02-30\""},
		{"partition filter for duckdb", []string{"--engine", "duckdb", "--lake", "lake", "--require-partition-filter"}, "--require-partition-filter"},
		{"bad schema", []string{"--engine", "trino", "--lake", "lake", "--schema", "chat"}, "--schema: \"chat\""},
		{"stray argument", []string{"--engine", "duckdb", "--lake", "lake", "extra"}, `unexpected argument "extra"`},
		{"missing lake", []string{"--engine", "duckdb", "--lake", missing}, "--lake " + missing + ": no lake there"},
		{"missing file lake", []string{"--engine", "trino", "--lake", "file://" + missing}, "--lake file://" + missing + ": no lake there"},
		{"lake is a file", []string{"--engine", "spark", "--lake", file}, "--lake " + file + ": not a lake directory"},
		{"unknown table format", []string{"--engine", "duckdb", "--lake", "lake", "--table-format", "delta"}, `--table-format "delta" must be one of hive, iceberg`},
		{"athena on an iceberg lake without glue", []string{"--engine", "athena", "--lake", "s3://b/p", "--table-format", "iceberg"}, "--catalog: Athena reads Iceberg tables from the AWS Glue Data Catalog only"},
		{"athena on a jdbc catalog", []string{"--engine", "athena", "--lake", "s3://b/p", "--table-format", "iceberg", "--catalog", "postgres://u@pg/cat"}, "--catalog: Athena reads Iceberg tables from the AWS Glue Data Catalog only"},
		{"glue catalog of another form", []string{"--engine", "spark", "--lake", "s3://b/p", "--table-format", "iceberg", "--catalog", "glue://AKIAEXAMPLE@eu-west-1"}, "--catalog: a glue catalog is glue: or glue://ACCOUNT_ID"},
		{"no catalog for a cloud lake", []string{"--engine", "spark", "--lake", "gs://b/p", "--table-format", "iceberg"}, "--catalog: required for a lake in cloud storage"},
		{"catalog on a hive lake", []string{"--engine", "duckdb", "--lake", "lake", "--catalog", "sqlite:c.db"}, "--catalog: is the Iceberg catalog of an Iceberg lake"},
		{"rest catalog", []string{"--engine", "trino", "--lake", "gs://b/p", "--table-format", "iceberg", "--catalog", "https://polaris/api"}, "--catalog: a https: URI is not a catalog"},
		{"partition filter on an iceberg lake", []string{"--engine", "bigquery", "--lake", "gs://b/p", "--table-format", "iceberg", "--require-partition-filter"}, "--require-partition-filter: is an option of a Hive lake's"},
		{"missing iceberg lake", []string{"--engine", "trino", "--lake", missing, "--table-format", "iceberg"}, "--lake " + missing + ": no lake there"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, append([]string{"ddl"}, tc.args...)...)
			if code != exitBadInput {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitBadInput, stderr)
			}
			if stdout != "" {
				t.Errorf("printed on stdout:\n%s", stdout)
			}
			if last := lastLine(stderr); !strings.HasPrefix(last, "chatlake: ") || !strings.Contains(last, tc.want) {
				t.Errorf("error line %q does not contain %q", last, tc.want)
			}
		})
	}
}

// TestDDLCatalogSecret: the password of a postgres catalog, from --catalog or its environment
// variable, is on neither stdout nor stderr, whether the definitions are printed or the URI is
// refused.
func TestDDLCatalogSecret(t *testing.T) {
	const secret = "pw-Zq81xK-not-to-print"
	cases := []struct {
		name    string
		args    []string
		env     string // $CHATLAKE_CATALOG
		refused bool
	}{
		{"flag", []string{"--engine", "spark", "--lake", "gs://b/p", "--catalog", "postgres://reader:" + secret + "@pg:5432/cat?sslmode=require"}, "", false},
		{"environment", []string{"--engine", "trino", "--lake", "gs://b/p"}, "postgresql://reader:" + secret + "@pg/cat?password=" + secret, false},
		{"refused flag", []string{"--engine", "spark", "--lake", "gs://b/p", "--catalog", "postgres://reader:" + secret + "@pg:port/cat"}, "", true},
		{"refused environment", []string{"--engine", "trino", "--lake", "gs://b/p"}, "postgres://reader:" + secret + "@pg/#" + secret, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(envName("catalog"), tc.env)
			code, stdout, stderr := runCmd(t, append([]string{"ddl", "--table-format", "iceberg"}, tc.args...)...)
			if want := map[bool]int{false: exitOK, true: exitBadInput}[tc.refused]; code != want {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, want, stderr)
			}
			if tc.refused && !strings.Contains(lastLine(stderr), "--catalog") {
				t.Errorf("the error does not name --catalog: %s", lastLine(stderr))
			}
			for i := 0; i+6 <= len(secret); i++ {
				if part := secret[i : i+6]; strings.Contains(stdout, part) || strings.Contains(stderr, part) {
					t.Fatalf("the output shows the password (%q)", part)
				}
			}
		})
	}
}

// BenchmarkDDLSessions measures a query on the sessions view against the same query on a
// table made from it, on the demo lake (docs/schema.md gives the figures):
// go test ./cmd/chatlake -run '^$' -bench DDLSessions
func BenchmarkDDLSessions(b *testing.B) {
	lake := demoLake(b)
	var script, stderr bytes.Buffer
	if err := run(context.Background(), []string{"ddl", "--engine", "duckdb", "--lake", lake}, &script, &stderr); err != nil {
		b.Fatal(err)
	}
	db := lakecheck.Open(b)
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(script.String() + "; CREATE TABLE sessions_table AS SELECT * FROM sessions"); err != nil {
		b.Fatal(err)
	}
	for _, from := range []string{"sessions", "sessions_table"} {
		b.Run(from, func(b *testing.B) {
			q := "SELECT CAST(started_at AS DATE) AS day, count(*), avg(duration_s) FROM " + from + " GROUP BY ALL ORDER BY ALL"
			for b.Loop() {
				rs, err := db.Query(q)
				if err != nil {
					b.Fatal(err)
				}
				for rs.Next() {
				}
				rs.Close()
			}
		})
	}
}
