package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/pipelines"
	"github.com/chatlake/chatlake/schema"
)

// apiKeyEnv is the environment variable that holds the Technowiz API key.
const apiKeyEnv = "CHATLAKE_API_KEY"

// selectorsFlag collects repeated --users-where NAME=VALUE flags.
type selectorsFlag []extract.Selector

func (s *selectorsFlag) String() string {
	parts := make([]string, len(*s))
	for i, sel := range *s {
		parts[i] = sel.String()
	}
	return strings.Join(parts, ",")
}

func (s *selectorsFlag) Set(v string) error {
	sel, err := extract.ParseSelector(v)
	if err != nil {
		return err
	}
	*s = append(*s, sel)
	return nil
}

// exportFlags are the flags shared by export, backfill and run.
type exportFlags struct {
	apiURL, customer, bot, apiKeyFile string
	selectors                         selectorsFlag
	lake                              string
	from, to                          string

	concurrency, batchSize, parallelBatches int
	parallelPublish                         int
	shardIndex, shardCount                  int
	rate                                    float64
	maxAttempts, pageSize                   int
	settle                                  time.Duration
	lookback                                int
	allowSkipped                            bool
	targetFileSize                          int64
	tempDir                                 string
	logFormat                               string
	lockLease                               time.Duration
	requestTimeout, storageTimeout          time.Duration
	progressEvery                           time.Duration
	metricsFile, pushgateway                string
	pseudo                                  pseudonymFlags

	logAttrs []any // added to every log record (a multi-bot run's bot_index)
}

func (f *exportFlags) register(fs *flag.FlagSet, nightly bool) {
	fs.StringVar(&f.apiURL, "api-url", "", "base URL of the Technowiz API, e.g. https://bots.example.com (required)")
	fs.StringVar(&f.customer, "customer", "", "numeric customerId of the deployment (required)")
	fs.StringVar(&f.bot, "bot", "", "16-hex-character botKey of the bot to export (required)")
	fs.Var(&f.selectors, "users-where", "user selector `NAME=VALUE` for the User API (attribute_name=NAME, attribute_value=VALUE); repeat it: the union of the selectors' users is exported (at least one required)")
	fs.StringVar(&f.apiKeyFile, "api-key-file", "", "file holding the API key; default: the environment variable "+apiKeyEnv)
	fs.StringVar(&f.lake, "lake", "", "the lake: a local directory, file:///DIR, or gs://BUCKET/PREFIX (required)")
	if nightly {
		fs.StringVar(&f.from, "from", "", "first UTC day `YYYY-MM-DD` to export; only used when the lake has no state yet")
		fs.IntVar(&f.lookback, "lookback", 2, "days already exported that each run reads again, for late messages")
	} else {
		fs.StringVar(&f.from, "from", "", "first UTC day `YYYY-MM-DD` to export, included (required)")
		fs.StringVar(&f.to, "to", "", "last UTC day `YYYY-MM-DD` to export, included; must be closed (required)")
	}
	fs.IntVar(&f.concurrency, "concurrency", 8, "users fetched at once within a unit of work")
	fs.Float64Var(&f.rate, "rate", 20, "ceiling of API requests per second; lowered automatically on 429s")
	fs.IntVar(&f.pageSize, "page-size", 500, "messages asked per page (1..500); a deployment that caps pages lower is detected anyway, at a few requests' cost")
	fs.IntVar(&f.maxAttempts, "max-attempts", 8, "attempts per API request before the user fails (and is owed to the next run)")
	durationVar(fs, &f.requestTimeout, "request-timeout", time.Minute, "deadline of one attempt of an API request, the answer's body included; with --max-attempts and the backoff between attempts it bounds a request")
	durationVar(fs, &f.storageTimeout, "storage-timeout", 0, "deadline of each small call to the lake's storage (reads, conditional writes, listings), retries included (default: 1m, see load/storage)")
	fs.StringVar(&f.metricsFile, "metrics-file", "", "write the run's metrics in the Prometheus text format to this `PATH` when it ends (node_exporter's textfile collector reads *.prom)")
	fs.StringVar(&f.pushgateway, "pushgateway", "", "push the run's metrics to this Prometheus Pushgateway `URL` (http://host:9091) when it ends")
	fs.IntVar(&f.batchSize, "batch-size", 0, "users per batch, the unit of durable progress (a kill redoes the batches in flight); 0: about users/100, within 10..10000")
	fs.IntVar(&f.parallelBatches, "parallel-batches", 2, "batches that may be finishing (their last users, their staging) while the next ones are extracted; at most this + ceil(--concurrency / batch size) batches are alive at once, each with its local spill")
	fs.IntVar(&f.parallelPublish, "parallel-publish", 0, "days merged into the lake at once when the run publishes, about 100 MiB each at the default row groups; 0: the CPUs (at most 4) that the memory limit (GOMEMLIMIT, default 160MiB) holds, one at the default")
	fs.IntVar(&f.shardIndex, "shard-index", -1, "this process's shard of a run shared by --shard-count processes (0-based); default: $"+envCloudRunIndex+" or $"+envJobIndex+", else 0")
	fs.IntVar(&f.shardCount, "shard-count", 0, "processes that share the run, each taking its own batches; default: $"+envCloudRunCount+" or $"+envShardCount+", else 1")
	durationVar(fs, &f.settle, "settle", time.Hour, "a UTC day is closed, and may be exported, this long after it ends")
	fs.BoolVar(&f.allowSkipped, "allow-skipped-users", false, "exit 0 even when users were skipped because the API called their id invalid (1002)")
	sizeVar(fs, &f.targetFileSize, "target-file-size", 128<<20, "target size of a Parquet file (bytes, or with a unit: 128MiB); a bigger day is split into several files")
	fs.StringVar(&f.tempDir, "temp-dir", "", "directory for the local spill of a unit of work (default: the system's temporary directory)")
	durationVar(fs, &f.lockLease, "lock-lease", 2*time.Minute, "lease of the lake's lock, renewed while the run lives; a run that died holds the lake at most this long (at once freed when it died on this host)")
	fs.StringVar(&f.logFormat, "log-format", "auto", "log format on stderr: json, text, or auto (json unless stderr is a terminal)")
	durationVar(fs, &f.progressEvery, "progress-every", 10*time.Second, "interval of the progress records in the log (a terminal's line is redrawn every second)")
	f.pseudo.register(fs, true)
}

