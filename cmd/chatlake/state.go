package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/chatlake/chatlake/pipelines"
)

// forceOpt is state rebuild's own flag.
func forceOpt(p *bool) option {
	return boolOpt(p, "force", "rebuild even a state that reads fine (what is owed, the backfills and the erasures are forgotten)")
}

// runState is `chatlake state rebuild --lake URL [--force]`: the way out of a corrupt state.
func runState(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("state", flag.ContinueOnError)
	var f lakeFlags
	var force bool
	f.register(fs, forceOpt(&force))
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if help, err := parseFlags(fs, args, stdout); help || err != nil {
			return err
		}
		return usagef("state: missing action (try: chatlake state rebuild --lake URL)")
	}
	if args[0] != "rebuild" {
		return usagef("state: unknown action %q (actions: rebuild)", args[0])
	}
	if help, err := parseFlags(fs, args[1:], stdout); help || err != nil {
		return err
	}
	s, err := f.pipeline(ctx, stderr)
	if err != nil {
		return err
	}
	defer s.close()
	r, err := s.pipeline.RebuildState(ctx, force)
	if err != nil {
		return err
	}
	return writeRebuilt(stdout, r)
}

func writeRebuilt(w io.Writer, r *pipelines.Rebuilt) error {
	kept := "none (the lake had no state)"
	if r.Kept != "" {
		kept = r.Kept
	}
	wm := r.Watermark
	if wm == "" {
		wm = "none (the next nightly run needs --from)"
	}
	_, err := fmt.Fprintf(w, "state rebuilt from the manifests: %d days, watermark %s\nold state kept as %s\n", r.Days, wm, kept)
	if err == nil && len(r.Incomplete) > 0 {
		_, err = fmt.Fprintf(w, "days not complete (after the watermark, exported again by the next run): %s\n", strings.Join(r.Incomplete, ", "))
	}
	if err == nil {
		_, err = fmt.Fprintln(w, "not recoverable from the manifests: users owed, finished backfills, erasure records; rerun the exports that failed users")
	}
	return err
}
