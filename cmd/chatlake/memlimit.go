package main

import (
	"runtime/debug"
)

// defaultMemoryLimit is the Go runtime's soft memory limit when GOMEMLIMIT is not set. The
// pipeline's live memory is bounded (docs/benchmarks.md); without a limit the runtime lets the
// heap grow to twice the live heap before it collects, so the process's RSS would be about
// twice what it needs. Near the limit the collector runs more often instead. It is a soft
// limit: a run that needs more (very large row groups, say) still gets it. 160 MiB keeps the
// process's RSS (the limit, plus the binary's own pages) near 200 MiB; it also makes the
// pipeline publish one day at a time (pipelines.Options.ParallelPublish): a larger GOMEMLIMIT
// lets it merge several days at once, about 100 MiB each.
const defaultMemoryLimit = 160 << 20

// defaultGCPercent is the collector's GOGC under defaultMemoryLimit, when GOGC is not set. The
// limit is the process's memory budget; below it the collector need not run each time the heap
// doubles, and near it the limit makes it run anyway. A run of 200k messages takes about 10%
// less CPU than at GOGC=100, for a peak RSS of about 205 MB against 145 (docs/benchmarks.md);
// a run whose live heap nears the limit (10M messages) collects as the limit says, as before.
const defaultGCPercent = 400

// setMemoryLimit applies defaultMemoryLimit, and under it defaultGCPercent unless GOGC is set,
// to the command args name unless GOMEMLIMIT says otherwise (the runtime has read it already;
// GOMEMLIMIT=off removes the limit; the collector's percent is then GOGC's or the runtime's
// default, as a limit the command did not choose is no budget it knows). `chatlake sim` gets
// no limit: it holds every message it generates (about 300 MiB for 25,500 users and 1M
// messages), and under a limit below its live heap the collector would run without pause,
// taking the CPU that the export it serves on the same machine is measured with.
func setMemoryLimit(getenv func(string) string, args []string) {
	if getenv("GOMEMLIMIT") != "" || (len(args) > 0 && args[0] == "sim") {
		return
	}
	debug.SetMemoryLimit(defaultMemoryLimit)
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