// validate checks the flags that need no I/O; the error names the flag.
func (f *exportFlags) validate(needRange bool) error {
	missing := []string{}
	if f.apiURL == "" {
		missing = append(missing, "--api-url")
	}
	if f.customer == "" {
		missing = append(missing, "--customer")
	}
	if f.bot == "" {
		missing = append(missing, "--bot")
	}
	if len(f.selectors) == 0 {
		missing = append(missing, "--users-where")
	}
	if f.lake == "" {
		missing = append(missing, "--lake")
	}
	if needRange && f.from == "" {
		missing = append(missing, "--from")
	}
	if needRange && f.to == "" {
		missing = append(missing, "--to")
	}
	if len(missing) > 0 {
		return usagef("missing required flag(s): %s", strings.Join(missing, ", "))
	}
	switch {
	case f.concurrency < 1:
		return usagef("--concurrency must be at least 1, not %d", f.concurrency)
	case f.rate <= 0:
		return usagef("--rate must be above 0, not %g", f.rate)
	case f.pageSize < 1 || f.pageSize > 500:
		return usagef("--page-size must be 1..500, not %d", f.pageSize)
	case f.maxAttempts < 1:
		return usagef("--max-attempts must be at least 1, not %d", f.maxAttempts)
	case f.batchSize < 0:
		return usagef("--batch-size must not be negative, not %d", f.batchSize)
	case f.parallelBatches < 1:
		return usagef("--parallel-batches must be at least 1, not %d", f.parallelBatches)
	case f.parallelPublish < 0:
		return usagef("--parallel-publish must not be negative, not %d", f.parallelPublish)
	case f.settle < 0:
		return usagef("--settle must not be negative")
	case f.lockLease < 3*time.Second:
		return usagef("--lock-lease must be at least 3s, not %s", f.lockLease)
	case f.requestTimeout <= 0:
		return usagef("--request-timeout must be positive, not %s", f.requestTimeout)
	case f.storageTimeout < 0:
		return usagef("--storage-timeout must not be negative")
	case f.progressEvery <= 0:
		return usagef("--progress-every must be positive, not %s", f.progressEvery)
	case f.lookback < 0:
		return usagef("--lookback must not be negative")
	case f.targetFileSize < 1<<20:
		return usagef("--target-file-size must be at least 1048576 bytes, not %d", f.targetFileSize)
	}
	switch f.logFormat {
	case "auto", "json", "text":
	default:
		return usagef("--log-format must be json, text or auto, not %q", f.logFormat)
	}
	idx, count, err := resolveShard(f.shardIndex, f.shardCount, os.Getenv)
	if err != nil {
		return err
	}
	f.shardIndex, f.shardCount = idx, count
	return nil
}

