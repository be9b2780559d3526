package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/chatlake/chatlake/schema"
)

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	lakeURL := fs.String("lake", "", "the lake: a local directory, file:///DIR, or gs://BUCKET/PREFIX (required)")
	from := fs.String("from", "", "first day `YYYY-MM-DD` to check; with --to, a day without a manifest is reported missing (default: every day found)")
	to := fs.String("to", "", "last day `YYYY-MM-DD` to check (default: every day found)")
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	if *lakeURL == "" {
		return usagef("missing required flag: --lake")
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
	lake, closeLake, err := openLake(ctx, *lakeURL, nil, true, 0)
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
