package main

import (
	"context"
	"flag"
	"io"
	"strings"
	"time"

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/pipelines"
)

// lakeFlags are the flags of the commands that work on a lake without the API: publish, forget.
type lakeFlags struct {
	lake, tempDir, logFormat  string
	lockLease, storageTimeout time.Duration
	s3                        s3Flags
	pseudo                    pseudonymFlags
	azure                     azureFlags
	tables                    tableFlags
	cmdline                   string   // the command as given (resumeHint)
	opts                      []option // the command's table, bound to these fields (register)
}

// options is the table of the flags that publish and forget share.
func (f *lakeFlags) options() []option {
	return append([]option{
		stringOpt(&f.lake, "lake", "URL", lakeHelp, nil),
		tempDirOpt(&f.tempDir, "directory for local copies of the files being rewritten (default: the system's temporary directory)"),
		logFormatOpt(&f.logFormat),
		lockLeaseOpt(&f.lockLease),
		storageTimeoutOpt(&f.storageTimeout),
	}, append(append(append(f.s3.options(), f.azure.options()...), f.tables.options()...), f.pseudo.options(false)...)...)
}

func (f *lakeFlags) register(fs *flag.FlagSet, more ...option) {
	f.opts = append(f.options(), more...)
	register(fs, f.opts)
}

func (f *lakeFlags) pipeline(ctx context.Context, stderr io.Writer) (*setup, error) {
	if f.lake == "" {
		return nil, usagef("missing required flag: --lake")
	}
	if err := validate(f.opts); err != nil {
		return nil, err
	}
	ps, err := f.pseudo.pseudonymizer()
	if err != nil {
		return nil, err
	}
	runID := pipelines.NewRunID(time.Now())
	logger := newLogger(f.logFormat, stderr).With("run_id", runID)
	lake, closeLake, err := openLake(ctx, f.lake, &load.Options{TempDir: f.tempDir, Logger: logger}, true, f.storageTimeout, &f.tables, f.azure.apply, f.s3.apply)
	if err != nil {
		return nil, optionOfField(f.opts, err)
	}
	p, err := pipelines.New(nil, lake, pipelines.Options{LockLease: f.lockLease, Logger: logger, RunID: runID, Pseudonymizer: ps})
	if err != nil {
		closeLake()
		return nil, optionOfField(f.opts, err)
	}
	return &setup{lake: lake, pipeline: p, logger: logger, close: closeLake, resume: resumeHint(f.cmdline, f.lake)}, nil
}

func runPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	f := lakeFlags{cmdline: commandLine("publish", args), tables: tableFlags{fromLake: true}}
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

func (u *usersFlag) String() string      { return strings.Join(*u, listSeparator) }
func (u *usersFlag) Set(v string) error  { *u = append(*u, v); return nil }
func (u *usersFlag) placeholder() string { return "ID" }
func (u *usersFlag) repeatable()         {}

// userOpt is forget's own flag.
func userOpt(p *usersFlag) option {
	return listOpt(p, "user", "channel user ID to erase from the lake; repeat it for several users (at least one required); from the environment, several separated by '"+listSeparator+"'")
}

func runForget(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("forget", flag.ContinueOnError)
	f := lakeFlags{cmdline: commandLine("forget", args), tables: tableFlags{fromLake: true}}
	var users usersFlag
	f.register(fs, userOpt(&users))
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
