package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
	"github.com/chatlake/chatlake/sim"
)

// BenchmarkShardedBackfill (issue 18): one 120-day backfill of 800 users (about 70k messages)
// at the default --rate 20 and every other default, run as chatlake child processes against
// the simulator over loopback, in three scenarios:
//
//   - local-1: one process to a local directory;
//   - gcs-1: one process to gs:// on fake-gcs-server (served by this process);
//   - gcs-4: four processes at once, --shard-index 0..3 --shard-count 4, to gs://.
//
// Metrics, per run: wall_s (start of the first process to the end of the last), extract_s (the
// first "extracting" log line of any process to the publisher's "publishing" line), publish_s
// (the publisher's "publishing" line to its last log line), conv_req and x_min (conversations
// requests, and their ratio to the minimum, the sum over users of max(1, ceil(messages/500))),
// and on gs:// run_objects (objects uploaded under _chatlake/runs/: the plan, its users
// objects, a done object per batch holding its rows, staged parts of batches that did not fit
// one) and uploads (all objects uploaded), counted by a handler in front of fake-gcs-server. Every run
// is checked: exactly one process publishes, and the lake equals the simulator's truth.
//
//	go test -run '^$' -bench BenchmarkShardedBackfill -benchtime 1x -count 3 ./cmd/chatlake/
func BenchmarkShardedBackfill(b *testing.B) {
	for _, sc := range []struct {
		name   string
		gcs    bool
		shards int
	}{
		{"local-1", false, 1},
		{"gcs-1", true, 1},
		{"gcs-4", true, 4},
	} {
		b.Run(sc.name, func(b *testing.B) {
			var sum backfillFigures
			for range b.N {
				f := shardedBackfill(b, sc.gcs, sc.shards)
				sum.wall += f.wall
				sum.extract += f.extract
				sum.publish += f.publish
				sum.requests += f.requests
				sum.minimum = f.minimum
				sum.staged += f.staged
				sum.uploads += f.uploads
			}
			n := float64(b.N)
			b.ReportMetric(sum.wall.Seconds()/n, "wall_s")
			b.ReportMetric(sum.extract.Seconds()/n, "extract_s")
			b.ReportMetric(sum.publish.Seconds()/n, "publish_s")
			b.ReportMetric(float64(sum.requests)/n, "conv_req")
			b.ReportMetric(float64(sum.requests)/n/float64(sum.minimum), "x_min")
			if sc.gcs {
				b.ReportMetric(float64(sum.staged)/n, "run_objects")
				b.ReportMetric(float64(sum.uploads)/n, "uploads")
			}
		})
	}
}

// backfillFigures are what one run of BenchmarkShardedBackfill measures.
type backfillFigures struct {
	wall, extract, publish time.Duration
	requests, minimum      int
	staged, uploads        int // gs:// only
}

// shardedBackfill runs the backfill once as shards processes (to gs:// on fake-gcs-server if
// gcs, else to a local directory), checks the lake against the truth and returns the figures.
// Only the processes' run is timed.
func shardedBackfill(b *testing.B, gcs bool, shards int) backfillFigures {
	b.StopTimer()
	defer b.StartTimer()
	o := sim.DefaultOptions()
	o.Seed, o.Users, o.UserMessages = 18, 800, 190
	o.From = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	o.To = o.From.AddDate(0, 0, 120)
	s := startBenchSim(b, o)
	truth := s.Truth(nil, o.From, o.To, o.To.AddDate(1, 0, 0))
	if len(truth) < 65_000 || len(truth) > 80_000 {
		b.Fatalf("the simulator holds %d messages, not about 70k", len(truth))
	}
	f := backfillFigures{minimum: minConversationRequests(s.UserIDs(nil), truth)}

	env := []string{apiKeyEnv + "=" + o.APIKey}
	lake := b.TempDir()
	var store storage.Store
	var uploads uploadCounter
	if gcs {
		host, client := storagetest.StartFakeGCSWrapped(b, "lake", uploads.wrap)
		env = append(env, "STORAGE_EMULATOR_HOST="+host)
		lake = "gs://lake/analytics/chat"
		store = storage.NewGCS(client, "lake", "analytics/chat")
	}
	args := []string{"backfill", "--api-url", s.url, "--customer", o.CustomerID, "--bot", o.BotKey, "--lake", lake,
		"--from", o.From.Format(time.DateOnly), "--to", o.To.AddDate(0, 0, -1).Format(time.DateOnly), "--log-format", "json"}
	for _, sel := range s.Selectors() {
		args = append(args, "--users-where", sel.String())
	}

	b.StartTimer()
	start := time.Now()
	logs := runShards(b, env, shards, args)
	f.wall = time.Since(start)
	b.StopTimer()

	f.requests = s.Stats().ByEndpoint[sim.EndpointConversations]
	f.extract, f.publish = logPhases(b, logs)
	f.staged, f.uploads = uploads.counts()
	dir := lake
	if gcs {
		dir = b.TempDir()
		if err := lakecheck.Download(context.Background(), store, dir); err != nil {
			b.Fatal(err)
		}
	}
	rows, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(b), dir)
	if err != nil {
		b.Fatal(err)
	}
	if diff := lakecheck.Compare(rows, truth); diff != "" {
		b.Fatal(diff)
	}
	b.Logf("%d shards, gcs %v: %d messages, wall %s, extraction %s, publishing %s, %d conversations requests (minimum %d), %d of %d uploads under _chatlake/runs/",
		shards, gcs, len(truth), f.wall.Round(time.Millisecond), f.extract.Round(time.Millisecond), f.publish.Round(time.Millisecond),
		f.requests, f.minimum, f.staged, f.uploads)
	return f
}

