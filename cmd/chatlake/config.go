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
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"
)

// envPrefix is the prefix of the environment variable of every flag: --api-url is
// CHATLAKE_API_URL.
const envPrefix = "CHATLAKE"

// configFlag names the flag that reads a config file, on every command.
const configFlag = "config"

// envName is the environment variable of a flag.
func envName(flagName string) string {
	return envPrefix + "_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(flagName))
}

// parseFlags parses a command's flags from the command line, the environment and a config
// file (--config FILE, YAML or TOML), in that order of precedence, over the defaults.
// --help prints the command's flags to stdout; a wrong flag, a stray argument or a bad config
// file is a one-line usage error naming the flag, the variable or the file's line.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (help bool, err error) {
	help, _, err = parseBotFlags(fs, args, stdout, -1)
	return help, err
}

// parseBotFlags is parseFlags that also returns the config file's list of bots, and, with
// bot >= 0, reads that bot's settings over the file's top-level ones (see bots.go).
func parseBotFlags(fs *flag.FlagSet, args []string, stdout io.Writer, bot int) (help bool, bots []botEntry, err error) {
	fs.SetOutput(io.Discard)
	if fs.Lookup(configFlag) == nil {
		fs.Var(&placeheldString{p: new(string), ph: "FILE"}, configFlag, "read settings from this YAML or TOML file (keys are flag names: lake: gs://b/p); the command line, then the environment, win over it")
	}
	if c, ok := stdout.(*flagCollector); ok {
		fs.VisitAll(func(f *flag.Flag) { c.names[f.Name] = true })
		return true, nil, nil
	}
	set, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		writeFlagHelp(fs, stdout)
		return true, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	if err := setFromEnv(fs, set, os.Getenv); err != nil {
		return false, nil, err
	}
	cp := &configParser{fs: fs, bot: bot}
	if path := fs.Lookup(configFlag).Value.String(); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return false, nil, usagef("--config %s: %v", path, errors.Unwrap(err))
		}
		err = cp.parse(data, func(name, value string) error {
			if set[name] {
				return nil // the command line and the environment win
			}
			return fs.Set(name, value)
		})
		if err != nil {
			return false, nil, err
		}
	}
	if bot >= len(cp.bots) {
		return false, nil, usagef("%s: bot %d: the config file lists %d bot(s)", fs.Name(), bot, len(cp.bots))
	}
	if p, ok := stdout.(*flagProbe); ok {
		fs.VisitAll(func(f *flag.Flag) { p.values[f.Name] = f.Value.String() })
		return true, cp.bots, nil
	}
	return false, cp.bots, nil
}

// flagProbe, given as stdout to a command, records the flags' values after parsing and stops
// the command there (tests of the configuration's precedence).
type flagProbe struct {
	io.Writer
	values map[string]string
}

// parseArgs sets fs's flags from the command line (--name value, --name=value, a switch alone;
// one dash or two) and returns the names it set. --help (or -h) is flag.ErrHelp; an unknown
// flag, a missing or refused value, or a stray argument is a usage error naming the flag.
func parseArgs(fs *flag.FlagSet, args []string) (map[string]bool, error) {
	set := map[string]bool{}
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			args = args[1:]
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		args = args[1:]
		name := strings.TrimPrefix(a[1:], "-")
		value, hasValue := "", false
		if i := strings.IndexByte(name, '='); i >= 0 {
			name, value, hasValue = name[:i], name[i+1:], true
		}
		f := fs.Lookup(name)
		switch {
		case f == nil && (name == "h" || name == "help"):
			return nil, flag.ErrHelp
		case f == nil:
			return nil, unknownFlag(fs, name)
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() && !hasValue {
			value, hasValue = "true", true
		}
		if !hasValue {
			if len(args) == 0 {
				return nil, usagef("%s: --%s needs a value", fs.Name(), name)
			}
			value, args = args[0], args[1:]
		}
		if err := fs.Set(name, value); err != nil {
			return nil, usagef("%s: invalid value %q for --%s: %v", fs.Name(), value, name, err)
		}
		set[name] = true
	}
	if len(args) > 0 {
		return nil, usagef("%s: unexpected argument %q (flags start with --)", fs.Name(), args[0])
	}
	return set, nil
}

// unknownFlag is the usage error of a flag fs does not have, with the nearest one's name.
func unknownFlag(fs *flag.FlagSet, name string) error {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if s := nearest(name, names); s != "" {
		return usagef("%s: unknown flag --%s (did you mean --%s?)", fs.Name(), name, s)
	}
	return usagef("%s: unknown flag --%s (%s --help lists the flags)", fs.Name(), name, fs.Name())
}

