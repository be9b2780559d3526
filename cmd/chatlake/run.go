package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// command is one subcommand of chatlake.
type command struct {
	name    string
	summary string
	usage   string // the arguments after the name
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"demo", "start the built-in simulator and export its whole range into ./lake", "[--lake DIR]", runDemo},
		{"export", "export whole UTC days --from..--to: each user's rows of those days are replaced", "--api-url URL --customer ID --bot KEY --users-where NAME=VALUE... --from DAY --to DAY --lake URL", runExport},
		{"backfill", "export a long range; a rerun resumes it, and a finished backfill is not redone", "(export's flags) [--restart]", runBackfill},
		{"run", "the nightly run: closed days after the lake's watermark, plus a lookback", "(connection flags) --lake URL [--from DAY on the first run] | --config FILE listing bots [--bot-index I]", runNightly},
		{"verify", "check a lake: manifests, files, row counts, duplicate keys, days", "--lake URL [--from DAY --to DAY]", runVerify},
		{"publish", "publish the runs whose batches are all done (a sharded run's last step)", "--lake URL", runPublish},
		{"forget", "erase users: their rows leave every partition and the users table", "--lake URL --user ID...", runForget},
		{"ddl", "print table and view definitions of a lake for DuckDB, BigQuery, Spark or Trino", "--engine duckdb|bigquery|spark|trino --lake URL", runDDL},
		{"status", "show a lake's watermark, freshness, last run, exported days, lock and unfinished runs", "--lake URL [--json] [--max-lag DURATION]", runStatus},
		{"state", "rebuild a corrupt state from the partitions' manifests; the bad file is kept aside", "rebuild --lake URL [--force]", runState},
		{"sim", "serve the Technowiz API simulator over HTTP", "[--addr 127.0.0.1:8080] [simulator flags]", runSim},
		{"version", "print the version, VCS commit and Go version of this binary", "[--json]", runVersion},
	}
}

// run is chatlake without the process: arguments in, output out, an error for the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		writeHelp(stderr)
		return usagef("no command given (try: chatlake demo)")
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help", "-help":
		if len(args) == 1 {
			writeHelp(stdout)
			return nil
		}
		if len(args) > 2 {
			return usagef("help: one command at a time (chatlake help COMMAND)")
		}
		// chatlake help COMMAND is chatlake COMMAND --help.
		c, err := commandNamed(args[1])
		if err != nil {
			return err
		}
		return c.run(ctx, []string{"--help"}, stdout, stderr)
	case "--version", "-version":
		name, args = "version", append([]string{"version"}, args[1:]...)
	}
	c, err := commandNamed(name)
	if err != nil {
		return err
	}
	return redactKeys(interrupted(ctx, c.run(ctx, args[1:], stdout, stderr)), args)
}

// commandNamed is the command of that name; an unknown name is a usage error with the nearest.
func commandNamed(name string) (command, error) {
	var names []string
	for _, c := range commands() {
		if c.name == name {
			return c, nil
		}
		names = append(names, c.name)
	}
	if s := nearest(name, names); s != "" {
		return command{}, usagef("unknown command %q (did you mean %s?)", name, s)
	}
	return command{}, usagef("unknown command %q (commands: %s)", name, commandNames())
}

func commandNames() string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func writeHelp(w io.Writer) {
	fmt.Fprintln(w, "chatlake exports Technowiz chatbot conversations into a Parquet data lake.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: chatlake COMMAND [flags]   (chatlake help COMMAND, or chatlake COMMAND --help, lists a command's flags)")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Exit codes: 0 ok, 1 failed or incomplete, 2 bad input, 3 the lake is locked by another run,")
	fmt.Fprintln(w, "4 status --max-lag found the lake stale, 130/143 stopped by SIGINT/SIGTERM (recorded as interrupted).")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Every flag can also come from $%s_<FLAG> or a --config file; precedence: flag > environment > file > default.\n", envPrefix)
}

func writeFlagHelp(fs *flag.FlagSet, w io.Writer) {
	for _, c := range commands() {
		if c.name == fs.Name() {
			fmt.Fprintf(w, "Usage: chatlake %s %s\n\n%s.\n\n", c.name, c.usage, upperFirst(c.summary))
		}
	}
	fmt.Fprintf(w, "Every flag can also be set by the environment variable named after it ($%s_ and the\n"+
		"flag's name in upper snake case, e.g. --api-url is $%s) or in a --config file (YAML or\n"+
		"TOML, keys are flag names). Precedence: flag > environment > config file > default.\n"+
		"Sizes take units (128MiB, 1GB), durations too (90s, 36h, 2d).\n\nFlags:\n", envPrefix, envName("api-url"))
	fs.VisitAll(func(f *flag.Flag) { writeOneFlag(w, f) })
}

// writeOneFlag prints a flag as PrintDefaults does, with two dashes, a placeholder that says
// what the value is (DURATION, SIZE, URL), its default and its environment variable.
func writeOneFlag(w io.Writer, f *flag.Flag) {
	name, usage := flag.UnquoteUsage(f)
	if p, ok := f.Value.(placeholderValue); ok {
		name = p.placeholder()
	} else if ph := stdPlaceholder(name); ph != "" {
		name = ph // a flag of package flag's own kinds, or of no kind it knows ("value")
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		name = ""
	}
	line := "  --" + f.Name
	if name != "" {
		line += " " + name
	}
	fmt.Fprintln(w, line)
	if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" && f.DefValue != "-1" {
		usage += " (default " + f.DefValue + ")"
	}
	fmt.Fprintf(w, "    \t%s [$%s]\n", strings.ReplaceAll(usage, "\n", "\n    \t"), envName(f.Name))
}

// stdPlaceholder is the table's placeholder for a name flag.UnquoteUsage gives flags of package
// flag's kinds ("value" for a flag.Value it does not know); "" for a name of the usage text.
func stdPlaceholder(name string) string {
	switch name {
	case "duration":
		return "DURATION"
	case "int", "uint", "float":
		return "N"
	case "string":
		return "WORD"
	case "value":
		return "VALUE"
	}
	return ""
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
