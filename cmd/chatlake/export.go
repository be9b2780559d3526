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
	return strings.Join(parts, listSeparator)
}

func (s *selectorsFlag) placeholder() string { return "NAME=VALUE" }
func (s *selectorsFlag) repeatable()         {}

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
	s3                                      s3Flags
	progressEvery                           time.Duration
	metricsFile, pushgateway                string
	pseudo                                  pseudonymFlags
	azure                                   azureFlags
	tables                                  tableFlags

	logAttrs []any    // added to every log record (a multi-bot run's bot_index)
	botLabel string   // a multi-bot run's bot, named by its summary ("1 (KEY)")
	cmdline  string   // the command as given, which resumes the run (resumeHint)
	opts     []option // the command's table, bound to these fields (register)
}

// Bounds of flags that no library applies (the libraries' bounds are their exported constants).
const (
	maxRate           = 1e6            // requests per second
	minTargetFileSize = 1 << 20        // smaller files only multiply a day's objects
	minSettle         = time.Minute    // a day still receives its last messages as it ends
	maxProgressEvery  = 24 * time.Hour // a progress record a day at the least
	minRequestTimeout = 10 * time.Millisecond
	defaultLookback   = 2 // days
)

// The help texts of the flags that several commands share.
const (
	lakeHelp      = "the lake: a local directory, file:///DIR, gs://BUCKET/PREFIX, s3://BUCKET/PREFIX or az://CONTAINER/PREFIX (required)"
	logFormatHelp = "log format on stderr: auto (json unless stderr is a terminal), json or text"
)

