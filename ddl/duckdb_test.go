package ddl

import (
	"bytes"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" database/sql driver

	"github.com/chatlake/chatlake/schema"
)

// These tests build small lakes with DuckDB itself (COPY ... TO 'messages/dt=.../x.parquet'),
// with every column of schema.Messages() in its type, run the DuckDB definitions over them,
// and check the views on the cases that break naive sessionisation: a session across UTC
// midnight (two dt partitions), a gap of exactly the limit, and a late message that merges two
// sessions, within a partition and across one.

// fx is one fixture message. Times are UTC, "2024-05-01 23:50:00.000".
type fx struct {
	user, at, sender, typ, text string
	template, broadcast         string // "" is NULL
	key                         string // message_key; "" derives one from user, at and the file
}

func openDuckDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1) // one session: SET TimeZone and the views stay on it
	t.Cleanup(func() { db.Close() })
	return db
}

// fixtureType is the DuckDB type of an Arrow type of the schemas, written out here rather than
// taken from the package under test.
func fixtureType(t *testing.T, s string) string {
	switch {
	case s == "utf8":
		return "VARCHAR"
	case s == "timestamp[ms, tz=UTC]":
		return "TIMESTAMPTZ"
	case strings.HasPrefix(s, "list<item: utf8"):
		return "VARCHAR[]"
	}
	t.Fatalf("fixture: no DuckDB type for %s", s)
	return ""
}

// writeMessages writes rows as one Parquet file messages/dt=<dt>/<file> of the lake dir.
func writeMessages(t *testing.T, db *sql.DB, dir, dt, file string, rows []fx) {
	t.Helper()
	var vals []string
	for i, r := range rows {
		if r.key == "" {
			r.key = fmt.Sprintf("%s|%s|%s|%d", r.user, r.at, file, i)
		}
		if r.sender == "" {
			r.sender = "user"
		}
		if r.typ == "" {
			r.typ = "TEXT"
		}
		vals = append(vals, fmt.Sprintf("(%s, %s, %s, %s, %s, %s, %s, %s)", quote(r.user), quote(r.at), quote(r.sender),
			quote(r.typ), quote(r.text), quote(r.template), quote(r.broadcast), quote(r.key)))
	}
	given := map[string]string{
		"customer_id": "'1001'", "bot_key": "'0123456789abcdef'", "channel_user_id": "u", "channel": "'whatsapp'",
		"user_id": "u", "sender": "sender", "message_type": "typ", "text": "NULLIF(txt, '')",
		"sent_at": "CAST(ts || '+00' AS TIMESTAMPTZ)", "source_timestamp": "ts || '+0000'",
		"template_name": "NULLIF(tpl, '')", "broadcast_id": "NULLIF(bc, '')", "message_key": "k",
		"run_id": "'20240602T010000Z-0badc0de'", "extracted_at": "TIMESTAMPTZ '2024-06-02 01:00:00+00'",
	}
	var sel []string
	for _, f := range schema.Messages().Fields() {
		typ := fixtureType(t, f.Type.String())
		e, ok := given[f.Name]
		if !ok {
			if !f.Nullable {
				t.Fatalf("fixture: no value for the required column %s", f.Name)
			}
			e = "NULL"
		}
		sel = append(sel, fmt.Sprintf("CAST(%s AS %s) AS %s", e, typ, f.Name))
	}
	path := filepath.Join(dir, "messages", "dt="+dt, file)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	q := fmt.Sprintf("COPY (SELECT %s FROM (VALUES %s) v(u, ts, sender, typ, txt, tpl, bc, k)) TO %s (FORMAT parquet)",
		strings.Join(sel, ", "), strings.Join(vals, ", "), quote(path))
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}

