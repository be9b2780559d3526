package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/pipelines"
	"github.com/chatlake/chatlake/schema"
	"github.com/chatlake/chatlake/sim"
)

// threeBots serves three simulated bots (each its own customer, bot key and API key) and
// writes a config file that lists them, each with its own key file and lake.
type threeBots struct {
	sims  []*testSim
	lakes []string
	dir   string
}

func startThreeBots(t *testing.T) *threeBots {
	t.Helper()
	b := &threeBots{dir: t.TempDir()}
	for i := range 3 {
		s := startSim(t, int64(20+i), 4+i, func(o *sim.Options) {
			o.CustomerID = fmt.Sprint(2001 + i)
			o.BotKey = fmt.Sprintf("00000000000000b%d", i)
			o.APIKey = fmt.Sprintf("5f0c7e2a-1b3d-4c5e-8f9a-0b1c2d3e4f5%d-bot%d", i, i)
		})
		b.sims = append(b.sims, s)
		b.lakes = append(b.lakes, filepath.Join(b.dir, fmt.Sprintf("lake%d", i)))
		write(t, filepath.Join(b.dir, fmt.Sprintf("key%d", i)), s.opts.APIKey+"\n")
	}
	return b
}

// yaml is the config file: shared settings at the top, one entry per bot.
func (b *threeBots) yaml(t *testing.T, keyFile func(i int) string) string {
	t.Helper()
	var c strings.Builder
	c.WriteString("rate: 1000\nlog-format: json\nfrom: 2024-05-01\nconcurrency: 4\nbots:\n")
	for i, s := range b.sims {
		fmt.Fprintf(&c, "  - api-url: %s\n    customer: %q\n    bot: %q\n    api-key-file: %s\n    lake: %s\n    users-where:\n",
			s.url, s.opts.CustomerID, s.opts.BotKey, keyFile(i), b.lakes[i])
		for _, sel := range s.Selectors() {
			fmt.Fprintf(&c, "      - %s\n", sel.String())
		}
	}
	path := filepath.Join(b.dir, "bots.yaml")
	write(t, path, c.String())
	return path
}

func (b *threeBots) keyFile(i int) string { return filepath.Join(b.dir, fmt.Sprintf("key%d", i)) }

// exported says which lakes hold a state; each one that does must hold exactly its bot's
// messages.
func (b *threeBots) exported(t *testing.T) []int {
	t.Helper()
	var out []int
	for i, lake := range b.lakes {
		if _, err := os.Stat(lake); err != nil {
			continue
		}
		st, err := pipelines.ReadState(context.Background(), mustLake(t, lake))
		if err != nil || st.BotKey == "" {
			continue
		}
		s := b.sims[i]
		if st.BotKey != s.opts.BotKey || st.CustomerID != s.opts.CustomerID {
			t.Fatalf("lake %d holds bot %s of customer %s, want %s of %s", i, st.BotKey, st.CustomerID, s.opts.BotKey, s.opts.CustomerID)
		}
		rows, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(t), lake)
		if err != nil {
			t.Fatal(err)
		}
		to, _ := schema.ParseDay(st.Watermark)
		if diff := lakecheck.Compare(rows, s.Truth(nil, s.opts.From, to.AddDate(0, 0, 1), to.AddDate(1, 0, 0))); diff != "" {
			t.Fatalf("lake %d: %s", i, diff)
		}
		out = append(out, i)
	}
	return out
}

