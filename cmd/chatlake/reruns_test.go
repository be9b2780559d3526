package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/sim"
)

// TestBackfillRerunPaysWhatIsOwed is issue 20's reproduction: a backfill of 100 users whose
// conversations requests get 30% 5xx (the simulator's faults) with --max-attempts 2 exits 1
// naming owed users, and verify fails naming them; the same command run again once the faults
// are gone exports them (only them) and exits 0, the lake equals the simulator's truth and
// verify passes; a third run is "already complete" with no conversations request.
func TestBackfillRerunPaysWhatIsOwed(t *testing.T) {
	faulty := startSim(t, 20, 100, func(o *sim.Options) { o.Faults.P5xx = 0.3 })
	clean := startSim(t, 20, 100, nil) // the same data, no faults
	var faults atomic.Bool
	faults.Store(true)
	var conversations atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/conversations") {
			clean.ServeHTTP(w, r) // the User API answers: the faults are the conversations'
			return
		}
		conversations.Add(1)
		if faults.Load() {
			faulty.ServeHTTP(w, r)
			return
		}
		clean.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	t.Setenv(apiKeyEnv, clean.opts.APIKey)
	lake := t.TempDir()
	args := replaceFlag(t, clean.exportArgs("backfill", lake, "--max-attempts", "2", "--log-format", "json"), "--api-url", proxy.URL)

	code, _, stderr := runCmd(t, args...)
	last := lastLine(stderr)
	if code != exitFailed || !strings.Contains(last, "failed and are owed") {
		t.Fatalf("the backfill with faults: exit %d, %q; want 1 naming owed users", code, last)
	}
	sum, _, _ := summaryOf(t, jsonRecords(t, stderr))
	owed := int(sum["users_owed_total"].(float64))
	if owed == 0 || sum["outcome"] != "failed" {
		t.Fatalf("summary: outcome %v, %d users owed", sum["outcome"], owed)
	}
	code, out, _ := runCmd(t, "verify", "--lake", lake)
	if code != exitFailed || strings.Count(out, "owed-user") != min(owed, 11) {
		t.Fatalf("verify while %d users are owed: exit %d\n%s", owed, code, out)
	}

	faults.Store(false)
	before := conversations.Load()
	code, _, stderr = runCmd(t, args...)
	if code != exitOK {
		t.Fatalf("the same backfill again: exit %d, %s", code, lastLine(stderr))
	}
	sum, _, _ = summaryOf(t, jsonRecords(t, stderr))
	if sum["outcome"] != "ok" || sum["users_owed_total"] != 0.0 || sum["messages_published"].(float64) <= 0 {
		t.Fatalf("the rerun's summary: %v", sum)
	}
	if n := conversations.Load() - before; n < int64(owed) || n > int64(4*owed) {
		t.Errorf("the rerun made %d conversations requests for %d owed users: want about one each, not the whole backfill", n, owed)
	}
	rows, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(t), lake)
	if err != nil {
		t.Fatal(err)
	}
	if diff := lakecheck.Compare(rows, clean.Truth(nil, clean.opts.From, clean.opts.To, clean.opts.To.AddDate(1, 0, 0))); diff != "" {
		t.Fatal(diff)
	}
	if code, out, _ := runCmd(t, "verify", "--lake", lake, "--from", "2024-05-01", "--to", "2024-05-07"); code != exitOK {
		t.Fatalf("verify after the rerun: exit %d\n%s", code, out)
	}

	before = conversations.Load()
	code, _, stderr = runCmd(t, args...)
	sum, _, _ = summaryOf(t, jsonRecords(t, stderr))
	if code != exitOK || conversations.Load() != before || sum["outcome"] != "ok" {
		t.Fatalf("a third run: exit %d, %d conversations requests, summary %v", code, conversations.Load()-before, sum)
	}
	if !strings.Contains(stderr, "backfill already complete") {
		t.Errorf("the third run does not say the backfill is complete")
	}
}
