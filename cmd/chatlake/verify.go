package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/chatlake/chatlake/schema"
)

// verifyFlags are the flags of verify.
type verifyFlags struct {
	lake, from, to string
	s3             s3Flags
	azure          azureFlags
	tables         tableFlags
}

// options is the table of verify's flags.
func (f *verifyFlags) options() []option {
	return append([]option{
		stringOpt(&f.lake, "lake", "URL", lakeHelp, nil),
		stringOpt(&f.from, "from", "DAY", "first day YYYY-MM-DD to check; with --to, a day without a manifest is reported missing (default: every day found)", nil),
		stringOpt(&f.to, "to", "DAY", "last day YYYY-MM-DD to check (default: every day found)", nil),
	}, append(append(f.s3.options(), f.azure.options()...), f.tables.options()...)...)
}

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	f := verifyFlags{tables: tableFlags{fromLake: true, readOnly: true}}
	opts := f.options()
	register(fs, opts)
	lakeURL, from, to := &f.lake, &f.from, &f.to
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	if *lakeURL == "" {
		return usagef("missing required flag: --lake")
	}
	if err := validate(opts); err != nil {
		return err
	}
	if (*from == "") != (*to == "") {
		return usagef("give both --from and --to, or neither")
	}
	if *from != "" {
		f, err := schema.ParseDay(*from)
		if err != nil {
			return usagef("--from: %v", err)
		}
		t, err := schema.ParseDay(*to)
		if err != nil {
			return usagef("--to: %v", err)
		}
		if t.Before(f) {
			return usagef("--to %s is before --from %s", *to, *from)
		}
	}
	lake, closeLake, err := openLake(ctx, *lakeURL, nil, true, 0, &f.tables, f.azure.apply, f.s3.apply)
	if err != nil {
		return err
	}
	defer closeLake()
	rep, err := lake.Verify(ctx, *from, *to)
	if err != nil {
		return fmt.Errorf("verify %s: %w", *lakeURL, err)
	}
	if err := rep.WriteText(stdout); err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("verify %s: %d problem(s) found", *lakeURL, len(rep.Problems))
	}
	return nil
}