// runShards runs shards chatlake processes at once with args, the i-th with --shard-index i
// --shard-count shards (one process has no shard flags), and returns their stderr (the log).
// Any process that fails fails b.
func runShards(b *testing.B, env []string, shards int, args []string) []string {
	b.Helper()
	// Far above a run's time on a loaded machine: a bound for a hung process, not a measure.
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	cmds := make([]*exec.Cmd, shards)
	logs := make([]bytes.Buffer, shards)
	for i := range cmds {
		a := args
		if shards > 1 {
			a = append(slices.Clip(args), "--shard-index", strconv.Itoa(i), "--shard-count", strconv.Itoa(shards))
		}
		cmds[i] = child(ctx, env, a...)
		cmds[i].Stderr = &logs[i]
		if err := cmds[i].Start(); err != nil {
			b.Fatal(err)
		}
	}
	out := make([]string, shards)
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			b.Fatalf("process %d of %d: %v: %s", i+1, shards, err, lastLine(logs[i].String()))
		}
		out[i] = logs[i].String()
	}
	return out
}

// logPhases reads the JSON logs of a run's processes: extraction is from the first "extracting"
// line of any process to the "publishing" line, publishing from that line to the last line of
// the process that logged it. Exactly one process must publish.
func logPhases(b *testing.B, logs []string) (extract, publish time.Duration) {
	b.Helper()
	var firstExtract, pubStart, pubEnd time.Time
	publishers := 0
	for _, log := range logs {
		var last time.Time
		publisher := false
		for line := range strings.Lines(log) {
			var rec struct {
				Time time.Time `json:"time"`
				Msg  string    `json:"msg"`
			}
			if json.Unmarshal([]byte(line), &rec) != nil {
				continue
			}
			switch rec.Msg {
			case "extracting":
				if firstExtract.IsZero() || rec.Time.Before(firstExtract) {
					firstExtract = rec.Time
				}
			case "publishing":
				pubStart, publisher = rec.Time, true
			}
			last = rec.Time
		}
		if publisher {
			publishers++
			pubEnd = last
		}
	}
	if firstExtract.IsZero() || publishers != 1 {
		b.Fatalf("the logs have no \"extracting\" line or %d \"publishing\" processes, not 1", publishers)
	}
	return pubStart.Sub(firstExtract), pubEnd.Sub(pubStart)
}

// uploadCounter counts the objects uploaded to fake-gcs-server, and those of them under a
// run's directory (_chatlake/runs/: plan, users, done objects, staged parts), by the object resource
// the server answers a finished upload with (one answer per object, whatever the upload type).
type uploadCounter struct {
	mu              sync.Mutex
	staged, uploads int
}

func (c *uploadCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/upload/") {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		var obj struct {
			Name string `json:"name"`
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &obj) != nil || obj.Name == "" {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.uploads++
		if strings.Contains(obj.Name, "/_chatlake/runs/") {
			c.staged++
		}
	})
}

func (c *uploadCounter) counts() (staged, uploads int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.staged, c.uploads
}
