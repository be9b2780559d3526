package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/sim"
)

// testPseudonymKey is written to the key file with whitespace around it, which is trimmed.
const testPseudonymKey = "test-pseudonym-key-0123456789"

// hmacHex is HMAC-SHA256(key, s) in lower-case hex, computed here and not by the code under test.
func hmacHex(key, s string) string {
	h := hmac.New(sha256.New, []byte(key))
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

// secretsOf are the simulator's raw ids (channel user ids, the user_id of every message) and
// the users' phone numbers (attributes), as the API serves them.
func secretsOf(t *testing.T, s *testSim) []string {
	t.Helper()
	set := map[string]bool{}
	for _, id := range s.UserIDs(nil) {
		set[id] = true
	}
	for _, m := range s.Truth(nil, s.opts.From, s.opts.To, s.opts.To.AddDate(1, 0, 0)) {
		var raw struct {
			UserID string `json:"user_id"`
		}
		if err := json.Unmarshal(m.Raw, &raw); err == nil && raw.UserID != "" {
			set[raw.UserID] = true
		}
	}
	users := simUsers(t, s)
	for _, u := range users {
		for k, v := range u.Attributes {
			if strings.Contains(k, "phone") { // names (3 letters) are too short to grep: checkUsersTable sees them hashed
				set[v] = true
			}
		}
	}
	var out []string
	for v := range set {
		if len(v) < 4 {
			t.Fatalf("secret %q is too short to grep for", v)
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// simUsers are the simulator's users as its User API lists them.
func simUsers(t *testing.T, s *testSim) []extract.User {
	t.Helper()
	c, err := extract.New(extract.Options{BaseURL: s.url, CustomerID: s.opts.CustomerID, BotKey: s.opts.BotKey, APIKey: s.opts.APIKey, Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	users, err := c.ListUsers(context.Background(), toExtract(s.Selectors()))
	if err != nil {
		t.Fatal(err)
	}
	return users
}

func toExtract(sels []sim.Selector) []extract.Selector {
	out := make([]extract.Selector, len(sels))
	for i, s := range sels {
		out[i] = extract.Selector{Name: s.Name, Value: s.Value}
	}
	return out
}

// forms are the ways a secret can be written in a file or a log.
func forms(s string) []string {
	q, _ := json.Marshal(s)
	return slices.Compact([]string{s, url.PathEscape(s), url.QueryEscape(s), strings.Trim(string(q), `"`)})
}

// assertNoSecrets fails if any secret, in any form, is in the lake's bytes (every file, and
// every Parquet file's rows as DuckDB reads them back) or in the logs.
func assertNoSecrets(t *testing.T, db *sql.DB, lake string, logs string, secrets []string) {
	t.Helper()
	var texts []string
	files := 0
	err := filepath.WalkDir(lake, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		texts = append(texts, path+"\n"+string(data))
		if strings.HasSuffix(path, ".parquet") {
			rs, err := db.Query(fmt.Sprintf(`SELECT to_json(t)::VARCHAR FROM read_parquet('%s') t`, path))
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			defer rs.Close()
			var b strings.Builder
			for rs.Next() {
				var row string
				if err := rs.Scan(&row); err != nil {
					return err
				}
				b.WriteString(row)
				b.WriteByte('\n')
			}
			texts = append(texts, path+" (rows)\n"+b.String())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 5 {
		t.Fatalf("only %d files in the lake", files)
	}
	texts = append(texts, "logs\n"+logs)
	for _, text := range texts {
		for _, s := range append(secrets, testPseudonymKey) {
			for _, f := range forms(s) {
				if strings.Contains(text, f) {
					t.Errorf("%q (a raw id, PII value or the key) is in %s", f, strings.SplitN(text, "\n", 2)[0])
				}
			}
		}
	}
}

// snapshotLake reads every file of a local lake.
func snapshotLake(t *testing.T, lake string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(lake, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		out[path] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPseudonymizedExport: an export of the simulator with --pseudonymize leaves no raw id, PII
// attribute value or key anywhere in the lake or the logs; its ids are HMAC-SHA256 under the
// key; its rows are the truth under pseudonyms; an owed user is exported by the next run from
// the encrypted state; keys are stable across runs; a run with another key or without
// --pseudonymize is refused with exit 2 and changes nothing; forget takes the raw id.
func TestPseudonymizedExport(t *testing.T) {
	s := startSim(t, 11, 24, nil)
	fx := s.Fixtures()
	victim := fx.EscapedUsers[0] // an id with '+', ':', '/' and spaces: every written form is checked
	var failing, hidden atomic.Bool
	failing.Store(true)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() && strings.Contains(r.URL.EscapedPath(), "/channel-user/"+url.PathEscape(victim)+"/") {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		if hidden.Load() && strings.HasSuffix(r.URL.Path, "/users") {
			hideUser(t, w, r, s, victim)
			return
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	t.Setenv(apiKeyEnv, s.opts.APIKey)
	t.Setenv(pseudonymKeyEnv, "")
	keyFile := filepath.Join(t.TempDir(), "pseudonym.key")
	if err := os.WriteFile(keyFile, []byte("  "+testPseudonymKey+"\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lake := t.TempDir()
	args := replaceFlag(t, s.exportArgs("export", lake, "--max-attempts", "2", "--log-format", "json",
		"--pseudonymize", "--pseudonym-key-file", keyFile), "--api-url", proxy.URL)
	secrets := secretsOf(t, s)
	db := lakecheck.Open(t)
	pv := hmacHex(testPseudonymKey, victim)

	// 1. The victim fails every attempt: exit 1 naming its pseudonym, owed in the state, sealed.
	code, _, logs := runCmd(t, args...)
	if code != exitFailed || !strings.Contains(lastLine(logs), pv) {
		t.Fatalf("first run: exit %d, %q: want 1 naming %s", code, lastLine(logs), pv)
	}
	assertNoSecrets(t, db, lake, logs, secrets)
	stateData, err := os.ReadFile(filepath.Join(lake, "_chatlake", "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Owed map[string]struct {
			SealedID string `json:"sealed_id"`
		} `json:"owed"`
	}
	if err := json.Unmarshal(stateData, &st); err != nil || len(st.Owed) != 1 || st.Owed[pv].SealedID == "" {
		t.Fatalf("the state's owed users: %s (%v)", stateData, err)
	}
	mode, err := os.ReadFile(filepath.Join(lake, "_chatlake", "lake.json"))
	if err != nil || !strings.Contains(string(mode), `"pseudonymized": true`) || !strings.Contains(string(mode), hmacHex(testPseudonymKey, "chatlake-fingerprint")[:16]) {
		t.Fatalf("the lake's mode record: %s %v", mode, err)
	}

	// 2. The fault gone, and the User API no longer listing the victim, the next run exports the
	// owed user by the raw id sealed in the state: the lake is the truth under pseudonyms.
	failing.Store(false)
	hidden.Store(true)
	code, _, logs = runCmd(t, args...)
	hidden.Store(false)
	if code != exitOK {
		t.Fatalf("second run: exit %d: %s", code, lastLine(logs))
	}
	if !strings.Contains(logs, `"owed":1`) {
		t.Fatalf("the second run did not plan the owed user: %s", logs)
	}
	assertNoSecrets(t, db, lake, logs, secrets)
	truth := s.Truth(nil, s.opts.From, s.opts.To, s.opts.To.AddDate(1, 0, 0))
	mapped := make([]sim.Message, len(truth))
	victimRows := 0
	for i, m := range truth {
		mapped[i] = m
		mapped[i].ChannelUserID = hmacHex(testPseudonymKey, m.ChannelUserID)
		if m.ChannelUserID == victim {
			victimRows++
		}
	}
	if victimRows == 0 {
		t.Fatal("the victim has no messages: the owed path is not tested")
	}
	rows, err := lakecheck.ReadMessages(context.Background(), db, lake)
	if err != nil {
		t.Fatal(err)
	}
	if diff := lakecheck.Compare(rows, mapped); diff != "" {
		t.Fatal(diff)
	}
	wantUserIDs := map[string]bool{}
	for _, m := range truth {
		var raw struct {
			UserID string `json:"user_id"`
		}
		_ = json.Unmarshal(m.Raw, &raw)
		wantUserIDs[hmacHex(testPseudonymKey, raw.UserID)] = true
	}
	q := fmt.Sprintf(`SELECT DISTINCT user_id FROM read_parquet('%s', hive_partitioning = true)`, lakecheck.Glob(lake))
	for _, id := range queryStrings(t, db, q) {
		if !wantUserIDs[id] {
			t.Errorf("user_id %s is no HMAC of a message's user_id", id)
		}
	}
	keys := lakecheck.Keys(rows)

	// 3. A rerun (which lists every user again) gives the same keys, and its users snapshot holds
	// every user under its pseudonym.
	if code, _, logs := runCmd(t, args...); code != exitOK {
		t.Fatalf("third run: exit %d: %s", code, lastLine(logs))
	}
	rows, err = lakecheck.ReadMessages(context.Background(), db, lake)
	if err != nil {
		t.Fatal(err)
	}
	if again := lakecheck.Keys(rows); !slices.Equal(again, keys) {
		t.Fatalf("message keys changed between runs (%d then %d)", len(keys), len(again))
	}
	checkUsersTable(t, db, lake, s)

	// 4. Another key, or no --pseudonymize: exit 2, not a byte changed.
	before := snapshotLake(t, lake)
	otherKey := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(otherKey, []byte("another-key-0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	plain := s.exportArgs("export", lake)
	refused := map[string][]string{
		"another key":       replaceFlag(t, args, "--pseudonym-key-file", otherKey),
		"no --pseudonymize": plain,
		"nightly, plain":    s.exportArgs("run", lake),
		"forget, plain":     {"forget", "--lake", lake, "--user", victim},
		"publish, plain":    {"publish", "--lake", lake},
		"redact-text added": append(slices.Clone(args), "--redact-text"),
		"pii name dropped":  append(slices.Clone(args), "--pii-attributes", "phone,email"),
	}
	for name, a := range refused {
		code, _, stderr := runCmd(t, a...)
		if code != exitBadInput {
			t.Errorf("%s: exit %d, want 2: %s", name, code, lastLine(stderr))
		}
		if strings.Contains(stderr, "another-key") || strings.Contains(stderr, testPseudonymKey) {
			t.Errorf("%s: a key is in the error: %s", name, stderr)
		}
	}
	if after := snapshotLake(t, lake); !mapsEqual(before, after) {
		t.Fatal("a refused run changed the lake")
	}

	// 5. forget takes the raw id and hashes it.
	code, _, logs = runCmd(t, "forget", "--lake", lake, "--user", victim, "--pseudonymize", "--pseudonym-key-file", keyFile, "--log-format", "json")
	if code != exitOK {
		t.Fatalf("forget: exit %d: %s", code, lastLine(logs))
	}
	assertNoSecrets(t, db, lake, logs, secrets)
	rows, err = lakecheck.ReadMessages(context.Background(), db, lake)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(truth)-victimRows {
		t.Fatalf("after forget: %d rows, want %d", len(rows), len(truth)-victimRows)
	}
	for _, r := range rows {
		if r.ChannelUserID == pv {
			t.Fatal("the forgotten user's rows are still in the lake")
		}
	}
	uq := fmt.Sprintf(`SELECT channel_user_id FROM read_parquet('%s/users/*/*.parquet', hive_partitioning = true) WHERE channel_user_id = '%s'`, filepath.ToSlash(lake), pv)
	if got := queryStrings(t, db, uq); len(got) != 0 {
		t.Fatalf("the forgotten user is still in the users table (%d rows)", len(got))
	}
}

// hideUser serves the simulator's users page without the user id (canonical bodies).
func hideUser(t *testing.T, w http.ResponseWriter, r *http.Request, s *testSim, id string) {
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, r)
	var body struct {
		Status         json.RawMessage `json:"status"`
		ResponseObject struct {
			Users []map[string]any `json:"users"`
		} `json:"responseObject"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Errorf("users page: %v", err)
	}
	users := body.ResponseObject.Users[:0]
	for _, u := range body.ResponseObject.Users {
		if u["channel_user_id"] != id {
			users = append(users, u)
		}
	}
	body.ResponseObject.Users = users
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

// checkUsersTable: every user is there under its pseudonym, with its PII attributes hashed and
// its other attributes as they are.
func checkUsersTable(t *testing.T, db *sql.DB, lake string, s *testSim) {
	t.Helper()
	users := simUsers(t, s)
	q := fmt.Sprintf(`SELECT DISTINCT channel_user_id || ' ' || attributes_json FROM read_parquet('%s/users/*/*.parquet', hive_partitioning = true)`, filepath.ToSlash(lake))
	got := map[string]map[string]string{}
	for _, line := range queryStrings(t, db, q) {
		id, attrs, _ := strings.Cut(line, " ")
		var m map[string]string
		if err := json.Unmarshal([]byte(attrs), &m); err != nil {
			t.Fatal(err)
		}
		got[id] = m
	}
	if len(got) != len(users) {
		t.Fatalf("users table: %d users, want %d", len(got), len(users))
	}
	for _, u := range users {
		row, ok := got[hmacHex(testPseudonymKey, u.ID)]
		if !ok {
			t.Fatalf("user %s is not in the users table under its pseudonym", hmacHex(testPseudonymKey, u.ID))
		}
		for k, v := range u.Attributes {
			want := v
			if strings.Contains(k, "phone") || strings.Contains(k, "name") {
				want = hmacHex(testPseudonymKey, v)
			}
			if row[k] != want {
				t.Errorf("user %s attribute %s = %q, want %q", u.ID[:2], k, row[k], want)
			}
		}
	}
}

func queryStrings(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rs, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var s string
		if err := rs.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// piiAPI is a deployment with one WhatsApp user whose messages hold personal data in their text.
func piiAPI(t *testing.T, texts []string) *httptest.Server {
	t.Helper()
	const id = "919565428256"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		last := r.URL.Query().Get("page_number") != "1"
		switch {
		case strings.HasSuffix(r.URL.Path, "/users"):
			users := `[{"channel_user_id":"` + id + `","channel":"whatsapp","created_at":"2024-05-01 08:00:00.000+0000","attributes":{"feedback":"1","user.phone_no":"+` + id + `","user.user_name":"Asha Kumari"}}]`
			if last {
				users = "[]"
			}
			fmt.Fprintf(w, `{"status":{"code":1000,"desc":"SUCCESS"},"responseObject":{"users":%s}}`, users)
		case strings.HasSuffix(r.URL.Path, "/channel-user/"+id+"/conversations"):
			var msgs []string
			for i, text := range texts {
				q, _ := json.Marshal(text)
				msgs = append(msgs, fmt.Sprintf(`{"user_id":"%s","sender":"user","message_type":"TEXT","response":%s,"timestamp":"2024-05-02 10:%02d:00.000+0000","file":null,"attachments":null}`, id, q, i))
			}
			if last {
				msgs = nil
			}
			fmt.Fprintf(w, `{"status":{"code":1000,"desc":"SUCCESS"},"responseObject":{"conversations":[%s]}}`, strings.Join(msgs, ","))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestRedactTextExport: with --redact-text the text column holds the tokens in place of e-mail
// addresses, phone numbers and Luhn-valid card numbers, and keeps other digit runs; with
// --pseudonymize too, none of the personal data is anywhere in the lake.
func TestRedactTextExport(t *testing.T) {
	cases := []struct{ in, want string }{
		{"my mail is asha.kumari@example.com", "my mail is <email>"},
		{"call me on +91 95654 28256 after 6", "call me on <phone> after 6"},
		{"or 9565428256", "or <phone>"},
		{"card 4111 1111 1111 1111 please", "card <card> please"},
		{"order 4111111111111112 and ticket 12345", "order 4111111111111112 and ticket 12345"},
		{"see you on 2024-05-03", "see you on 2024-05-03"},
	}
	var texts []string
	for _, c := range cases {
		texts = append(texts, c.in)
	}
	srv := piiAPI(t, texts)
	t.Setenv(apiKeyEnv, "test-api-key-0000")
	t.Setenv(pseudonymKeyEnv, " "+testPseudonymKey+" ")
	lake := t.TempDir()
	code, _, logs := runCmd(t, "export", "--api-url", srv.URL, "--customer", sim.DefaultCustomerID, "--bot", sim.DefaultBotKey,
		"--users-where", "feedback=1", "--from", "2024-05-01", "--to", "2024-05-07", "--lake", lake, "--log-format", "json",
		"--redact-text", "--pseudonymize")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, lastLine(logs))
	}
	db := lakecheck.Open(t)
	q := fmt.Sprintf(`SELECT text FROM read_parquet('%s', hive_partitioning = true) ORDER BY sent_at`, lakecheck.Glob(lake))
	got := queryStrings(t, db, q)
	if len(got) != len(cases) {
		t.Fatalf("%d rows, want %d", len(got), len(cases))
	}
	for i, c := range cases {
		if got[i] != c.want {
			t.Errorf("text %q is %q in the lake, want %q", c.in, got[i], c.want)
		}
	}
	assertNoSecrets(t, db, lake, logs, []string{"919565428256", "9565428256", "95654 28256", "asha.kumari@example.com",
		"4111 1111 1111 1111", "Asha Kumari"})
	mode, _ := os.ReadFile(filepath.Join(lake, "_chatlake", "lake.json"))
	if !strings.Contains(string(mode), `"redact_text": true`) {
		t.Fatalf("the mode record does not say the text is redacted: %s", mode)
	}
}

// TestPseudonymKeyFlags: where the key comes from, how it is trimmed, and the errors, which
// name the flag or the variable and never hold the key.
func TestPseudonymKeyFlags(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	padded := file("padded", "\n\t "+testPseudonymKey+" \r\n")
	empty := file("empty", " \n ")
	short := file("short", "tiny-secret\n")
	def := strings.Join([]string{"phone", "email", "name"}, ",")
	cases := []struct {
		name    string
		env     string
		f       pseudonymFlags
		wantErr string // "" = no error
		wantKey string // the key whose fingerprint the result has
	}{
		{"off", "", pseudonymFlags{piiDefault: def, piiAttributes: def}, "", ""},
		{"env, trimmed", "  " + testPseudonymKey + "\n", pseudonymFlags{enabled: true}, "", testPseudonymKey},
		{"file, trimmed, beats env", "another-key-0123456789abcdef", pseudonymFlags{enabled: true, keyFile: padded}, "", testPseudonymKey},
		{"no key", "", pseudonymFlags{enabled: true}, "set " + pseudonymKeyEnv + " or give --pseudonym-key-file", ""},
		{"empty file", "", pseudonymFlags{enabled: true, keyFile: empty}, "--pseudonym-key-file " + empty + " is empty", ""},
		{"missing file", "", pseudonymFlags{enabled: true, keyFile: filepath.Join(dir, "nope")}, "--pseudonym-key-file " + filepath.Join(dir, "nope"), ""},
		{"short key", "", pseudonymFlags{enabled: true, keyFile: short}, "at least 16", ""},
		{"key file without --pseudonymize", "", pseudonymFlags{keyFile: padded}, "--pseudonym-key-file needs --pseudonymize", ""},
		{"pii without --pseudonymize", "", pseudonymFlags{piiDefault: def, piiAttributes: "phone"}, "--pii-attributes needs --pseudonymize", ""},
		{"empty pii name", testPseudonymKey, pseudonymFlags{enabled: true, piiAttributes: "phone,,email"}, "--pii-attributes", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(pseudonymKeyEnv, tc.env)
			ps, err := tc.f.pseudonymizer()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				for _, secret := range []string{testPseudonymKey, "tiny-secret", "another-key"} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("the error holds a key: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantKey == "" {
				if ps != nil {
					t.Fatal("a pseudonymizer without --pseudonymize")
				}
				return
			}
			if ps.Fingerprint() != hmacHex(tc.wantKey, "chatlake-fingerprint")[:16] || ps.ID("x") != hmacHex(tc.wantKey, "x") {
				t.Fatal("the key used is not the trimmed key")
			}
		})
	}
}

// TestScrubHandler: the API client's log lines name users by pseudonym, in paths and in
// operations, in the message, in attributes and in groups.
func TestScrubHandler(t *testing.T) {
	ps, err := pseudonymFlagsFor(t).pseudonymizer()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	log := slog.New(newScrubHandler(slog.NewJSONHandler(&b, nil), ps))
	raw := "tg:+44 20/7946 0952"
	log.Warn("extract: giving up", "op", fmt.Sprintf("conversations of user %q in window x", raw),
		"request", "GET /bot-api/v1.0/customer/1/bot/b/channel-user/"+url.PathEscape(raw)+"/conversations?page_number=1",
		"err", fmt.Errorf("extract: conversations of user %q: 502", raw), slog.Group("g", "op", fmt.Sprintf("user %q", raw)))
	out := b.String()
	for _, f := range forms(raw) {
		if strings.Contains(out, f) {
			t.Fatalf("%q is in the log: %s", f, out)
		}
	}
	if strings.Count(out, hmacHex(testPseudonymKey, raw)) != 4 {
		t.Fatalf("the pseudonym is not in every place: %s", out)
	}
}

func pseudonymFlagsFor(t *testing.T) *pseudonymFlags {
	t.Setenv(pseudonymKeyEnv, testPseudonymKey)
	return &pseudonymFlags{enabled: true}
}

// TestPseudonymizeRefusedOnPlainLake: a lake exported without --pseudonymize refuses it (and
// --redact-text) with exit 2, and not a byte of it changes.
func TestPseudonymizeRefusedOnPlainLake(t *testing.T) {
	s := startSim(t, 5, 6, nil)
	t.Setenv(apiKeyEnv, s.opts.APIKey)
	t.Setenv(pseudonymKeyEnv, testPseudonymKey)
	lake := t.TempDir()
	if code, _, stderr := runCmd(t, s.exportArgs("export", lake)...); code != exitOK {
		t.Fatalf("plain export: exit %d: %s", code, lastLine(stderr))
	}
	before := snapshotLake(t, lake)
	for _, extra := range [][]string{{"--pseudonymize"}, {"--redact-text"}} {
		code, _, stderr := runCmd(t, s.exportArgs("export", lake, extra...)...)
		if code != exitBadInput || !strings.Contains(lastLine(stderr), "without --pseudonymize") {
			t.Errorf("%v: exit %d, %q; want 2", extra, code, lastLine(stderr))
		}
	}
	if !mapsEqual(before, snapshotLake(t, lake)) {
		t.Fatal("a refused run changed the lake")
	}
}

// TestPseudonymizedShards: two shards share a pseudonymised run. The second never lists users:
// it resumes the first's plan, so it knows its users' raw ids only from the sealed batch files.
// The lake is the one a single process makes.
func TestPseudonymizedShards(t *testing.T) {
	s := startSim(t, 13, 20, nil)
	t.Setenv(apiKeyEnv, s.opts.APIKey)
	t.Setenv(pseudonymKeyEnv, testPseudonymKey)
	single, sharded := t.TempDir(), t.TempDir()
	if code, _, stderr := runCmd(t, s.exportArgs("backfill", single, "--pseudonymize", "--batch-size", "3")...); code != exitOK {
		t.Fatalf("one process: exit %d: %s", code, lastLine(stderr))
	}
	var logs string
	for i := range 2 {
		code, _, stderr := runCmd(t, s.exportArgs("backfill", sharded, "--pseudonymize", "--batch-size", "3", "--log-format", "json",
			"--shard-count", "2", "--shard-index", fmt.Sprint(i))...)
		if code != exitOK {
			t.Fatalf("shard %d: exit %d: %s", i, code, lastLine(stderr))
		}
		if i == 1 && strings.Contains(stderr, `"msg":"listing users"`) {
			t.Fatal("the second shard listed users: the sealed batch files are not what it read")
		}
		logs += stderr
	}
	db := lakecheck.Open(t)
	want, err := lakecheck.ReadMessages(context.Background(), db, single)
	if err != nil {
		t.Fatal(err)
	}
	got, err := lakecheck.ReadMessages(context.Background(), db, sharded)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(lakecheck.Keys(got), lakecheck.Keys(want)) || len(got) == 0 {
		t.Fatalf("the shards' keys (%d) differ from one process's (%d)", len(got), len(want))
	}
	assertNoSecrets(t, db, sharded, logs, secretsOf(t, s))
}
