package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
)

// A config file may list several bots under the key "bots", each a mapping of settings (the
// run command's flag names: customer, bot, users-where, api-key-file, lake, ...). A bot's
// settings replace the file's top-level settings of the same keys; the command line and the
// environment still win over both (flag > environment > bot > file > default).
//
// `chatlake run --config FILE` then exports every bot, --bot-parallelism at once, each its own
// run (own lock, state, summary, run_id and metrics). With --bot-index I, or with a task index
// (see botTasks), a process exports one bot. One bot's failure does not stop the others; the
// exit code is the worst of the bots' (see worseCode).

// botEntry is one bot of a config file: its settings and the line where it starts.
type botEntry struct {
	line     int
	settings []configSetting
}

// overlay returns base with every key of over replaced by over's (keys compare with dashes
// and underscores alike), over's new keys added.
func overlay(base, over []configSetting) []configSetting {
	norm := func(k string) string { return strings.ReplaceAll(k, "_", "-") }
	replaced := map[string]bool{}
	for _, s := range over {
		replaced[norm(s.key)] = true
	}
	out := make([]configSetting, 0, len(base)+len(over))
	for _, s := range base {
		if !replaced[norm(s.key)] {
			out = append(out, s)
		}
	}
	return append(out, over...)
}

var tomlArrayTable = regexp.MustCompile(`^\s*\[\[\s*([A-Za-z0-9_-]+)\s*\]\]`)

// tomlTableLines returns the line of each [[name]] header, in order.
func tomlTableLines(data []byte, name string) []int {
	var out []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		if m := tomlArrayTable.FindStringSubmatch(sc.Text()); m != nil && m[1] == name {
			out = append(out, n)
		}
	}
	return out
}

// botTask is one bot a process exports, and its shard.
type botTask struct {
	bot                    int
	shardIndex, shardCount int
}

// botTasks decides which bots of n this process exports:
//   - --bot-index I: bot I, sharded as a one-bot run would be (--shard-index/--shard-count or
//     the engines' variables);
//   - else a task index (--shard-index, $CLOUD_RUN_TASK_INDEX or $JOB_COMPLETION_INDEX) with a
//     task count T (--shard-count, $CLOUD_RUN_TASK_COUNT or $CHATLAKE_SHARD_COUNT): T must be a
//     multiple of n, each bot gets S = T/n shards, and task i exports shard i%S of bot i/S
//     (tasks 0..S-1 are bot 0's shards, S..2S-1 bot 1's, ...);
//   - else every bot, unsharded.
func botTasks(n, botIndex, shardIndex, shardCount int, getenv func(string) string) ([]botTask, error) {
	if botIndex >= 0 {
		if botIndex >= n {
			return nil, usagef("--bot-index %d: the config file lists %d bot(s) (0..%d)", botIndex, n, n-1)
		}
		idx, count, err := resolveShard(shardIndex, shardCount, getenv)
		if err != nil {
			return nil, err
		}
		return []botTask{{bot: botIndex, shardIndex: idx, shardCount: count}}, nil
	}
	hasTask := shardIndex >= 0 || getenv(envCloudRunIndex) != "" || getenv(envJobIndex) != ""
	if !hasTask {
		if shardCount > 1 {
			return nil, usagef("--shard-count %d with %d bots: give --bot-index, or a task index (--shard-index) over all bots' shards", shardCount, n)
		}
		tasks := make([]botTask, n)
		for i := range tasks {
			tasks[i] = botTask{bot: i, shardIndex: 0, shardCount: 1}
		}
		return tasks, nil
	}
	idx, count, err := resolveShard(shardIndex, shardCount, getenv)
	if err != nil {
		return nil, err
	}
	if count%n != 0 {
		return nil, usagef("%d tasks for %d bots: the task count (--shard-count, $%s or $%s) must be a multiple of the bots", count, n, envCloudRunCount, envShardCount)
	}
	per := count / n
	return []botTask{{bot: idx / per, shardIndex: idx % per, shardCount: per}}, nil
}

// botsError is the outcome of a multi-bot run: each failed bot's error, and the worst code.
type botsError struct {
	errs []error
	code int
}

func (e *botsError) Error() string {
	parts := make([]string, len(e.errs))
	for i, err := range e.errs {
		parts[i] = err.Error()
	}
	return strings.Join(parts, "; ")
}