// TestMultiBotConfig: a config file of three bots exports three lakes in one run; --bot-index
// and a task index export one; a bot that fails does not stop the others, and the exit code is
// the worst; a bad bot entry is exit 2 naming its line, and nothing runs.
func TestMultiBotConfig(t *testing.T) {
	t.Setenv(apiKeyEnv, "")
	t.Run("all bots", func(t *testing.T) {
		b := startThreeBots(t)
		cfg := b.yaml(t, b.keyFile)
		code, _, stderr := runCmd(t, "run", "--config", cfg)
		if code != exitOK {
			t.Fatalf("run exits %d: %s", code, lastLine(stderr))
		}
		if got := b.exported(t); fmt.Sprint(got) != "[0 1 2]" {
			t.Fatalf("lakes exported %v, want [0 1 2]", got)
		}
		ids, bots := map[string]bool{}, map[string]bool{}
		for _, r := range jsonRecords(t, stderr) {
			if r["msg"] == "summary" {
				ids[r["run_id"].(string)] = true
				bots[r["summary"].(map[string]any)["bot"].(string)] = true
			}
		}
		if len(ids) != 3 {
			t.Errorf("%d summaries with distinct run ids, want 3", len(ids))
		}
		for i, s := range b.sims { // each summary names its bot
			if want := fmt.Sprintf("%d (%s)", i, s.opts.BotKey); !bots[want] {
				t.Errorf("no summary names bot %q: %v", want, bots)
			}
		}
	})
	t.Run("--bot-index", func(t *testing.T) {
		b := startThreeBots(t)
		code, _, stderr := runCmd(t, "run", "--config", b.yaml(t, b.keyFile), "--bot-index", "1")
		if code != exitOK {
			t.Fatalf("run exits %d: %s", code, lastLine(stderr))
		}
		if got := b.exported(t); fmt.Sprint(got) != "[1]" {
			t.Fatalf("lakes exported %v, want [1]", got)
		}
	})
	t.Run("task index", func(t *testing.T) {
		b := startThreeBots(t)
		t.Setenv(envCloudRunIndex, "2")
		t.Setenv(envCloudRunCount, "3")
		code, _, stderr := runCmd(t, "run", "--config", b.yaml(t, b.keyFile))
		if code != exitOK {
			t.Fatalf("run exits %d: %s", code, lastLine(stderr))
		}
		if got := b.exported(t); fmt.Sprint(got) != "[2]" {
			t.Fatalf("lakes exported %v, want [2]", got)
		}
	})
	t.Run("one bot fails", func(t *testing.T) {
		b := startThreeBots(t)
		wrong := filepath.Join(b.dir, "wrong-key")
		write(t, wrong, "0000dead-beef-4000-8000-00000000cafe-wrongkey\n")
		cfg := b.yaml(t, func(i int) string {
			if i == 0 {
				return wrong
			}
			return b.keyFile(i)
		})
		code, _, stderr := runCmd(t, "run", "--config", cfg, "--bot-parallelism", "1")
		if code != exitFailed || !strings.Contains(lastLine(stderr), "bot 0 (00000000000000b0)") || !strings.Contains(lastLine(stderr), "API key") {
			t.Fatalf("exit %d, %q: want 1 naming bot 0", code, lastLine(stderr))
		}
		if got := b.exported(t); fmt.Sprint(got) != "[1 2]" {
			t.Fatalf("lakes exported %v, want [1 2]", got)
		}
	})
	t.Run("bad bot entry", func(t *testing.T) {
		b := startThreeBots(t)
		cfg := b.yaml(t, b.keyFile)
		data, _ := os.ReadFile(cfg)
		lines := strings.Split(string(data), "\n")
		line := 0
		for i, l := range lines {
			if strings.Contains(l, "customer: \"2003\"") {
				lines[i] = strings.Replace(l, "customer:", "custmer:", 1)
				line = i + 1
			}
		}
		write(t, cfg, strings.Join(lines, "\n"))
		code, _, stderr := runCmd(t, "run", "--config", cfg)
		want := fmt.Sprintf("bots.yaml line %d", line)
		if code != exitBadInput || !strings.Contains(stderr, want) || !strings.Contains(stderr, "did you mean customer") {
			t.Fatalf("exit %d, %q: want 2 naming %s", code, strings.TrimSpace(stderr), want)
		}
		if got := b.exported(t); len(got) != 0 {
			t.Fatalf("lakes exported %v, want none", got)
		}
	})
}

