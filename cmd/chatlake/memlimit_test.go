package main

import (
	"runtime/debug"
	"testing"
)

// TestSetMemoryLimit: without GOMEMLIMIT the soft limit is the default, and under it the
// collector's percent unless GOGC is set, except for `chatlake sim`; with GOMEMLIMIT, the
// runtime's reading of it (and of GOGC) stands.
func TestSetMemoryLimit(t *testing.T) {
	prev, prevGC := debug.SetMemoryLimit(-1), debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetMemoryLimit(prev); debug.SetGCPercent(prevGC) })
	for _, tc := range []struct {
		memlimit, gogc string
		args           []string
		want           int64
		wantGC         int
	}{
		{"", "", []string{"export", "--from", "2024-05-01"}, defaultMemoryLimit, defaultGCPercent},
		{"", "", []string{"backfill"}, defaultMemoryLimit, defaultGCPercent},
		{"", "", nil, defaultMemoryLimit, defaultGCPercent},
		{"", "150", []string{"run"}, defaultMemoryLimit, 77},
		{"", "", []string{"sim", "--users", "25500"}, 12345, 77},
		{"1GiB", "", []string{"export"}, 12345, 77},
	} {
		debug.SetMemoryLimit(12345)
		debug.SetGCPercent(77) // what the runtime read from GOGC, or its default
		setMemoryLimit(func(k string) string {
			switch k {
			case "GOMEMLIMIT":
				return tc.memlimit
			case "GOGC":
				return tc.gogc
			}
			return ""
		}, tc.args)
		if got := debug.SetMemoryLimit(-1); got != tc.want {
			t.Errorf("GOMEMLIMIT=%q, %v: limit %d, want %d", tc.memlimit, tc.args, got, tc.want)
		}
		if got := debug.SetGCPercent(100); got != tc.wantGC {
			t.Errorf("GOMEMLIMIT=%q GOGC=%q, %v: GC percent %d, want %d", tc.memlimit, tc.gogc, tc.args, got, tc.wantGC)
		}
	}
}
