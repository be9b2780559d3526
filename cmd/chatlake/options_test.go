package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chatlake/chatlake/sim"
)

// optionsDocPath is the generated reference of every option of the commands that have a table.
const optionsDocPath = "../../docs/options.md"

// optionsDoc renders the commands' option tables as markdown: the reference docs/options.md.
func optionsDoc() string {
	var b strings.Builder
	b.WriteString("# Options\n\n")
	b.WriteString("<!-- Generated from the option tables of cmd/chatlake (optionflags.go) by TestOptionsDoc;\n")
	b.WriteString("     UPDATE_OPTIONS_DOC=1 go test -run TestOptionsDoc ./cmd/chatlake rewrites it. -->\n\n")
	b.WriteString("Every flag is also read from the environment variable named in the table, and from a\n")
	b.WriteString("`--config` file by its name; precedence: flag > environment > config file > default. A\n")
	fmt.Fprintf(&b, "repeatable flag takes several values from its variable, separated by `%s`\n", listSeparator)
	fmt.Fprintf(&b, "(`CHATLAKE_USERS_WHERE=user.channel=web%suser.channel=whatsapp`); a value that holds `%s` itself\n", listSeparator, listSeparator)
	b.WriteString("must come from the command line or a config file's list. A value outside its bounds is\n")
	b.WriteString("exit 2 with one line naming the flag, before anything is created.\n\n")
	var ef, nf exportFlags
	var lf lakeFlags
	var sf statusFlags
	var vf verifyFlags
	var restart, force bool
	var users usersFlag
	var botIndex, parallel int
	var df ddlFlags
	var demoLake, demoLog, demoTables, simAddr string
	var asJSON bool
	demoSim, simOpts := sim.DefaultOptions(), sim.DefaultOptions()
	sections := []struct {
		title string
		opts  []option
	}{
		{"export, backfill", append(ef.options(false), restartOpt(&restart))},
		{"run", append(nf.options(true), botOptions(&botIndex, &parallel)...)},
		{"publish, forget, state rebuild", append(lf.options(), userOpt(&users), forceOpt(&force))},
		{"status", sf.options()},
		{"verify", vf.options()},
		{"ddl", df.options()},
		{"demo", demoOptions(&demoLake, &demoLog, &demoTables, &demoSim)},
		{"sim", simOptions(&simAddr, &simOpts)},
		{"version", versionOptions(&asJSON)},
	}
	for _, s := range sections {
		fmt.Fprintf(&b, "## %s\n\n", s.title)
		b.WriteString("| flag | default | accepted | environment | meaning |\n|---|---|---|---|---|\n")
		for _, o := range s.opts {
			flagCol := "`--" + o.name + "`"
			if p, ok := o.value.(placeholderValue); ok {
				if _, isBool := o.value.(*boolValue); !isBool {
					flagCol = "`--" + o.name + " " + p.placeholder() + "`"
				}
			}
			note := ""
			switch o.name {
			case "restart":
				note = " (backfill only)"
			case "user":
				note = " (forget only)"
			case "force":
				note = " (state rebuild only)"
			}
			if _, ok := o.value.(repeatable); ok {
				note += " (repeatable)"
			}
			def := o.def
			if def != "" {
				def = "`" + def + "`"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | `%s` | %s%s |\n", flagCol, def, o.bounds, envName(o.name),
				strings.ReplaceAll(o.help, "|", "\\|"), note)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestOptionsDoc: docs/options.md is what the option tables say (the docs read the table).
func TestOptionsDoc(t *testing.T) {
	want := optionsDoc()
	if os.Getenv("UPDATE_OPTIONS_DOC") != "" {
		if err := os.WriteFile(optionsDocPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(optionsDocPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s is not what the option tables say; run UPDATE_OPTIONS_DOC=1 go test -run TestOptionsDoc ./cmd/chatlake", optionsDocPath)
	}
}

// TestOptionBounds: each kind of option refuses a value outside its bounds, with an error that
// names the flag in the user's units, and accepts its bounds and its default.
func TestOptionBounds(t *testing.T) {
	var f exportFlags
	for _, tc := range []struct {
		flag, value string
		want        string // "" = accepted
	}{
		{"target-file-size", "2TiB", "--target-file-size 2TiB must be 1MiB..1TiB"},
		{"target-file-size", "1TiB", ""},
		{"target-file-size", "1MiB", ""},
		{"target-file-size", "1000KiB", "--target-file-size 1000KiB must be 1MiB..1TiB"},
		{"settle", "0", "--settle 0s must be 1m..36500d"},
		{"settle", "1m", ""},
		{"lookback", "2d", ""},
		{"lookback", "48h", ""},
		{"lookback", "3661", "--lookback 3661d must be 0d..3660d"},
		{"concurrency", "0", "--concurrency 0 must be 1..10000"},
		{"concurrency", "10000", ""},
		{"rate", "0.001", "--rate 0.001 must be 0.01..1e+06"},
		{"log-format", "xml", `--log-format "xml" must be one of auto, json, text`},
		{"temp-dir", "/nonexistent", "--temp-dir /nonexistent must be an existing directory"},
		{"lock-lease", "2s", "--lock-lease 2s must be 3s..30d"},
	} {
		t.Run(tc.flag+"="+tc.value, func(t *testing.T) {
			fs := flag.NewFlagSet("run", flag.ContinueOnError)
			f = exportFlags{}
			f.register(fs, true)
			if err := validate(f.opts); err != nil {
				t.Fatalf("the defaults: %v", err)
			}
			if err := fs.Set(tc.flag, tc.value); err != nil {
				t.Fatalf("set: %v", err)
			}
			err := validate(f.opts)
			var ue *usageError
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (!errors.As(err, &ue) || !strings.HasPrefix(err.Error(), tc.want)):
				t.Fatalf("error %v, want a usage error starting %q", err, tc.want)
			}
		})
	}
}

// TestRepeatableFromEnvironment: one variable gives a repeatable flag several values; a flag
// that is not repeatable takes the whole value, separator included.
func TestRepeatableFromEnvironment(t *testing.T) {
	env := map[string]string{
		envName("users-where"):    "user.channel=web, user.channel=whatsapp",
		envName("pii-attributes"): "phone,email",
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var f exportFlags
	f.register(fs, true)
	set := map[string]bool{}
	if err := setFromEnv(fs, set, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if len(f.selectors) != 2 || f.selectors[0].String() != "user.channel=web" || f.selectors[1].String() != "user.channel=whatsapp" {
		t.Errorf("--users-where from the environment: %v, want the two selectors", f.selectors)
	}
	if f.pseudo.piiAttributes != "phone,email" {
		t.Errorf("--pii-attributes from the environment: %q, want the whole value", f.pseudo.piiAttributes)
	}
	if !set["users-where"] || !set["pii-attributes"] {
		t.Errorf("set %v does not record the flags the environment set", set)
	}
}