// TestBotTasks: how a task index maps to a bot and its shard when a config lists bots.
func TestBotTasks(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, c := range []struct {
		name                         string
		bots, botIndex, index, count int
		getenv                       func(string) string
		want                         string // the tasks, or the error's text
	}{
		{"every bot", 3, -1, -1, 0, env(), "[{0 0 1} {1 0 1} {2 0 1}]"},
		{"--bot-index", 3, 2, -1, 0, env(), "[{2 0 1}]"},
		{"--bot-index, sharded", 3, 1, -1, 0, env(envCloudRunIndex, "3", envCloudRunCount, "4"), "[{1 3 4}]"},
		{"Cloud Run, one task per bot", 3, -1, -1, 0, env(envCloudRunIndex, "1", envCloudRunCount, "3"), "[{1 0 1}]"},
		{"Cloud Run, two shards per bot", 3, -1, -1, 0, env(envCloudRunIndex, "5", envCloudRunCount, "6"), "[{2 1 2}]"},
		{"Indexed Job", 2, -1, -1, 0, env(envJobIndex, "2", envShardCount, "4"), "[{1 0 2}]"},
		{"flags", 2, -1, 1, 4, env(), "[{0 1 2}]"},
		{"not a multiple", 3, -1, -1, 0, env(envCloudRunIndex, "1", envCloudRunCount, "4"), "must be a multiple"},
		{"bot index too big", 3, 3, -1, 0, env(), "--bot-index 3"},
		{"shard count alone", 3, -1, -1, 2, env(), "--shard-count 2 with 3 bots"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tasks, err := botTasks(c.bots, c.botIndex, c.index, c.count, c.getenv)
			got := fmt.Sprint(tasks)
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

// TestBotSettingsPrecedence: a bot's settings replace the file's top-level ones (a list as a
// whole), and the environment and the command line still win: flag > env > bot > file >
// default; YAML and TOML alike.
func TestBotSettingsPrecedence(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "bots.yaml")
	write(t, yml, "rate: 3\nconcurrency: 2\nlake: /top\nsettle: 3h\nusers-where: [top=1]\nbots:\n  - lake: /b0\n  - lake: /b1\n    concurrency: 9\n    users-where: [a=1, b=2]\n    rate: 4\n")
	tml := filepath.Join(dir, "bots.toml")
	write(t, tml, "rate = 3\nconcurrency = 2\nlake = \"/top\"\nsettle = \"3h\"\nusers-where = [\"top=1\"]\n\n[[bots]]\nlake = \"/b0\"\n\n[[bots]]\nlake = \"/b1\"\nconcurrency = 9\nusers_where = [\"a=1\", \"b=2\"]\nrate = 4\n")
	t.Setenv("CHATLAKE_CONCURRENCY", "5")
	for _, cfg := range []string{yml, tml} {
		t.Run(filepath.Ext(cfg), func(t *testing.T) {
			for _, c := range []struct {
				bot  int
				want map[string]string
			}{
				{-1, map[string]string{"lake": "/top", "rate": "7", "concurrency": "5", "settle": "3h", "users-where": "top=1", "lookback": "2d"}},
				{0, map[string]string{"lake": "/b0", "rate": "7", "concurrency": "5", "settle": "3h", "users-where": "top=1"}},
				{1, map[string]string{"lake": "/b1", "rate": "7", "concurrency": "5", "settle": "3h", "users-where": "a=1,b=2"}},
			} {
				fs := flag.NewFlagSet("run", flag.ContinueOnError)
				var f exportFlags
				f.register(fs, true)
				registerBotFlags(fs, new(int), new(int))
				_, bots, err := parseBotFlags(fs, []string{"--config", cfg, "--rate", "7"}, io.Discard, c.bot)
				if err != nil || len(bots) != 2 {
					t.Fatalf("bot %d: %d bots, %v", c.bot, len(bots), err)
				}
				for k, want := range c.want {
					if got := fs.Lookup(k).Value.String(); got != want {
						t.Errorf("bot %d: --%s is %q, want %q", c.bot, k, got, want)
					}
				}
			}
		})
	}
}

// TestDeployBotsConfig: the bots.yaml of deploy/kubernetes/multibot-cronjob.yaml, read by
// chatlake's own parser with each pod's JOB_COMPLETION_INDEX, gives that pod one bot with
// valid settings (all but the key file, which only the pod has).
func TestDeployBotsConfig(t *testing.T) {
	data, err := os.ReadFile("../../deploy/kubernetes/multibot-cronjob.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&cm); err != nil || cm.Data["bots.yaml"] == "" {
		t.Fatalf("the recipe's first document has no data.bots.yaml (%v)", err)
	}
	cfg := filepath.Join(t.TempDir(), "bots.yaml")
	write(t, cfg, cm.Data["bots.yaml"])
	t.Setenv(envShardCount, "3")
	seen := map[string]bool{}
	for i := range 3 {
		t.Setenv(envJobIndex, fmt.Sprint(i))
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		var f exportFlags
		f.register(fs, true)
		registerBotFlags(fs, new(int), new(int))
		_, bots, err := parseBotFlags(fs, []string{"--config", cfg}, io.Discard, -1)
		if err != nil || len(bots) != 3 {
			t.Fatalf("%d bots, %v", len(bots), err)
		}
		tasks, err := botTasks(len(bots), -1, f.shardIndex, f.shardCount, os.Getenv)
		if err != nil || len(tasks) != 1 || tasks[0].bot != i || tasks[0].shardCount != 1 {
			t.Fatalf("pod %d: tasks %v, %v; want bot %d unsharded", i, tasks, err, i)
		}
		fs = flag.NewFlagSet("run", flag.ContinueOnError)
		f = exportFlags{}
		f.register(fs, true)
		registerBotFlags(fs, new(int), new(int))
		if _, _, err := parseBotFlags(fs, []string{"--config", cfg}, io.Discard, i); err != nil {
			t.Fatalf("bot %d: %v", i, err)
		}
		f.shardIndex, f.shardCount = tasks[0].shardIndex, tasks[0].shardCount
		if err := f.validate(false); err != nil {
			t.Fatalf("bot %d: %v", i, err)
		}
		if seen[f.lake] || !strings.HasPrefix(f.apiKeyFile, "/var/run/secrets/technowiz/") || f.apiURL == "" || f.from != "2024-01-01" {
			t.Errorf("bot %d: lake %s, key file %s, api-url %s, from %s", i, f.lake, f.apiKeyFile, f.apiURL, f.from)
		}
		seen[f.lake] = true
	}
}