// options is the table of the flags of export and backfill (nightly false) or run (nightly
// true): every flag of the command is defined here once.
func (f *exportFlags) options(nightly bool) []option {
	opts := []option{
		stringOpt(&f.apiURL, "api-url", "URL", "base URL of the Technowiz API, e.g. https://bots.example.com (required)", nil),
		stringOpt(&f.customer, "customer", "ID", "numeric customerId of the deployment (required)", nil),
		stringOpt(&f.bot, "bot", "KEY", "16-hex-character botKey of the bot to export (required)", nil),
		listOpt(&f.selectors, "users-where", "user selector NAME=VALUE for the User API (attribute_name=NAME, attribute_value=VALUE); repeat it: the union of the selectors' users is exported (at least one required); from the environment, several separated by '"+listSeparator+"'"),
		stringOpt(&f.apiKeyFile, "api-key-file", "PATH", "file holding the API key; default: the environment variable "+apiKeyEnv, nil),
		stringOpt(&f.lake, "lake", "URL", lakeHelp, nil),
	}
	opts[0].field, opts[1].field, opts[2].field = "BaseURL", "CustomerID", "BotKey"
	if nightly {
		opts = append(opts,
			stringOpt(&f.from, "from", "DAY", "first UTC day YYYY-MM-DD to export; only used when the lake has no state yet", nil),
			daysOpt(&f.lookback, "lookback", defaultLookback, 0, pipelines.MaxLookback, "Lookback", "days already exported that each run reads again, for late messages (2, or 2d)"))
	} else {
		opts = append(opts,
			stringOpt(&f.from, "from", "DAY", "first UTC day YYYY-MM-DD to export, included (required)", nil),
			stringOpt(&f.to, "to", "DAY", "last UTC day YYYY-MM-DD to export, included; must be closed (required)", nil))
	}
	batchSize := intOpt(&f.batchSize, "batch-size", 0, 0, pipelines.MaxBatchSize, "BatchSize", "users per batch, the unit of durable progress (a kill redoes the batches in flight); 0: about users/40, within 10..10000")
	parallelPublish := intOpt(&f.parallelPublish, "parallel-publish", 0, 0, pipelines.MaxParallelPublish, "ParallelPublish", "days merged into the lake at once when the run publishes, about 100 MiB each at the default row groups; 0: the CPUs (at most 4) that the memory limit (GOMEMLIMIT, default 160MiB) holds, one at the default")
	shardIndex := unsetIntOpt(&f.shardIndex, "shard-index", 0, pipelines.MaxShards-1, "ShardIndex", "this process's shard of a run shared by --shard-count processes (0-based); default: $"+envCloudRunIndex+" or $"+envJobIndex+", else 0")
	shardCount := intOpt(&f.shardCount, "shard-count", 0, 0, pipelines.MaxShards, "ShardCount", "processes that share the run, each taking its own batches; default: $"+envCloudRunCount+" or $"+envShardCount+", else 1")
	batchSize.def, parallelPublish.def = "0 (automatic)", "0 (automatic)"
	shardIndex.def, shardCount.def = "$"+envCloudRunIndex+" or $"+envJobIndex+", else 0", "$"+envCloudRunCount+" or $"+envShardCount+", else 1"
	opts = append(opts,
		intOpt(&f.concurrency, "concurrency", pipelines.DefaultConcurrency, 1, pipelines.MaxConcurrency, "Concurrency", "users fetched at once within a unit of work"),
		floatOpt(&f.rate, "rate", extract.DefaultRate, extract.MinRate, maxRate, "Rate", "ceiling of API requests per second; lowered automatically on 429s"),
		intOpt(&f.pageSize, "page-size", extract.DefaultPageSize, 1, extract.MaxPageSize, "PageSize", "messages asked per page; a deployment that caps pages lower is detected anyway, at a few requests' cost"),
		intOpt(&f.maxAttempts, "max-attempts", extract.DefaultMaxAttempts, 1, extract.MaxRequestAttempts, "MaxAttempts", "attempts per API request before the user fails (and is owed to the next run)"),
		durationOpt(&f.requestTimeout, "request-timeout", extract.DefaultAttemptTimeout, minRequestTimeout, extract.MaxDuration, "AttemptTimeout", "deadline of one attempt of an API request, the answer's body included; with --max-attempts and the backoff between attempts it bounds a request"),
		storageTimeoutOpt(&f.storageTimeout),
	)
	opts = append(opts, f.s3.options()...)
	opts = append(opts,
		stringOpt(&f.metricsFile, "metrics-file", "PATH", "write the run's metrics in the Prometheus text format to this file when it ends (node_exporter's textfile collector reads *.prom)", nil),
		stringOpt(&f.pushgateway, "pushgateway", "URL", "push the run's metrics to this Prometheus Pushgateway (http://host:9091) when it ends", nil),
		batchSize,
		intOpt(&f.parallelBatches, "parallel-batches", pipelines.DefaultParallelBatches, 1, pipelines.MaxConcurrency, "ParallelBatches", "batches that may be finishing (their last users, their staging) while the next ones are extracted; at most this + ceil(--concurrency / batch size) batches are alive at once, each with its local spill"),
		parallelPublish, shardIndex, shardCount,
		durationOpt(&f.settle, "settle", pipelines.DefaultSettle, minSettle, pipelines.MaxSettle, "Settle", "a UTC day is closed, and may be exported, this long after it ends (0 is refused: a day's last messages still arrive as it ends)"),
		boolOpt(&f.allowSkipped, "allow-skipped-users", "exit 0 even when users were skipped because the API called their id invalid (1002)"),
		sizeOpt(&f.targetFileSize, "target-file-size", load.DefaultTargetFileSize, minTargetFileSize, load.MaxTargetFileSize, "TargetFileSize", "target size of a Parquet file (bytes, or with a unit: 128MiB); a bigger day is split into several files"),
		tempDirOpt(&f.tempDir, "directory for the local spill of a unit of work (default: the system's temporary directory)"),
		lockLeaseOpt(&f.lockLease),
		logFormatOpt(&f.logFormat),
		durationOpt(&f.progressEvery, "progress-every", pipelines.DefaultProgressEvery, time.Millisecond, maxProgressEvery, "ProgressEvery", "interval of the progress records in the log (a terminal's line is redrawn every second)"),
	)
	opts = append(opts, f.azure.options()...)
	opts = append(opts, f.tables.options()...)
	return append(opts, f.pseudo.options(true)...)
}

// restartOpt is backfill's own flag.
func restartOpt(p *bool) option {
	return boolOpt(p, "restart", "do this backfill again from the start, even if it finished or is half done")
}

// The rows that several commands' tables share.

func storageTimeoutOpt(p *time.Duration) option {
	return durationOpt(p, "storage-timeout", storage.DefaultOpTimeout, time.Millisecond, extract.MaxDuration, "", "deadline of each small call to the lake's storage (reads, conditional writes, listings), retries included")
}

func tempDirOpt(p *string, help string) option {
	o := stringOpt(p, "temp-dir", "DIR", help, dirCheck)
	o.field = "TempDir"
	return o
}

func lockLeaseOpt(p *time.Duration) option {
	return durationOpt(p, "lock-lease", pipelines.DefaultLockLease, pipelines.MinLockLease, pipelines.MaxLockLease, "LockLease", "lease of the lake's lock, renewed while the run lives; a run that died holds the lake at most this long (at once freed when it died on this host)")
}

