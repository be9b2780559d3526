package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// build describes this binary, from the build information the Go toolchain embeds
// (runtime/debug.ReadBuildInfo). VCS fields are empty when the binary was built without them
// (go build -buildvcs=false, or a source tree without .git).
type build struct {
	Module     string // module path of the main package
	Version    string // module version: a tag, a pseudo-version, or "(devel)"
	Commit     string // VCS revision
	CommitTime string // VCS commit time, RFC 3339
	Dirty      bool   // the working tree had changes when it was built
	Go         string // the Go toolchain
	Platform   string // GOOS/GOARCH
}

// readBuild returns this binary's build.
func readBuild() build {
	bi, ok := debug.ReadBuildInfo()
	return buildOf(bi, ok)
}

// buildOf turns build information into a build; without any, only Go and Platform are known.
func buildOf(bi *debug.BuildInfo, ok bool) build {
	goos, goarch := runtime.GOOS, runtime.GOARCH
	b := build{Go: runtime.Version(), Platform: goos + "/" + goarch, Version: "unknown"}
	if !ok || bi == nil {
		return b
	}
	b.Module, b.Version = bi.Main.Path, bi.Main.Version
	if b.Version == "" {
		b.Version = "unknown"
	}
	if bi.GoVersion != "" {
		b.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.time":
			b.CommitTime = s.Value
		case "vcs.modified":
			b.Dirty = s.Value == "true"
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	b.Platform = goos + "/" + goarch
	return b
}

// fields is the build as flat key/value pairs, for run records, logs and metrics labels.
// Keys without a value are left out.
func (b build) fields() map[string]string {
	m := map[string]string{"version": b.Version, "go": b.Go, "platform": b.Platform}
	if b.Module != "" {
		m["module"] = b.Module
	}
	if b.Commit != "" {
		m["commit"] = b.Commit
		m["dirty"] = fmt.Sprint(b.Dirty)
	}
	if b.CommitTime != "" {
		m["commit_time"] = b.CommitTime
	}
	return m
}

// buildInfo is this binary's build as key/value pairs (version, module, commit, dirty,
// commit_time, go, platform): what run records, the summary log record and
// metrics.Run.Build carry, so that every run says which binary made it.
func buildInfo() map[string]string { return readBuild().fields() }

// versionOptions is the table of version's flags.
func versionOptions(asJSON *bool) []option {
	return []option{boolOpt(asJSON, "json", "print the build information as one JSON object")}
}

// runVersion prints the build: a line for people, or with --json the fields of buildInfo.
func runVersion(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	var asJSON bool
	register(fs, versionOptions(&asJSON))
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	b := readBuild()
	if asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(b.fields())
	}
	fmt.Fprintln(stdout, b.String())
	return nil
}

// String is one line: "chatlake VERSION (commit COMMIT[, modified], TIME) GO PLATFORM".
func (b build) String() string {
	s := "chatlake " + b.Version
	if b.Commit != "" {
		s += " (commit " + b.Commit
		if b.Dirty {
			s += ", modified"
		}
		if b.CommitTime != "" {
			s += ", " + b.CommitTime
		}
		s += ")"
	}
	return s + " " + b.Go + " " + b.Platform
}