// writeUsers writes one users snapshot with the given users.
func writeUsers(t *testing.T, db *sql.DB, dir, day string, users ...string) {
	t.Helper()
	given := map[string]string{
		"customer_id": "'1001'", "bot_key": "'0123456789abcdef'", "channel_user_id": "u", "channel": "'whatsapp'",
		"attributes_json": "'{}'", "run_id": "'r-" + day + "'", "extracted_at": "CAST('" + day + " 01:00:00+00' AS TIMESTAMPTZ)",
	}
	var sel []string
	for _, f := range schema.Users().Fields() {
		e, ok := given[f.Name]
		if !ok {
			e = "NULL"
		}
		sel = append(sel, fmt.Sprintf("CAST(%s AS %s) AS %s", e, fixtureType(t, f.Type.String()), f.Name))
	}
	var vals []string
	for _, u := range users {
		vals = append(vals, "("+quote(u)+")")
	}
	path := filepath.Join(dir, "users", "snapshot_date="+day, "part-00000.parquet")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf("COPY (SELECT %s FROM (VALUES %s) v(u)) TO %s (FORMAT parquet)",
		strings.Join(sel, ", "), strings.Join(vals, ", "), quote(path))); err != nil {
		t.Fatal(err)
	}
}

// createViews runs the DuckDB definitions of the lake dir on db.
func createViews(t *testing.T, db *sql.DB, o Options) {
	t.Helper()
	o.Engine = DuckDB
	var b bytes.Buffer
	if err := Write(&b, o); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(b.String()); err != nil {
		t.Fatalf("the DuckDB definitions fail: %v\n%s", err, b.String())
	}
}

// sess is a row of the sessions view, times in UTC.
type sess struct {
	user, start, end  string
	messages          int
	template, bc      string
	firstUserText     string
	agentJoined       bool
	userMsgs, botMsgs int
}