func logFormatOpt(p *string) option {
	return choiceOpt(p, "log-format", []string{"auto", "json", "text"}, logFormatHelp)
}

// register defines the command's flags on fs, from its table.
func (f *exportFlags) register(fs *flag.FlagSet, nightly bool) {
	f.opts = f.options(nightly)
	register(fs, f.opts)
}

// validate checks the flags that need no I/O but the temporary directory's existence; the
// error names the flag.
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
	if err := validate(f.opts); err != nil {
		return err
	}
	idx, count, err := resolveShard(f.shardIndex, f.shardCount, os.Getenv)
	if err != nil {
		return err
	}
	f.shardIndex, f.shardCount = idx, count
	return nil
}

// minKeyLen is the shortest API key accepted. Technowiz keys are a UUID with a suffix (40 and
// more characters); a key of a few characters is a mistake, and could not be kept out of logs
// in part: its parts are ordinary words (extract redacts a short key only as a whole token).
const minKeyLen = 16

// apiKey reads the key from --api-key-file or the environment. The key itself never appears in
// an error.
func (f *exportFlags) apiKey() (string, error) {
	var key, from string
	if f.apiKeyFile != "" {
		data, err := os.ReadFile(f.apiKeyFile)
		if err != nil {
			return "", usagef("--api-key-file %s: %v", f.apiKeyFile, errors.Unwrap(err))
		}
		key, from = strings.TrimSpace(string(data)), "--api-key-file "+f.apiKeyFile
		if key == "" {
			return "", usagef("--api-key-file %s is empty", f.apiKeyFile)
		}
	} else {
		key, from = strings.TrimSpace(os.Getenv(apiKeyEnv)), "$"+apiKeyEnv
		if key == "" {
			return "", usagef("no API key: set %s or give --api-key-file", apiKeyEnv)
		}
	}
	if len(key) < minKeyLen {
		return "", usagef("the API key in %s has %d characters: too short for a Technowiz key (a UUID with a suffix), want at least %d", from, len(key), minKeyLen)
	}
	return key, nil
}

// newLogger makes the run's logger on stderr. Both formats log INFO and up: a cron job's log
// file gets the progress records and the reason a run did nothing. On a terminal each record
// first clears the progress line being redrawn there, which the next redraw puts back.
func newLogger(format string, stderr io.Writer) *slog.Logger {
	terminal := isTerminal(stderr)
	if format == "auto" {
		format = "json"
		if terminal {
			format = "text"
		}
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(stderr, nil))
	}
	if terminal {
		stderr = clearLine{stderr}
	}
	return slog.New(slog.NewTextHandler(stderr, nil))
}

// clearLine writes each record after erasing the terminal's current line (a progress line).
type clearLine struct{ w io.Writer }

func (c clearLine) Write(p []byte) (int, error) {
	if _, err := io.WriteString(c.w, "\r\033[K"); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// openLake opens the lake URL; a lake that cannot be opened is bad input. With mustExist, a
// lake that is not there is an error and nothing is created (status, verify, publish, forget).
func openLake(ctx context.Context, url string, o *load.Options, mustExist bool, opTimeout time.Duration, tables *tableFlags, set ...func(*storage.OpenOptions)) (*load.Lake, func(), error) {
	so := &storage.OpenOptions{MustExist: mustExist, OpTimeout: opTimeout}
	for _, f := range set {
		f(so)
	}
	store, err := storage.Open(ctx, url, so)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: --lake %s: %w", pipelines.ErrBadInput, url, err)
	}
	closeStore := func() {
		if c, ok := store.(io.Closer); ok {
			_ = c.Close()
		}
	}
	lake, err := newLake(ctx, store, o, tables)
	if err != nil {
		closeStore()
		return nil, nil, err
	}
	return lake, func() {
		if err := lake.Close(); err != nil && o != nil && o.Logger != nil {
			o.Logger.Warn("closing the lake's catalog", "error", err.Error())
		}
		closeStore()
	}, nil
}

