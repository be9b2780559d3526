package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/sim"
)

func TestResolveShard(t *testing.T) {
	for _, tc := range []struct {
		name         string
		index, count int
		env          map[string]string
		want         [2]int
		err          string
	}{
		{name: "defaults", index: -1, want: [2]int{0, 1}},
		{name: "flags", index: 2, count: 3, want: [2]int{2, 3}},
		{name: "cloud run", index: -1, env: map[string]string{envCloudRunIndex: "3", envCloudRunCount: "4"}, want: [2]int{3, 4}},
		{name: "indexed job", index: -1, env: map[string]string{envJobIndex: "1", envShardCount: "2"}, want: [2]int{1, 2}},
		{name: "flags win", index: 0, count: 2, env: map[string]string{envCloudRunIndex: "3", envCloudRunCount: "4"}, want: [2]int{0, 2}},
		{name: "index too big", index: -1, env: map[string]string{envJobIndex: "2", envShardCount: "2"}, err: "$JOB_COMPLETION_INDEX 2 is not below the shard count 2 ($CHATLAKE_SHARD_COUNT)"},
		{name: "no count", index: -1, env: map[string]string{envJobIndex: "1"}, err: "$JOB_COMPLETION_INDEX 1 is not below the shard count 1"},
		{name: "garbage", index: -1, env: map[string]string{envCloudRunCount: "four"}, err: `$CLOUD_RUN_TASK_COUNT="four" is not a whole number`},
		{name: "bad flag", index: 5, count: 2, err: "--shard-index 5 is not below the shard count 2 (--shard-count)"},
		{name: "negative count", index: -1, count: -2, err: "--shard-count must be at least 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, n, err := resolveShard(tc.index, tc.count, func(k string) string { return tc.env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || [2]int{i, n} != tc.want {
				t.Fatalf("got %d/%d, %v; want %v", i, n, err, tc.want)
			}
		})
	}
}

// TestShardsShareARun: four processes with Cloud Run's task variables back-fill one gs:// lake
// (fake-gcs-server), and one az:// lake (Azurite), together: the rows and keys equal one process's, every shard exits 0, and
// the conversations requests stay within 1.02 x the minimum. Then a shard killed mid-run and
// rerun with its index completes the run.
func TestShardsShareARun(t *testing.T) {
	s := startSim(t, 41, 80, func(o *sim.Options) { o.Faults.Latency = 2 * time.Millisecond })
	truth := s.Truth(nil, s.opts.From, s.opts.To, s.opts.To.AddDate(1, 0, 0))
	minimum := minConversationRequests(s.UserIDs(nil), truth)

	single := t.TempDir()
	env := []string{apiKeyEnv + "=" + s.opts.APIKey}
	if code, stderr := runChild(t, env, s.exportArgs("backfill", single, "--batch-size", "5")...); code != 0 {
		t.Fatalf("one process exits %d: %s", code, lastLine(stderr))
	}
	want, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(t), single)
	if err != nil {
		t.Fatal(err)
	}

	runShards := func(t *testing.T, lake crashLake, kill int) {
		t.Helper()
		args := s.exportArgs("backfill", lake.url, "--batch-size", "5", "--log-format", "json")
		before := s.Stats().ByEndpoint[sim.EndpointConversations]
		var wg sync.WaitGroup
		codes := make([]int, 4)
		outs := make([]string, 4)
		for i := range 4 {
			shardEnv := append(slices.Clone(env), lake.env...)
			shardEnv = append(shardEnv, fmt.Sprintf("%s=%d", envCloudRunIndex, i), envCloudRunCount+"=4")
			wg.Go(func() {
				if i == kill {
					// Killed while working; rerun with the same index once the others ended.
					if !killAfter(t, shardEnv, 150*time.Millisecond, args...) {
						t.Logf("shard %d finished before it could be killed", i)
					}
					return
				}
				codes[i], outs[i] = runChild(t, shardEnv, args...)
			})
		}
		wg.Wait()
		if kill >= 0 {
			shardEnv := append(append(slices.Clone(env), lake.env...), fmt.Sprintf("%s=%d", envCloudRunIndex, kill), envCloudRunCount+"=4")
			codes[kill], outs[kill] = runChild(t, shardEnv, args...)
		}
		for i, c := range codes {
			if c != 0 {
				t.Fatalf("shard %d exits %d: %s", i, c, lastLine(outs[i]))
			}
		}
		got, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(t), lake.dir(t))
		if err != nil {
			t.Fatal(err)
		}
		if diff := lakecheck.Compare(got, truth); diff != "" {
			t.Fatal(diff)
		}
		if !slices.Equal(lakecheck.Keys(got), lakecheck.Keys(want)) {
			t.Fatal("the shards' message keys differ from one process's")
		}
		requests := s.Stats().ByEndpoint[sim.EndpointConversations] - before
		t.Logf("4 shards (kill %d): %d conversations requests, minimum %d", kill, requests, minimum)
		if kill < 0 && float64(requests) > 1.02*float64(minimum) {
			t.Fatalf("%d conversations requests for 4 shards, more than 1.02 x the minimum %d", requests, minimum)
		}
		if code, out := runChild(t, lake.env, "verify", "--lake", lake.url); code != 0 {
			t.Fatalf("verify exits %d: %s", code, out)
		}
	}
	t.Run("four shards", func(t *testing.T) { runShards(t, gcsCrashLake(t), -1) })
	t.Run("a shard killed and rerun", func(t *testing.T) { runShards(t, gcsCrashLake(t), 2) })
	t.Run("four shards on S3", func(t *testing.T) { runShards(t, s3CrashLake(t), -1) })
	t.Run("four shards on Azure", func(t *testing.T) { runShards(t, azureCrashLake(t), -1) })
	t.Run("a shard killed and rerun on Azure", func(t *testing.T) { runShards(t, azureCrashLake(t), 2) })
}