// apiKey reads the key from --api-key-file or the environment. The key itself never appears in
// an error.
func (f *exportFlags) apiKey() (string, error) {
	if f.apiKeyFile != "" {
		data, err := os.ReadFile(f.apiKeyFile)
		if err != nil {
			return "", usagef("--api-key-file %s: %v", f.apiKeyFile, errors.Unwrap(err))
		}
		key := strings.TrimSpace(string(data))
		if key == "" {
			return "", usagef("--api-key-file %s is empty", f.apiKeyFile)
		}
		return key, nil
	}
	key := strings.TrimSpace(os.Getenv(apiKeyEnv))
	if key == "" {
		return "", usagef("no API key: set %s or give --api-key-file", apiKeyEnv)
	}
	return key, nil
}

// newLogger makes the run's logger on stderr.
func newLogger(format string, stderr io.Writer) *slog.Logger {
	if format == "auto" {
		format = "json"
		if isTerminal(stderr) {
			format = "text"
		}
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(stderr, nil))
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// openLake opens the lake URL; a lake that cannot be opened is bad input. With mustExist, a
// lake that is not there is an error and nothing is created (status, verify, publish, forget).
func openLake(ctx context.Context, url string, o *load.Options, mustExist bool, opTimeout time.Duration) (*load.Lake, func(), error) {
	store, err := storage.Open(ctx, url, &storage.OpenOptions{MustExist: mustExist, OpTimeout: opTimeout})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: --lake %s: %w", pipelines.ErrBadInput, url, err)
	}
	closeStore := func() {
		if c, ok := store.(io.Closer); ok {
			_ = c.Close()
		}
	}
	lake, err := load.NewLake(store, o)
	if err != nil {
		closeStore()
		return nil, nil, err
	}
	return lake, closeStore, nil
}

// setup turns the flags into a client, a lake and a pipeline.
type setup struct {
	client   *extract.Client
	lake     *load.Lake
	pipeline *pipelines.Pipeline
	logger   *slog.Logger
	close    func()

	metricsFile, pushgateway string // where the run's metrics go, if anywhere
	customer, bot            string // the metrics' labels
}

func (f *exportFlags) setup(ctx context.Context, stderr io.Writer) (*setup, error) {
	key, err := f.apiKey()
	if err != nil {
		return nil, err
	}
	ps, err := f.pseudo.pseudonymizer()
	if err != nil {
		return nil, err
	}
	runID := pipelines.NewRunID(time.Now())
	logger := newLogger(f.logFormat, stderr).With("run_id", runID).With(f.logAttrs...)
	clientLogger := logger
	if ps != nil {
		clientLogger = slog.New(newScrubHandler(logger.Handler(), ps))
	}
	client, err := extract.New(extract.Options{
		BaseURL: f.apiURL, CustomerID: f.customer, BotKey: f.bot, APIKey: key,
		Rate: f.rate, MaxAttempts: f.maxAttempts, PageSize: f.pageSize, AttemptTimeout: f.requestTimeout, Logger: clientLogger,
	})
	if err != nil {
		return nil, extractFlagError(fmt.Errorf("%w: %w", pipelines.ErrBadInput, err))
	}
	lake, closeLake, err := openLake(ctx, f.lake, &load.Options{TargetFileSize: f.targetFileSize, TempDir: f.tempDir, Logger: logger}, false, f.storageTimeout)
	if err != nil {
		return nil, err
	}
	o := pipelines.Options{
		CustomerID: f.customer, BotKey: f.bot, Selectors: f.selectors,
		Concurrency: f.concurrency, BatchSize: f.batchSize, ParallelBatches: f.parallelBatches,
		ParallelPublish: f.parallelPublish, ShardIndex: f.shardIndex, ShardCount: f.shardCount,
		Settle: f.settle, Lookback: f.lookback,
		LockLease: f.lockLease, Logger: logger, RunID: runID, ProgressEvery: f.progressEvery,
		Pseudonymizer: ps, RedactText: f.pseudo.redactText,
	}
	if isTerminal(stderr) {
		o.Progress, o.Terminal = stderr, true
	}
	p, err := pipelines.New(client, lake, o)
	if err != nil {
		closeLake()
		return nil, pipelineFlagError(err)
	}
	return &setup{client: client, lake: lake, pipeline: p, logger: logger, close: closeLake,
		metricsFile: f.metricsFile, pushgateway: f.pushgateway, customer: f.customer, bot: f.bot}, nil
}

