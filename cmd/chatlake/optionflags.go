package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/pipelines"
)

// option is one flag of a command, defined once: its name, default, bounds, unit and help. The
// flag set registers it (register), the environment and the config file set it by its name
// (its variable is envName(name)), validate checks its bounds before anything is created, and
// docs/options.md is generated from it (TestOptionsDoc). Defaults and bounds that a library
// also applies to its zero values are the library's exported constants, written once there.
type option struct {
	name  string     // the flag, without dashes
	value flag.Value // bound to the setting; its String() before parsing is the default
	help  string
	def   string // the default as a person writes it, for the docs ("" when the flag has none)
	// bounds are the values accepted, as a person writes them ("1..10000", "at least 3s"); the
	// error of a value outside them names the flag and says them.
	bounds string
	field  string       // the Go field of the library's options it sets, whose errors name it
	check  func() error // the bounds (nil: only the value's syntax); the error omits the flag
}

// A boundError is a value outside its flag's bounds; validate names the flag.
type boundError struct{ value, bounds string }

func (e *boundError) Error() string { return e.value + " must be " + e.bounds }

// validate checks every option's bounds, in the table's order: the first bad value is a usage
// error naming its flag, in the user's units.
func validate(opts []option) error {
	for _, o := range opts {
		if o.check == nil {
			continue
		}
		if err := o.check(); err != nil {
			return usagef("--%s %v", o.name, err)
		}
	}
	return nil
}

// register defines every option on fs; its help says the bounds.
func register(fs *flag.FlagSet, opts []option) {
	for _, o := range opts {
		usage := o.help
		if o.bounds != "" {
			usage += " (" + o.bounds + ")"
		}
		fs.Var(o.value, o.name, usage)
	}
}

// optionOfField names the flag behind a library's option error (*extract.OptionError,
// *pipelines.OptionError, *load.OptionError) as a usage error: --target-file-size, not
// TargetFileSize. Other errors pass unchanged. Validation makes these rare: they are the
// library's last word on values the table does not bound.
func optionOfField(opts []option, err error) error {
	var field, reason string
	var eo *extract.OptionError
	var po *pipelines.OptionError
	var lo *load.OptionError
	switch {
	case errors.As(err, &eo):
		field, reason = eo.Field, eo.Reason
	case errors.As(err, &po):
		field, reason = po.Field, po.Reason
	case errors.As(err, &lo):
		field, reason = lo.Field, lo.Reason
	default:
		return err
	}
	if field == "APIKey" {
		return usagef("the API key (%s or --api-key-file) %s", apiKeyEnv, reason)
	}
	for _, o := range opts {
		if o.field == field {
			return usagef("--%s: %s", o.name, reason)
		}
	}
	return err
}

// bounded is an option of an ordered kind within lo..hi, its values shown by format in the
// user's units.
func bounded[T int | float64 | time.Duration | int64](p *T, v flag.Value, name string, def, lo, hi T, format func(T) string, field, help string) option {
	*p = def
	bounds := format(lo) + ".." + format(hi)
	return option{name: name, value: v, help: help, def: format(def), bounds: bounds, field: field,
		check: func() error {
			if *p < lo || *p > hi { // floatValue refuses NaN
				return &boundError{format(*p), bounds}
			}
			return nil
		}}
}

// unsetIntOpt is a whole number within lo..hi, or -1 (its default) when not given: the help
// shows lo..hi and no default, and the command decides what -1 means.
func unsetIntOpt(p *int, name string, lo, hi int, field, help string) option {
	o := intOpt(p, name, -1, lo, hi, field, help)
	o.def = ""
	check := o.check
	o.check = func() error {
		if *p == -1 {
			return nil
		}
		return check()
	}
	return o
}

// intOpt is a whole number within lo..hi.
func intOpt(p *int, name string, def, lo, hi int, field, help string) option {
	return bounded(p, (*intValue)(p), name, def, lo, hi, strconv.Itoa, field, help)
}

// floatOpt is a number within lo..hi.
func floatOpt(p *float64, name string, def, lo, hi float64, field, help string) option {
	format := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	return bounded(p, (*floatValue)(p), name, def, lo, hi, format, field, help)
}

// durationOpt is a duration within lo..hi (90s, 36h, 2d).
func durationOpt(p *time.Duration, name string, def, lo, hi time.Duration, field, help string) option {
	return bounded(p, (*durationValue)(p), name, def, lo, hi, formatDuration, field, help)
}

// sizeOpt is a byte size within lo..hi (128MiB, 1GB).
func sizeOpt(p *int64, name string, def, lo, hi int64, field, help string) option {
	return bounded(p, (*sizeValue)(p), name, def, lo, hi, formatSize, field, help)
}