// newLake is the lake on store, with the table format tables says (nil: a Hive lake); for
// the commands that take it from the lake (tables.fromLake) the one its mode record names.
func newLake(ctx context.Context, store storage.Store, o *load.Options, tables *tableFlags) (*load.Lake, error) {
	lake, err := load.NewLake(store, o)
	if err != nil || tables == nil {
		return lake, err
	}
	var mode *load.LakeMode
	if tables.fromLake {
		if mode, err = lake.ReadMode(ctx); err != nil {
			return nil, err
		}
	}
	dir, _ := lake.LocalDir()
	oi, err := tables.lakeOptions(o, mode, dir)
	if err != nil || oi == o {
		return lake, err
	}
	return load.NewLake(store, oi)
}

// openExportLake opens the lake of an export, creating it when it does not exist yet; created
// is the local directory it made, if any.
func openExportLake(ctx context.Context, url string, o *load.Options, opTimeout time.Duration, tables *tableFlags, set ...func(*storage.OpenOptions)) (lake *load.Lake, closeLake func(), created string, err error) {
	lake, closeLake, err = openLake(ctx, url, o, true, opTimeout, tables, set...)
	if err == nil || !errors.Is(err, storage.ErrNotExist) {
		return lake, closeLake, "", err
	}
	lake, closeLake, err = openLake(ctx, url, o, false, opTimeout, tables, set...)
	if err != nil {
		return nil, nil, "", err
	}
	if dir, ok := lake.LocalDir(); ok {
		created = dir
	}
	return lake, closeLake, created, nil
}

// discardEmpty removes the lake directory the command made if it is still empty: a run that
// failed before writing (bad input found on the API's or the state's word: a selector that
// matches nobody, a first run without --from) leaves no lake behind. A directory that holds
// anything stays.
func (s *setup) discardEmpty() {
	if s.created != "" {
		_ = os.Remove(s.created) // fails, and keeps it, unless it is empty
	}
}

// setup turns the flags into a client, a lake and a pipeline.
type setup struct {
	client   *extract.Client
	lake     *load.Lake
	pipeline *pipelines.Pipeline
	logger   *slog.Logger
	close    func()
	// created is the local lake directory this command made (a new lake), removed by
	// discardEmpty if the command fails before writing into it.
	created string

	metricsFile, pushgateway string // where the run's metrics go, if anywhere
	customer, bot            string // the metrics' labels
	botLabel                 string // a multi-bot run's bot, for its summary
	resume                   string // how to resume the run if it does not finish (resumeHint)
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
		return nil, optionOfField(f.opts, fmt.Errorf("%w: %w", pipelines.ErrBadInput, err))
	}
	lake, closeLake, created, err := openExportLake(ctx, f.lake, &load.Options{TargetFileSize: f.targetFileSize, TempDir: f.tempDir, Logger: logger}, f.storageTimeout, &f.tables, f.azure.apply, f.s3.apply)
	if err != nil {
		return nil, optionOfField(f.opts, err)
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
		return nil, optionOfField(f.opts, err)
	}
	return &setup{client: client, lake: lake, pipeline: p, logger: logger, close: closeLake, created: created,
		metricsFile: f.metricsFile, pushgateway: f.pushgateway, customer: f.customer, bot: f.bot,
		botLabel: f.botLabel, resume: resumeHint(f.cmdline, f.lake)}, nil
}

// report prints the run summary on stderr once: as text for a person with a text logger, else
// as one JSON record with the run's outcome. A run that did not finish (failed, interrupted)
// says how to resume it. It writes the metrics, and decides the error (and so the exit code).
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
		if code == exitFailed || code == exitSIGINT || code == exitSIGTERM {
			sum.SetResume(s.resume)
		}
		sum.SetBot(s.botLabel)
		if isJSONLogger(s.logger) {
			level := slog.LevelInfo
			if err != nil {
				level = slog.LevelError
			}
			s.logger.Log(context.Background(), level, "summary", "summary", sum)
		} else {
			_ = sum.WriteText(stderr)
		}
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
	f := exportFlags{cmdline: commandLine(name, args)}
	f.register(fs, false)
	var restart bool
	if name == "backfill" {
		register(fs, []option{restartOpt(&restart)})
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
	err = report(ctx, s, sum, err, f.allowSkipped, stderr)
	if err != nil {
		s.discardEmpty()
	}
	return err
}

func runNightly(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	f := exportFlags{cmdline: commandLine("run", args)}
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
	err = report(ctx, s, sum, err, f.allowSkipped, stderr)
	if err != nil {
		s.discardEmpty()
	}
	return err
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
	if err := (extract.Window{Start: d, End: d.AddDate(0, 0, 1)}).Validate(); err != nil {
		return time.Time{}, usagef("--from %s: %v", f.from, err)
	}
	return d, nil
}