// setFromEnv sets each flag that the command line did not set from its environment variable
// (envName), when that is not empty, and adds it to set. A repeatable flag's variable holds
// several values separated by listSeparator.
func setFromEnv(fs *flag.FlagSet, set map[string]bool, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] {
			return
		}
		env := envName(f.Name)
		v := getenv(env)
		if v == "" {
			return
		}
		values := []string{v}
		if _, ok := f.Value.(repeatable); ok {
			values = strings.Split(v, listSeparator)
		}
		for _, one := range values {
			if serr := fs.Set(f.Name, strings.TrimSpace(one)); serr != nil {
				err = usagef("%s: $%s=%q: invalid value for --%s: %v", fs.Name(), env, v, f.Name, serr)
				return
			}
		}
		set[f.Name] = true
	})
	return err
}

// nearest returns the candidate closest to s in edit distance, if it is close enough to be
// a likely typo; else "".
func nearest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Damerau-Levenshtein distance (with adjacent transpositions) of a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// flagCollector, given as stdout to a command with --help, collects the names of its flags
// instead of printing them: the settings a config file may hold for some command.
type flagCollector struct {
	io.Writer
	names map[string]bool
}

// allFlagNames are the flags of every command.
func allFlagNames() map[string]bool {
	c := &flagCollector{Writer: io.Discard, names: map[string]bool{}}
	for _, cmd := range commands() {
		_ = cmd.run(context.Background(), []string{"--help"}, c, io.Discard)
	}
	return c.names
}

// configSetting is one key of a config file with its value(s) and line.
type configSetting struct {
	key    string
	values []string
	line   int
}

// configParser reads a config file for ff: keys are flag names (dashes or underscores), values
// are scalars or lists of scalars (a list sets a repeatable flag once per item). A key that is
// a flag of another command is ignored (one file serves every command); a key that is no
// command's flag is an error naming its line. The key "bots" is a list of per-bot settings
// (bots.go): with bot >= 0, that bot's settings replace the top-level settings of the same keys.
type configParser struct {
	fs   *flag.FlagSet
	bot  int        // the bot whose settings are read, or -1
	bots []botEntry // the file's bots, after parse
}

func (p *configParser) path() string { return p.fs.Lookup(configFlag).Value.String() }

func (p *configParser) parse(data []byte, set func(name, value string) error) error {
	settings, bots, err := readConfig(p.path(), data)
	if err != nil {
		return err
	}
	p.bots = bots
	if p.bot >= 0 && p.bot < len(bots) {
		settings = overlay(settings, bots[p.bot].settings)
	}
	var known map[string]bool
	for _, s := range settings {
		name := strings.ReplaceAll(s.key, "_", "-")
		if name == configFlag || name == "bots" {
			continue
		}
		if p.fs.Lookup(name) == nil {
			if known == nil {
				known = allFlagNames()
			}
			if known[name] {
				continue // a setting of another command
			}
			names := make([]string, 0, len(known))
			for n := range known {
				names = append(names, n)
			}
			sort.Strings(names)
			hint := ""
			if n := nearest(name, names); n != "" {
				hint = fmt.Sprintf(" (did you mean %s?)", n)
			}
			return usagef("%s line %d: unknown setting %q%s", p.path(), s.line, s.key, hint)
		}
		for _, v := range s.values {
			if err := set(name, v); err != nil {
				return usagef("%s line %d: %s: invalid value %q for --%s: %v", p.path(), s.line, s.key, v, name, err)
			}
		}
	}
	return nil
}

// readConfig reads a YAML or TOML (by the extension .toml) file's top-level settings and its
// list of bots.
func readConfig(path string, data []byte) ([]configSetting, []botEntry, error) {
	if strings.EqualFold(filepath.Ext(path), ".toml") {
		return readTOML(path, data)
	}
	return readYAML(path, data)
}

func readYAML(path string, data []byte) ([]configSetting, []botEntry, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, usagef("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return nil, nil, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, nil, usagef("%s line %d: want settings as `name: value` lines", path, root.Line)
	}
	settings, err := yamlSettings(path, root, true)
	if err != nil {
		return nil, nil, err
	}
	var bots []botEntry
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "bots" {
			continue
		}
		if v.Kind != yaml.SequenceNode {
			return nil, nil, usagef("%s line %d: bots: want a list of bots, each a mapping of settings", path, v.Line)
		}
		for _, item := range v.Content {
			if item.Kind != yaml.MappingNode {
				return nil, nil, usagef("%s line %d: bots: want each bot as a mapping of settings (customer: ..., bot: ...)", path, item.Line)
			}
			s, err := yamlSettings(path, item, false)
			if err != nil {
				return nil, nil, err
			}
			bots = append(bots, botEntry{line: item.Line, settings: s})
		}
	}
	return settings, bots, nil
}