// report prints the run summary on stderr, logs it as one JSON record with the run's
// outcome, writes the metrics, and decides the error (and so the exit code).
func report(ctx context.Context, s *setup, sum *pipelines.Summary, runErr error, allowSkipped bool, stderr io.Writer) error {
	err := runErr
	if err == nil && sum != nil {
		if n := len(sum.SkippedUsers); n > 0 && !allowSkipped {
			err = fmt.Errorf("%w: %d user(s) skipped because the API called their id invalid (1002): %s; rerun with --allow-skipped-users to accept",
				pipelines.ErrIncomplete, n, strings.Join(sum.SkippedUsers, ", "))
		}
	}
	err = interrupted(ctx, err)
	code := codeOf(err)
	if sum != nil && sum.Kind != "" && !errors.Is(runErr, pipelines.ErrBadInput) && !errors.Is(runErr, pipelines.ErrLocked) {
		sum.SetOutcome(outcomeOf(code), code, err)
		if !isJSONLogger(s.logger) {
			_ = sum.WriteText(stderr)
		}
		level := slog.LevelInfo
		if err != nil {
			level = slog.LevelError
		}
		s.logger.Log(context.Background(), level, "summary", "summary", sum)
		if merr := s.writeMetrics(ctx, sum); merr != nil {
			s.logger.Warn("the run's metrics were not written", "error", merr.Error())
		}
	}
	if err != nil && isJSONLogger(s.logger) {
		s.logger.Error("exit", "reason", strings.ReplaceAll(err.Error(), "\n", " "), "exit_code", code)
	}
	return err
}

func isJSONLogger(l *slog.Logger) bool {
	_, ok := l.Handler().(*slog.JSONHandler)
	return ok
}

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runRange(ctx, "export", args, stdout, stderr)
}

func runBackfill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runRange(ctx, "backfill", args, stdout, stderr)
}

func runRange(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var f exportFlags
	f.register(fs, false)
	var restart bool
	if name == "backfill" {
		fs.BoolVar(&restart, "restart", false, "do this backfill again from the start, even if it finished or is half done")
	}
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	if err := f.validate(true); err != nil {
		return err
	}
	from, err := schema.ParseDay(f.from)
	if err != nil {
		return usagef("--from: %v", err)
	}
	to, err := schema.ParseDay(f.to)
	if err != nil {
		return usagef("--to: %v", err)
	}
	if to.Before(from) {
		return usagef("--to %s is before --from %s", f.to, f.from)
	}
	if err := (extract.Window{Start: from, End: to.AddDate(0, 0, 1)}).Validate(); err != nil {
		return usagef("--from %s --to %s: %v", f.from, f.to, err)
	}
	s, err := f.setup(ctx, stderr)
	if err != nil {
		return err
	}
	defer s.close()
	var sum *pipelines.Summary
	if name == "backfill" {
		sum, err = s.pipeline.Backfill(ctx, from, to, restart)
	} else {
		sum, err = s.pipeline.Export(ctx, from, to)
	}
	return report(ctx, s, sum, err, f.allowSkipped, stderr)
}

func runNightly(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var f exportFlags
	f.register(fs, true)
	var botIndex, parallel int
	registerBotFlags(fs, &botIndex, &parallel)
	help, bots, err := parseBotFlags(fs, args, stdout, -1)
	if help || err != nil {
		return err
	}
	if len(bots) > 0 {
		return runBots(ctx, args, stdout, stderr, len(bots), &f, botIndex, parallel)
	}
	if botIndex >= 0 {
		return usagef("--bot-index %d: %v", botIndex, errNoBots)
	}
	if err := f.validate(false); err != nil {
		return err
	}
	return f.nightly(ctx, stderr)
}

// nightly is the nightly run of validated flags.
func (f *exportFlags) nightly(ctx context.Context, stderr io.Writer) error {
	first, err := f.firstDay()
	if err != nil {
		return err
	}
	s, err := f.setup(ctx, stderr)
	if err != nil {
		return err
	}
	defer s.close()
	sum, err := s.pipeline.Nightly(ctx, first)
	return report(ctx, s, sum, err, f.allowSkipped, stderr)
}

// firstDay is the nightly run's --from, zero when not given.
func (f *exportFlags) firstDay() (time.Time, error) {
	if f.from == "" {
		return time.Time{}, nil
	}
	d, err := schema.ParseDay(f.from)
	if err != nil {
		return time.Time{}, usagef("--from: %v", err)
	}
	return d, nil
}
