package ddl

import (
	"bytes"
	"database/sql"
	"fmt"
	"strings"
	"testing"
)

// DuckDB's iceberg extension is not built into the DuckDB that duckdb-go embeds: INSTALL
// downloads it from extensions.duckdb.org, which this project's machines (and CI) cannot
// reach. So the tests below cannot scan an Iceberg table. What they check with the real
// DuckDB instead:
//
//   - every statement of the Iceberg definitions parses (INSTALL, LOAD and SET fail, if
//     they fail, on the missing extension, never on syntax);
//   - with a table macro named iceberg_scan standing in for the extension's function (it reads
//     the Parquet files under the table's directory, as the real one reads those of the
//     current snapshot), the views run, and give the same rows as the Hive lake's views over
//     the same files, in a session whose time zone is not UTC.
//
// TestIcebergDuckDBExtension says in its log whether the extension could be loaded here.

// statements splits a definitions script into its statements, comment lines dropped.
func statements(script string) []string {
	var lines []string
	for _, l := range strings.Split(script, "\n") {
		if !strings.HasPrefix(l, "--") {
			lines = append(lines, l)
		}
	}
	var out []string
	for _, s := range strings.Split(strings.Join(lines, "\n"), ";\n") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// extensionStatement reports whether s is one of the statements that need the iceberg
// extension itself rather than its iceberg_scan.
func extensionStatement(s string) bool {
	return strings.HasPrefix(s, "INSTALL ") || strings.HasPrefix(s, "LOAD ") || strings.HasPrefix(s, "SET unsafe_enable_version_guessing")
}

// noAutoInstall keeps db from downloading extensions: a test never reaches the network.
func noAutoInstall(t *testing.T, db *sql.DB) {
	t.Helper()
	if _, err := db.Exec("SET autoinstall_known_extensions = false; SET autoload_known_extensions = false"); err != nil {
		t.Fatal(err)
	}
}

// TestIcebergDuckDBExtension: LOAD iceberg and SET unsafe_enable_version_guessing, as the
// definitions write them, are statements DuckDB parses; here they fail only because the
// extension is not installed (INSTALL is not run: it would reach for the network).
func TestIcebergDuckDBExtension(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, iceberg(Options{Engine: DuckDB, Lake: t.TempDir()})); err != nil {
		t.Fatal(err)
	}
	db := openDuckDB(t)
	noAutoInstall(t, db)
	var ext []string
	for _, s := range statements(b.String()) {
		if !extensionStatement(s) {
			continue
		}
		ext = append(ext, s)
		if strings.HasPrefix(s, "INSTALL ") {
			if s != "INSTALL iceberg" {
				t.Errorf("INSTALL statement %q, want INSTALL iceberg", s)
			}
			continue
		}
		_, err := db.Exec(s)
		switch {
		case err == nil:
			t.Logf("%s: ran (the iceberg extension is installed on this machine)", s)
		case strings.HasPrefix(s, "SET ") && !strings.Contains(err.Error(), "exists in the iceberg extension"):
			t.Errorf("%s: %v (want DuckDB to know the setting as the iceberg extension's)", s, err)
		case strings.Contains(err.Error(), "Parser Error"):
			t.Errorf("%s: %v", s, err)
		default:
			t.Logf("%s: fails without the extension, as expected offline: %.120s", s, err)
		}
	}
	if want := []string{"INSTALL iceberg", "LOAD iceberg", "SET unsafe_enable_version_guessing = true"}; fmt.Sprint(ext) != fmt.Sprint(want) {
		t.Errorf("extension statements %q, want %q", ext, want)
	}
	// Without the extension, the views over iceberg_scan parse and then fail on the one
	// missing function, which DuckDB knows as the iceberg extension's.
	for _, s := range statements(b.String()) {
		if !strings.Contains(s, "iceberg_scan(") {
			continue
		}
		_, err := db.Exec(s)
		if err == nil || !strings.Contains(err.Error(), `"iceberg_scan" is not in the catalog, but it exists in the iceberg extension`) {
			t.Errorf("%.60s...: err = %v, want the missing iceberg_scan of the iceberg extension", s, err)
		}
	}
}