func sessions(t *testing.T, db *sql.DB) ([]sess, map[string]string) {
	t.Helper()
	rs, err := db.Query(`SELECT session_id, channel_user_id, started_at, ended_at, messages, duration_s,
		coalesce(template_name, ''), coalesce(broadcast_id, ''), coalesce(first_user_text, ''), agent_joined,
		user_messages, bot_messages
		FROM sessions ORDER BY channel_user_id, started_at`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []sess
	ids := map[string]string{} // "user start" -> session_id
	for rs.Next() {
		var s sess
		var id string
		var start, end time.Time
		var dur float64
		if err := rs.Scan(&id, &s.user, &start, &end, &s.messages, &dur, &s.template, &s.bc, &s.firstUserText,
			&s.agentJoined, &s.userMsgs, &s.botMsgs); err != nil {
			t.Fatal(err)
		}
		if want := end.Sub(start).Seconds(); dur != want {
			t.Errorf("session %s %s: duration_s %v, want %v", s.user, start, dur, want)
		}
		s.start, s.end = utc(start), utc(end)
		ids[s.user+" "+s.start] = id
		out = append(out, s)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out, ids
}

func utc(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") }

// bounds is what a session test compares: user, start, end, messages.
func bounds(ss []sess) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%s %s..%s %d", s.user, s.start, s.end, s.messages)
	}
	return out
}

func wantBounds(t *testing.T, got []sess, want ...string) {
	t.Helper()
	if g := bounds(got); !reflect.DeepEqual(g, want) {
		t.Errorf("sessions:\n got  %s\n want %s", strings.Join(g, "\n      "), strings.Join(want, "\n      "))
	}
}

func TestSessionAcrossUTCMidnight(t *testing.T) {
	dir := t.TempDir()
	db := openDuckDB(t)
	writeUsers(t, db, dir, "2024-05-03", "a", "b")
	writeMessages(t, db, dir, "2024-05-01", "part-00000-of-00001.parquet", []fx{
		{user: "a", at: "2024-05-01 23:50:00.000", text: "hi"},
		{user: "a", at: "2024-05-01 23:59:59.999", sender: "bot", text: "hello"},
	})
	writeMessages(t, db, dir, "2024-05-02", "part-00000-of-00001.parquet", []fx{
		{user: "a", at: "2024-05-02 00:10:00.000", text: "still there?"},
		{user: "a", at: "2024-05-02 00:50:00.001", text: "next"}, // 40 min later: a new session
		{user: "b", at: "2024-05-02 00:00:00.000", text: "b alone"},
	})
	for _, tz := range []string{"UTC", "Asia/Kolkata", "America/Sao_Paulo"} {
		t.Run(tz, func(t *testing.T) {
			if _, err := db.Exec("SET TimeZone = " + quote(tz)); err != nil {
				t.Fatal(err)
			}
			createViews(t, db, Options{Lake: dir})
			got, _ := sessions(t, db)
			wantBounds(t, got,
				"a 2024-05-01 23:50:00.000..2024-05-02 00:10:00.000 3",
				"a 2024-05-02 00:50:00.001..2024-05-02 00:50:00.001 1",
				"b 2024-05-02 00:00:00.000..2024-05-02 00:00:00.000 1")
			if got[0].firstUserText != "hi" || got[0].userMsgs != 2 || got[0].botMsgs != 1 {
				t.Errorf("first session: %+v", got[0])
			}
		})
	}
}

func TestSessionGapOfExactlyTheLimit(t *testing.T) {
	dir := t.TempDir()
	db := openDuckDB(t)
	writeUsers(t, db, dir, "2024-05-03", "a")
	writeMessages(t, db, dir, "2024-05-01", "part-00000-of-00001.parquet", []fx{
		{user: "a", at: "2024-05-01 10:00:00.000", sender: "bot", typ: "TEMPLATE", text: "Offer", template: "welcome_offer", broadcast: "spring"},
		{user: "a", at: "2024-05-01 10:30:00.000", text: "yes"},      // exactly 30 min: same session
		{user: "a", at: "2024-05-01 11:00:00.001", text: "and then"}, // 30 min 1 ms: a new one
		{user: "a", at: "2024-05-01 11:00:00.001", sender: "agent", typ: "AGENT_PARTICIPATION_STATUS", text: `{"agentId":1}`},
	})
	createViews(t, db, Options{Lake: dir})
	got, _ := sessions(t, db)
	wantBounds(t, got,
		"a 2024-05-01 10:00:00.000..2024-05-01 10:30:00.000 2",
		"a 2024-05-01 11:00:00.001..2024-05-01 11:00:00.001 2")
	if len(got) == 2 {
		if got[0].template != "welcome_offer" || got[0].bc != "spring" || got[0].agentJoined {
			t.Errorf("the session the template opened: %+v", got[0])
		}
		if got[1].template != "" || got[1].bc != "" || !got[1].agentJoined || got[1].firstUserText != "and then" {
			t.Errorf("the second session: %+v", got[1])
		}
	}

	t.Run("a gap of 1 ms more than the flag", func(t *testing.T) {
		createViews(t, db, Options{Lake: dir, SessionGap: 30*time.Minute - time.Millisecond})
		got, _ := sessions(t, db)
		wantBounds(t, got,
			"a 2024-05-01 10:00:00.000..2024-05-01 10:00:00.000 1",
			"a 2024-05-01 10:30:00.000..2024-05-01 10:30:00.000 1",
			"a 2024-05-01 11:00:00.001..2024-05-01 11:00:00.001 2")
	})
	t.Run("a longer gap", func(t *testing.T) {
		createViews(t, db, Options{Lake: dir, SessionGap: time.Hour})
		got, _ := sessions(t, db)
		wantBounds(t, got, "a 2024-05-01 10:00:00.000..2024-05-01 11:00:00.001 4")
	})
}

// TestLateMessageMergesSessions: a message that arrives late (a new file in a partition, as a
// re-export publishes it) joins two sessions into one at the next query; the merged session
// keeps the id of the earlier one.
func TestLateMessageMergesSessions(t *testing.T) {
	dir := t.TempDir()
	db := openDuckDB(t)
	writeUsers(t, db, dir, "2024-05-03", "a", "b")
	writeMessages(t, db, dir, "2024-05-01", "part-00000-of-00001.parquet", []fx{
		{user: "a", at: "2024-05-01 10:00:00.000", text: "one"},
		{user: "a", at: "2024-05-01 10:45:00.000", text: "two"},
		{user: "b", at: "2024-05-01 23:40:00.000", text: "late evening"},
	})
	writeMessages(t, db, dir, "2024-05-02", "part-00000-of-00001.parquet", []fx{
		{user: "b", at: "2024-05-02 00:20:00.000", text: "after midnight"},
	})
	createViews(t, db, Options{Lake: dir})
	before, ids := sessions(t, db)
	wantBounds(t, before,
		"a 2024-05-01 10:00:00.000..2024-05-01 10:00:00.000 1",
		"a 2024-05-01 10:45:00.000..2024-05-01 10:45:00.000 1",
		"b 2024-05-01 23:40:00.000..2024-05-01 23:40:00.000 1",
		"b 2024-05-02 00:20:00.000..2024-05-02 00:20:00.000 1")

	writeMessages(t, db, dir, "2024-05-01", "part-late.parquet", []fx{
		{user: "a", at: "2024-05-01 10:20:00.000", sender: "bot", text: "late, in the same day"},
	})
	writeMessages(t, db, dir, "2024-05-02", "part-late.parquet", []fx{
		{user: "b", at: "2024-05-02 00:00:00.000", sender: "bot", text: "late, at midnight"},
	})
	after, idsAfter := sessions(t, db) // the same views, not re-created
	wantBounds(t, after,
		"a 2024-05-01 10:00:00.000..2024-05-01 10:45:00.000 3",
		"b 2024-05-01 23:40:00.000..2024-05-02 00:20:00.000 3")
	for _, k := range []string{"a 2024-05-01 10:00:00.000", "b 2024-05-01 23:40:00.000"} {
		if ids[k] == "" || idsAfter[k] != ids[k] {
			t.Errorf("session %s: id %q before the late message, %q after", k, ids[k], idsAfter[k])
		}
	}
	if len(after) == 2 && after[0].firstUserText != "one" {
		t.Errorf("first_user_text %q, want %q", after[0].firstUserText, "one")
	}
}

// TestSessionID: the id is the MD5 of customer_id|bot_key|channel_user_id|epoch ms of
// started_at, so every engine gives the same id.
func TestSessionID(t *testing.T) {
	dir := t.TempDir()
	db := openDuckDB(t)
	writeUsers(t, db, dir, "2024-05-03", "91 (x)")
	writeMessages(t, db, dir, "2024-05-01", "p.parquet", []fx{{user: "91 (x)", at: "2024-05-01 10:00:00.123", text: "x"}})
	createViews(t, db, Options{Lake: dir})
	_, ids := sessions(t, db)
	start := time.Date(2024, 5, 1, 10, 0, 0, 123e6, time.UTC)
	want := md5hex(fmt.Sprintf("1001|0123456789abcdef|91 (x)|%d", start.UnixMilli()))
	if got := ids["91 (x) 2024-05-01 10:00:00.123"]; got != want {
		t.Errorf("session_id %q, want %q", got, want)
	}
}

func TestBroadcastReplies(t *testing.T) {
	dir := t.TempDir()
	db := openDuckDB(t)
	writeUsers(t, db, dir, "2024-05-04", "e1", "e2", "e3", "e4", "e5")
	tpl := func(user, at, key string) fx {
		return fx{user: user, at: at, sender: "bot", typ: "TEMPLATE", text: "Offer", template: "welcome_offer", broadcast: "spring", key: key}
	}
	writeMessages(t, db, dir, "2024-05-01", "part-00000-of-00001.parquet", []fx{
		tpl("e1", "2024-05-01 10:00:00.000", ""),
		tpl("e2", "2024-05-01 10:00:00.000", ""),
		tpl("e3", "2024-05-01 10:00:00.000", "a-e3-template"),
		{user: "e3", at: "2024-05-01 10:00:00.000", text: "same millisecond", key: "b-e3-reply"}, // not after it
		{user: "e4", at: "2024-05-01 09:50:00.000", text: "before"},                              // the template does not open a session
		tpl("e4", "2024-05-01 10:00:00.000", ""),
		{user: "e4", at: "2024-05-01 11:00:00.000", sender: "agent", text: "an agent is no reply"},
		tpl("e5", "2024-05-01 10:00:00.000", ""),
	})
	writeMessages(t, db, dir, "2024-05-02", "part-00000-of-00001.parquet", []fx{
		{user: "e1", at: "2024-05-02 10:00:00.000", text: "exactly 24 h later"},
		{user: "e2", at: "2024-05-02 10:00:00.001", text: "24 h and 1 ms later"},
		{user: "e1", at: "2024-05-02 12:00:00.000", sender: "bot", typ: "TEMPLATE", text: "B", template: "welcome_offer_b", broadcast: "spring"},
	})
	writeMessages(t, db, dir, "2024-05-03", "part-00000-of-00001.parquet", []fx{
		tpl("e5", "2024-05-03 10:00:00.000", ""), // the same broadcast again
		{user: "e5", at: "2024-05-03 10:05:00.000", text: "now I answer"},
	})
	type row struct {
		template              string
		reached, replied      int
		rate                  float64
		first, last           string
		opened                int
		sessionsWithBroadcast int
	}
	read := func() []row {
		rs, err := db.Query(`SELECT b.template_name, users_reached, users_replied, reply_rate, first_sent_at, last_sent_at, sessions_opened,
			(SELECT count(*) FROM sessions s WHERE s.broadcast_id = b.broadcast_id AND s.template_name = b.template_name)
			FROM broadcasts b WHERE broadcast_id = 'spring' ORDER BY template_name`)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		var out []row
		for rs.Next() {
			var r row
			var first, last time.Time
			if err := rs.Scan(&r.template, &r.reached, &r.replied, &r.rate, &first, &last, &r.opened, &r.sessionsWithBroadcast); err != nil {
				t.Fatal(err)
			}
			r.first, r.last = utc(first), utc(last)
			out = append(out, r)
		}
		return out
	}
	createViews(t, db, Options{Lake: dir})
	want := []row{
		{"welcome_offer", 5, 2, 0.4, "2024-05-01 10:00:00.000", "2024-05-03 10:00:00.000", 5, 5},
		{"welcome_offer_b", 1, 0, 0, "2024-05-02 12:00:00.000", "2024-05-02 12:00:00.000", 1, 1},
	}
	if got := read(); !reflect.DeepEqual(got, want) {
		t.Errorf("broadcasts:\n got  %+v\n want %+v", got, want)
	}
	createViews(t, db, Options{Lake: dir, ReplyWindow: 24*time.Hour + time.Millisecond})
	want[0].replied, want[0].rate = 3, 0.6
	if got := read(); !reflect.DeepEqual(got, want) {
		t.Errorf("broadcasts with a reply window of 24h0m0.001s:\n got  %+v\n want %+v", got, want)
	}
}

func TestUsersLatest(t *testing.T) {
	dir := t.TempDir()
	db := openDuckDB(t)
	writeUsers(t, db, dir, "2024-05-01", "a", "b")
	writeUsers(t, db, dir, "2024-05-03", "a")
	writeMessages(t, db, dir, "2024-05-01", "p.parquet", []fx{{user: "a", at: "2024-05-01 10:00:00.000", text: "x"}})
	createViews(t, db, Options{Lake: dir})
	rs, err := db.Query("SELECT channel_user_id, CAST(snapshot_date AS VARCHAR) FROM users_latest ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var got []string
	for rs.Next() {
		var u, d string
		if err := rs.Scan(&u, &d); err != nil {
			t.Fatal(err)
		}
		got = append(got, u+" "+d)
	}
	if want := []string{"a 2024-05-03", "b 2024-05-01"}; !reflect.DeepEqual(got, want) {
		t.Errorf("users_latest %q, want %q", got, want)
	}
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestDuckDBSchema: with Options.Schema the views go into that schema and read each other
// there.
func TestDuckDBSchema(t *testing.T) {
	dir := t.TempDir()
	db := openDuckDB(t)
	writeUsers(t, db, dir, "2024-05-03", "a")
	writeMessages(t, db, dir, "2024-05-01", "p.parquet", []fx{
		{user: "a", at: "2024-05-01 10:00:00.000", sender: "bot", typ: "TEMPLATE", text: "t", template: "tpl", broadcast: "bc"},
		{user: "a", at: "2024-05-01 10:01:00.000", text: "x"},
	})
	createViews(t, db, Options{Lake: dir, Schema: "chat"})
	var sessions, replied int
	if err := db.QueryRow("SELECT (SELECT count(*) FROM chat.sessions), (SELECT users_replied FROM chat.broadcasts)").Scan(&sessions, &replied); err != nil {
		t.Fatal(err)
	}
	if sessions != 1 || replied != 1 {
		t.Errorf("chat.sessions has %d rows, chat.broadcasts %d replies; want 1 and 1", sessions, replied)
	}
	if _, err := db.Exec("SELECT * FROM main.sessions"); err == nil {
		t.Error("the views are also in main")
	}
}