func (e *botsError) Unwrap() []error { return e.errs }

// worseCode orders exit codes by how much they need a person: 0 ok, 3 another run holds the
// lake (the next run catches up), 1 failed, 2 bad input, then a signal.
func worseCode(a, b int) int {
	rank := func(c int) int {
		switch c {
		case exitOK:
			return 0
		case exitLocked:
			return 1
		case exitFailed:
			return 2
		case exitBadInput:
			return 3
		default:
			return 4 // interrupted
		}
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// lockedWriter serialises the bots' writes to one stderr.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// botRun is one bot's parsed and validated run.
type botRun struct {
	task botTask
	f    *exportFlags
}

// runBots is `chatlake run` over a config file's n bots. Every chosen bot's settings are
// parsed and validated first: a bad one is exit 2 and nothing runs.
func runBots(ctx context.Context, args []string, stdout, stderr io.Writer, n int, top *exportFlags, botIndex, parallel int) error {
	if parallel < 1 {
		return usagef("--bot-parallelism must be at least 1, not %d", parallel)
	}
	tasks, err := botTasks(n, botIndex, top.shardIndex, top.shardCount, os.Getenv)
	if err != nil {
		return err
	}
	runs := make([]botRun, 0, len(tasks))
	metricsFiles := map[string]int{}
	for _, task := range tasks {
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		f := &exportFlags{}
		f.register(fs, true)
		registerBotFlags(fs, new(int), new(int))
		if _, _, err := parseBotFlags(fs, args, io.Discard, task.bot); err != nil {
			return fmt.Errorf("bot %d: %w", task.bot, err)
		}
		f.shardIndex, f.shardCount = task.shardIndex, task.shardCount
		if err := f.validate(false); err != nil {
			return fmt.Errorf("bot %d: %w", task.bot, err)
		}
		if _, err := f.firstDay(); err != nil {
			return fmt.Errorf("bot %d: %w", task.bot, err)
		}
		if _, err := f.apiKey(); err != nil {
			return fmt.Errorf("bot %d: %w", task.bot, err)
		}
		if f.metricsFile != "" {
			if other, dup := metricsFiles[f.metricsFile]; dup {
				return usagef("bots %d and %d write the same --metrics-file %s: give each bot its own metrics-file", other, task.bot, f.metricsFile)
			}
			metricsFiles[f.metricsFile] = task.bot
		}
		f.logAttrs = []any{"bot_index", task.bot}
		f.botLabel = fmt.Sprintf("%d (%s)", task.bot, f.bot)
		f.cmdline = commandLine("run", args)
		runs = append(runs, botRun{task: task, f: f})
	}
	errOut := &lockedWriter{w: stderr}
	errs := make([]error, len(runs))
	var g errgroup.Group // not WithContext: one bot's failure does not stop the others
	g.SetLimit(parallel)
	for i, r := range runs {
		g.Go(func() error {
			if err := r.f.nightly(ctx, errOut); err != nil {
				errs[i] = fmt.Errorf("bot %d (%s): %w", r.task.bot, r.f.bot, err)
			}
			return nil
		})
	}
	_ = g.Wait()
	be := &botsError{}
	for _, err := range errs {
		if err != nil {
			be.errs = append(be.errs, err)
			be.code = worseCode(be.code, codeOf(interrupted(ctx, err)))
		}
	}
	if len(be.errs) == 0 {
		return nil
	}
	return be
}

// Bounds of the multi-bot flags.
const (
	defaultBotParallelism = 2
	maxBots               = 10000
)

// registerBotFlags defines run's flags of a config file that lists bots.
func registerBotFlags(fs *flag.FlagSet, botIndex, parallel *int) {
	register(fs, botOptions(botIndex, parallel))
}

// botOptions is the table of run's flags of a config file that lists bots.
func botOptions(botIndex, parallel *int) []option {
	index := intOpt(botIndex, "bot-index", -1, -1, maxBots-1, "", "with a config file that lists bots: export only this bot (0-based); default: every bot, or the bot of the task index (see the README)")
	index.def = "every bot, or the task index's"
	return []option{index,
		intOpt(parallel, "bot-parallelism", defaultBotParallelism, 1, maxBots, "", "with a config file that lists bots: bots exported at once by this process")}
}

var errNoBots = errors.New("the config file lists no bots")