// daysOpt is a number of whole days within lo..hi, written 2, 2d or 48h.
func daysOpt(p *int, name string, def, lo, hi int, field, help string) option {
	format := func(n int) string { return strconv.Itoa(n) + "d" }
	return bounded(p, (*daysValue)(p), name, def, lo, hi, format, field, help)
}

// choiceOpt is one of a few words; the first is the default.
func choiceOpt(p *string, name string, choices []string, help string) option {
	*p = choices[0]
	bounds := "one of " + strings.Join(choices, ", ")
	return option{name: name, value: (*stringValue)(p), help: help, def: choices[0], bounds: bounds,
		check: func() error {
			for _, c := range choices {
				if *p == c {
					return nil
				}
			}
			return &boundError{strconv.Quote(*p), bounds}
		}}
}

// stringOpt is free text (a URL, a path, an id) with no default; check, if any, checks it.
func stringOpt(p *string, name, placeholder, help string, check func(string) error) option {
	o := option{name: name, value: &placeheldString{p: p, ph: placeholder}, help: help}
	if check != nil {
		o.check = func() error { return check(*p) }
	}
	return o
}

// boolOpt is a switch, off by default.
func boolOpt(p *bool, name, help string) option {
	return option{name: name, value: (*boolValue)(p), help: help, def: "false"}
}

// listOpt is a repeatable flag: each use adds a value. From the environment, one variable
// gives several values separated by listSeparator.
func listOpt(v flag.Value, name, help string) option {
	return option{name: name, value: v, help: help}
}

// listSeparator separates the values of a repeatable flag given by one environment variable:
// CHATLAKE_USERS_WHERE="user.channel=web,user.channel=whatsapp". A value that holds the
// separator itself must come from the command line or a config file's list.
const listSeparator = ","

// repeatable is a flag.Value that takes several values (listOpt's).
type repeatable interface {
	flag.Value
	repeatable()
}

// placeholderValue names the kind of value of a flag in help: --settle DURATION.
type placeholderValue interface {
	placeholder() string
}

// dirCheck refuses a path that is not an existing directory; "" passes (the default).
func dirCheck(path string) error {
	if path == "" {
		return nil
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return &boundError{path, "an existing directory (" + errors.Unwrap(err).Error() + ")"}
	case !fi.IsDir():
		return &boundError{path, "a directory, not a file"}
	}
	return nil
}

// fileCheck refuses a path that is not an existing file; "" passes (the default).
func fileCheck(path string) error {
	if path == "" {
		return nil
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return &boundError{path, "an existing file (" + errors.Unwrap(err).Error() + ")"}
	case fi.IsDir():
		return &boundError{path, "a file, not a directory"}
	}
	return nil
}

// The flag.Values of the table's kinds. Each says how its value is written in help.

type intValue int

func (v *intValue) String() string      { return strconv.Itoa(int(*v)) }
func (v *intValue) placeholder() string { return "N" }
func (v *intValue) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 0, strconv.IntSize)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	*v = intValue(n)
	return nil
}

type floatValue float64

func (v *floatValue) String() string      { return strconv.FormatFloat(float64(*v), 'g', -1, 64) }
func (v *floatValue) placeholder() string { return "N" }
func (v *floatValue) Set(s string) error {
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return fmt.Errorf("%q is not a number", s)
	}
	*v = floatValue(n)
	return nil
}

type stringValue string

func (v *stringValue) String() string      { return string(*v) }
func (v *stringValue) placeholder() string { return "WORD" }
func (v *stringValue) Set(s string) error  { *v = stringValue(s); return nil }

type placeheldString struct {
	p  *string
	ph string
}

func (v *placeheldString) placeholder() string { return v.ph }
func (v *placeheldString) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return *v.p
}
func (v *placeheldString) Set(s string) error { *v.p = s; return nil }

type boolValue bool

func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	*v = boolValue(b)
	return nil
}

// daysValue is a number of whole days: 2, 2d, or a duration of whole days (48h).
type daysValue int

func (v *daysValue) String() string      { return fmt.Sprintf("%dd", int(*v)) }
func (v *daysValue) placeholder() string { return "DAYS" }
func (v *daysValue) Set(s string) error {
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
		*v = daysValue(n)
		return nil
	}
	d, err := parseDuration(s)
	if err != nil || d%(24*time.Hour) != 0 {
		return fmt.Errorf("%q is not a number of whole days (want e.g. 2 or 2d)", s)
	}
	*v = daysValue(d / (24 * time.Hour))
	return nil
}