// icebergScanStandIn is a table macro in place of the extension's iceberg_scan: the Parquet
// files under the table's directory, without Hive partition columns. It takes the named
// parameter the definitions pass; a parameter they pass that the real function does not have
// would fail there, not here, which TestIcebergCatalogConfig's text checks cover.
const icebergScanStandIn = `CREATE MACRO iceberg_scan(tbl, allow_moved_paths := false) AS TABLE
SELECT * FROM read_parquet(tbl || '/**/*.parquet', hive_partitioning = false)`

// TestIcebergDuckDBViews: the Iceberg definitions' views, over a stand-in iceberg_scan, give
// the Hive definitions' rows on the same files, with the session in a time zone west of UTC
// (users_latest's snapshot_date is the UTC day of extracted_at, not the session's day).
func TestIcebergDuckDBViews(t *testing.T) {
	dir := t.TempDir()
	db := openDuckDB(t)
	noAutoInstall(t, db)
	writeUsers(t, db, dir, "2024-05-01", "a", "b", "c")
	writeUsers(t, db, dir, "2024-05-03", "a", "c")
	writeMessages(t, db, dir, "2024-05-01", "p.parquet", []fx{
		{user: "a", at: "2024-05-01 10:00:00.000", sender: "bot", typ: "TEMPLATE", text: "t", template: "tpl", broadcast: "bc1"},
		{user: "a", at: "2024-05-01 10:05:00.000", text: "hi"},
		{user: "b", at: "2024-05-01 23:50:00.000", sender: "bot", typ: "TEMPLATE", text: "t", template: "tpl", broadcast: "bc1"},
		{user: "c", at: "2024-05-01 12:00:00.000", text: "first"},
		{user: "c", at: "2024-05-01 12:30:00.000", text: "gap of exactly 30m"},
	})
	writeMessages(t, db, dir, "2024-05-02", "p.parquet", []fx{
		{user: "b", at: "2024-05-02 00:10:00.000", text: "after midnight"},
		{user: "a", at: "2024-05-02 09:00:00.000", sender: "agent", text: "agent"},
	})
	if _, err := db.Exec("SET TimeZone = 'America/Los_Angeles'"); err != nil {
		t.Fatal(err)
	}

	var hive, ice bytes.Buffer
	if err := Write(&hive, Options{Engine: DuckDB, Lake: dir, Schema: "hive"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(hive.String()); err != nil {
		t.Fatalf("the Hive definitions fail: %v", err)
	}
	if err := Write(&ice, iceberg(Options{Engine: DuckDB, Lake: dir, Schema: "ice"})); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(icebergScanStandIn); err != nil {
		t.Fatal(err)
	}
	for _, s := range statements(ice.String()) {
		if extensionStatement(s) {
			continue // TestIcebergDuckDBExtension
		}
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%v\n%s", err, s)
		}
	}

	for _, view := range []string{UsersLatestView, SessionsView, BroadcastsView} {
		var n, diff int
		q := fmt.Sprintf(`SELECT (SELECT count(*) FROM hive.%[1]s),
			(SELECT count(*) FROM (SELECT * FROM hive.%[1]s EXCEPT ALL SELECT * FROM ice.%[1]s)) +
			(SELECT count(*) FROM (SELECT * FROM ice.%[1]s EXCEPT ALL SELECT * FROM hive.%[1]s))`, view)
		if err := db.QueryRow(q).Scan(&n, &diff); err != nil {
			t.Fatalf("%s: %v", view, err)
		}
		if n == 0 || diff != 0 {
			t.Errorf("%s: %d rows on the Hive lake, %d rows differ on the Iceberg one", view, n, diff)
		}
	}
	var snap string
	if err := db.QueryRow("SELECT CAST(snapshot_date AS VARCHAR) FROM ice.users_latest WHERE channel_user_id = 'b'").Scan(&snap); err != nil {
		t.Fatal(err)
	}
	if snap != "2024-05-01" { // extracted at 2024-05-01 01:00 UTC: 2024-04-30 in Los Angeles
		t.Errorf("b's snapshot_date is %s, want 2024-05-01", snap)
	}
	for _, table := range []string{"messages", "users"} {
		var cols int
		if err := db.QueryRow("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'ice' AND table_name = ? AND column_name IN ('dt', 'snapshot_date')",
			table).Scan(&cols); err != nil {
			t.Fatal(err)
		}
		if cols != 0 {
			t.Errorf("ice.%s has a partition column: an Iceberg table has none", table)
		}
	}
}
