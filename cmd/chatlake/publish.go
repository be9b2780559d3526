package main

import (
	"context"
	"flag"
	"io"
	"time"

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/pipelines"
)

// lakeFlags are the flags of the commands that work on a lake without the API: publish, forget.
type lakeFlags struct {
	lake, tempDir, logFormat  string
	lockLease, storageTimeout time.Duration
	pseudo                    pseudonymFlags
}

func (f *lakeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.lake, "lake", "", "the lake: a local directory, file:///DIR, or gs://BUCKET/PREFIX (required)")
	fs.StringVar(&f.tempDir, "temp-dir", "", "directory for local copies of the files being rewritten (default: the system's temporary directory)")
	fs.StringVar(&f.logFormat, "log-format", "auto", "log format on stderr: json, text, or auto (json unless stderr is a terminal)")
	durationVar(fs, &f.lockLease, "lock-lease", 2*time.Minute, "lease of the lake's lock, renewed while the command runs")
	durationVar(fs, &f.storageTimeout, "storage-timeout", 0, "deadline of each small call to the lake's storage, retries included (default: 1m, see load/storage)")
	f.pseudo.register(fs, false)
}

func (f *lakeFlags) pipeline(ctx context.Context, stderr io.Writer) (*setup, error) {
	if f.lake == "" {
		return nil, usagef("missing required flag: --lake")
	}
	if f.lockLease < 3*time.Second {
		return nil, usagef("--lock-lease must be at least 3s, not %s", f.lockLease)
	}
	switch f.logFormat {
	case "auto", "json", "text":
	default:
		return nil, usagef("--log-format must be json, text or auto, not %q", f.logFormat)
	}
	ps, err := f.pseudo.pseudonymizer()
	if err != nil {
		return nil, err
	}
	runID := pipelines.NewRunID(time.Now())
	logger := newLogger(f.logFormat, stderr).With("run_id", runID)
	lake, closeLake, err := openLake(ctx, f.lake, &load.Options{TempDir: f.tempDir, Logger: logger}, true, f.storageTimeout)
	if err != nil {
		return nil, err
	}
	p, err := pipelines.New(nil, lake, pipelines.Options{LockLease: f.lockLease, Logger: logger, RunID: runID, Pseudonymizer: ps})
	if err != nil {
		closeLake()
		return nil, err
	}
	return &setup{lake: lake, pipeline: p, logger: logger, close: closeLake}, nil
}

func runPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	var f lakeFlags
	f.register(fs)
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	s, err := f.pipeline(ctx, stderr)
	if err != nil {
		return err
	}
	defer s.close()
	sum, err := s.pipeline.Publish(ctx)
	return report(ctx, s, sum, err, true, stderr)
}

// usersFlag collects repeated --user ID flags.
type usersFlag []string

func (u *usersFlag) String() string     { return "" }
func (u *usersFlag) Set(v string) error { *u = append(*u, v); return nil }

func runForget(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("forget", flag.ContinueOnError)
	var f lakeFlags
	f.register(fs)
	var users usersFlag
	fs.Var(&users, "user", "channel user `ID` to erase from the lake; repeat it for several users (at least one required)")
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	if len(users) == 0 {
		return usagef("missing required flag: --user")
	}
	for _, u := range users {
		if u == "" {
			return usagef("--user: an empty user id")
		}
	}
	s, err := f.pipeline(ctx, stderr)
	if err != nil {
		return err
	}
	defer s.close()
	sum, err := s.pipeline.Forget(ctx, users)
	return report(ctx, s, sum, err, true, stderr)
}