// yamlSettings reads a mapping's keys; at the top level "bots" keeps no values (readYAML
// reads it), within a bot it is an error.
func yamlSettings(path string, m *yaml.Node, top bool) ([]configSetting, error) {
	var out []configSetting
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		s := configSetting{key: k.Value, line: k.Line}
		if k.Value == "bots" {
			if !top {
				return nil, usagef("%s line %d: bots: a bot cannot list bots", path, k.Line)
			}
			out = append(out, s)
			continue
		}
		switch v.Kind {
		case yaml.ScalarNode:
			s.values = []string{v.Value}
		case yaml.SequenceNode:
			for _, item := range v.Content {
				if item.Kind != yaml.ScalarNode {
					return nil, usagef("%s line %d: %s: want a list of values", path, item.Line, k.Value)
				}
				s.values = append(s.values, item.Value)
			}
		default:
			return nil, usagef("%s line %d: %s: want a value or a list of values", path, v.Line, k.Value)
		}
		out = append(out, s)
	}
	return out, nil
}

func readTOML(path string, data []byte) ([]configSetting, []botEntry, error) {
	var m map[string]any
	if _, err := toml.Decode(string(data), &m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, nil, usagef("%s line %d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, nil, usagef("%s: %v", path, err)
	}
	lines := tomlKeyLines(data)
	settings, err := tomlSettings(path, m, lines)
	if err != nil {
		return nil, nil, err
	}
	raw, ok := m["bots"]
	if !ok {
		return settings, nil, nil
	}
	tables, ok := raw.([]map[string]any)
	if !ok {
		return nil, nil, usagef("%s line %d: bots: want a list of bots, each a [[bots]] table", path, lines["bots"])
	}
	botLines := tomlTableLines(data, "bots")
	var bots []botEntry
	for i, t := range tables {
		line := lines["bots"]
		if i < len(botLines) {
			line = botLines[i]
		}
		if _, nested := t["bots"]; nested {
			return nil, nil, usagef("%s line %d: bots: a bot cannot list bots", path, line)
		}
		// Keys of a bot's table are reported at the table's line.
		tl := map[string]int{}
		for k := range t {
			tl[k] = line
		}
		s, err := tomlSettings(path, t, tl)
		if err != nil {
			return nil, nil, err
		}
		bots = append(bots, botEntry{line: line, settings: s})
	}
	return settings, bots, nil
}

// tomlSettings reads a table's keys in the order of their lines; "bots" keeps no values.
func tomlSettings(path string, m map[string]any, lines map[string]int) ([]configSetting, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if lines[keys[i]] != lines[keys[j]] {
			return lines[keys[i]] < lines[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var out []configSetting
	for _, k := range keys {
		s := configSetting{key: k, line: lines[k]}
		if k == "bots" {
			out = append(out, s)
			continue
		}
		switch v := m[k].(type) {
		case []any:
			for _, item := range v {
				if _, ok := item.(map[string]any); ok {
					return nil, usagef("%s line %d: %s: want a list of values", path, s.line, k)
				}
				s.values = append(s.values, fmt.Sprint(item))
			}
		case map[string]any:
			return nil, usagef("%s line %d: %s: want a value or a list of values, not a table", path, s.line, k)
		default:
			s.values = []string{fmt.Sprint(v)}
		}
		out = append(out, s)
	}
	return out, nil
}

var tomlKey = regexp.MustCompile(`^\s*(?:"([^"]+)"|([A-Za-z0-9_-]+))\s*=`)
var tomlTable = regexp.MustCompile(`^\s*\[\[?\s*([A-Za-z0-9_-]+)`)

// tomlKeyLines finds the line of each top-level key (before the first table) and of each
// table's first line.
func tomlKeyLines(data []byte) map[string]int {
	lines := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	inTable := false
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if m := tomlTable.FindStringSubmatch(l); m != nil {
			inTable = true
			if _, ok := lines[m[1]]; !ok {
				lines[m[1]] = n
			}
			continue
		}
		if inTable {
			continue
		}
		if m := tomlKey.FindStringSubmatch(l); m != nil {
			k := m[1] + m[2]
			if _, ok := lines[k]; !ok {
				lines[k] = n
			}
		}
	}
	return lines
}
