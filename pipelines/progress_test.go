package pipelines_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatlake/chatlake/pipelines"
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

// TestProgressRecords: without a progress writer (JSON logs), progress is a record every
// interval, while the users are listed and while batches run, with numeric fields and a
// numeric eta_s that ends at 0 with every user done.
func TestProgressRecords(t *testing.T) {
	h := newHarness(t, simOptions(5, 12), slowAPI(15*time.Millisecond))
	var buf syncBuffer
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
