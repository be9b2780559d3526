package pipelines_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatlake/chatlake/pipelines"
	"github.com/chatlake/chatlake/sim"
)

// slowAPI delays every answer, so that the listing and the batches span several progress
// intervals.
func slowAPI(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(d)
			next.ServeHTTP(w, r)
		})
	}
}

// progressSeen tells whether buf holds a progress record of phase for which ok is true.
func progressSeen(buf *syncBuffer, phase string, ok func(r map[string]any) bool) bool {
	sc := bufio.NewScanner(strings.NewReader(buf.String()))
	for sc.Scan() {
		var r map[string]any
		if json.Unmarshal(sc.Bytes(), &r) == nil && r["msg"] == "progress" && r["phase"] == phase && ok(r) {
			return true
		}
	}
	return false
}

// gateOnProgress holds the API's answers until the run has logged the progress the test
// expects, so that what the test asserts follows from the order of events, not from how many
// ticks of a 10 ms ticker a loaded machine manages to run: the User API answers once a
// listing record is out, and the last user's conversations once three extracting records and
// one with an ETA are (users are still left then, so the ticker keeps reporting). A gate gives
// up after a minute, and the test then fails on what is missing.
func gateOnProgress(buf *syncBuffer, lastUser string) func(http.Handler) http.Handler {
	wait := func(cond func() bool) {
		for deadline := time.Now().Add(time.Minute); !cond() && time.Now().Before(deadline); {
			time.Sleep(2 * time.Millisecond)
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.Contains(r.URL.Path, "/users"):
				wait(func() bool { return progressSeen(buf, "listing", func(map[string]any) bool { return true }) })
			case strings.Contains(r.URL.Path, "/channel-user/"+lastUser+"/"):
				wait(func() bool {
					n := 0
					progressSeen(buf, "extracting", func(map[string]any) bool { n++; return false })
					return n >= 3 && progressSeen(buf, "extracting", func(r map[string]any) bool {
						eta, _ := r["eta_s"].(float64)
						return eta > 0
					})
				})
			}
			next.ServeHTTP(w, r)
		})
	}
}

// TestProgressRecords: without a progress writer (JSON logs), progress is a record every
// interval, while the users are listed and while batches run, with numeric fields and a
// numeric eta_s that ends at 0 with every user done.
func TestProgressRecords(t *testing.T) {
	so := simOptions(5, 12)
	var buf syncBuffer
	probe, err := sim.New(so)
	if err != nil {
		t.Fatal(err)
	}
	users := probe.UserIDs(nil)
	h := newHarness(t, so, gateOnProgress(&buf, slices.Max(users)))
	p := h.pipeline(h.client(nil), func(o *pipelines.Options) {
		o.BatchSize, o.ParallelBatches, o.Concurrency, o.ProgressEvery = 4, 1, 2, 10*time.Millisecond
		o.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	})
	if _, err := p.Backfill(context.Background(), day(t, "2024-05-01"), day(t, "2024-05-06"), false); err != nil {
		t.Fatal(err)
	}
	var listing, extracting []map[string]any
	sc := bufio.NewScanner(strings.NewReader(buf.String()))
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		if r["msg"] != "progress" {
			continue
		}
		if _, ok := r["eta_s"].(float64); !ok {
			t.Fatalf("eta_s is not a number: %v", r)
		}
		switch r["phase"] {
		case "listing":
			listing = append(listing, r)
		case "extracting":
			extracting = append(extracting, r)
		default:
			t.Fatalf("progress record without a phase: %v", r)
		}
	}
	if len(listing) == 0 || len(extracting) < 3 {
		t.Fatalf("%d listing and %d extracting progress records, want some and several", len(listing), len(extracting))
	}
	for _, r := range extracting {
		for _, k := range []string{"users_done", "users", "batches_done", "batches", "messages", "messages_per_s", "requests",
			"requests_per_s", "throttled_429", "rate_limit", "elapsed_s"} {
			if _, ok := r[k].(float64); !ok {
				t.Fatalf("progress field %s is not a number: %v", k, r)
			}
		}
	}
	last := extracting[len(extracting)-1]
	if last["eta_s"] != 0.0 || last["users_done"] != last["users"] || last["users"] != 12.0 || last["rate_limit"].(float64) <= 0 {
		t.Errorf("the last progress record: %v", last)
	}
	known := 0
	for _, r := range extracting {
		if r["eta_s"].(float64) > 0 {
			known++
		}
	}
	if known == 0 {
		t.Errorf("no progress record had an ETA while users were left: %v", extracting)
	}
}

// TestProgressTerminal: on a terminal, progress is one redrawn line with a bar, requests/s,
// 429s, the current rate, elapsed time and an ETA, after a line while the users are listed.
func TestProgressTerminal(t *testing.T) {
	h := newHarness(t, simOptions(4, 10), slowAPI(5*time.Millisecond))
	var buf syncBuffer
	p := h.pipeline(h.client(nil), func(o *pipelines.Options) {
		o.BatchSize, o.ParallelBatches, o.Progress, o.Terminal, o.ProgressEvery = 4, 1, &buf, true, 5*time.Millisecond
	})
	if _, err := p.Backfill(context.Background(), day(t, "2024-05-01"), day(t, "2024-05-06"), false); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"\r\033[Klisting users of ", ": 10 users\n", "\r\033[K[", "[====================] 100% users 10/10  batches 3/3",
		"req/s", "429s 0", "rate ", "elapsed ", "eta 0s\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal progress lacks %q; its end:\n%q", want, out[max(0, len(out)-600):])
		}
	}
}

// TestProgressNotPerBatch: progress records follow the ticker only: a run of three batches
// that ends before the first tick of an hour's interval logs one extracting record, its end,
// not one per batch.
func TestProgressNotPerBatch(t *testing.T) {
	h := newHarness(t, simOptions(5, 12), nil)
	var buf syncBuffer
	p := h.pipeline(h.client(nil), func(o *pipelines.Options) {
		o.BatchSize, o.ParallelBatches, o.Concurrency, o.ProgressEvery = 4, 1, 2, time.Hour
		o.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	})
	sum, err := p.Backfill(context.Background(), day(t, "2024-05-01"), day(t, "2024-05-06"), false)
	if err != nil {
		t.Fatal(err)
	}
	if sum.BatchesDone != 3 {
		t.Fatalf("%d batches done, want 3", sum.BatchesDone)
	}
	n := 0
	progressSeen(&buf, "extracting", func(r map[string]any) bool {
		n++
		if r["users_done"] != 12.0 || r["batches_done"] != 3.0 {
			t.Errorf("the extracting record is not the run's end: %v", r)
		}
		return false
	})
	if n != 1 {
		t.Errorf("%d extracting records, want 1 (the end; no tick came, and batches do not report)", n)
	}
}
