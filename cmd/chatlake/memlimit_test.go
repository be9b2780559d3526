package main

import (
	"runtime/debug"
	"testing"
)

// TestSetMemoryLimit: without GOMEMLIMIT the soft limit is the default, except for `chatlake
// sim`; with GOMEMLIMIT, the runtime's reading of it stands.
func TestSetMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	for _, tc := range []struct {
		env  string
		args []string
		want int64
	}{
		{"", []string{"export", "--from", "2024-05-01"}, defaultMemoryLimit},
		{"", []string{"backfill"}, defaultMemoryLimit},
		{"", nil, defaultMemoryLimit},
		{"", []string{"sim", "--users", "25500"}, 12345},
		{"1GiB", []string{"export"}, 12345},
	} {
		debug.SetMemoryLimit(12345)
		setMemoryLimit(func(k string) string {
			if k == "GOMEMLIMIT" {
				return tc.env
			}
			return ""
		}, tc.args)
		if got := debug.SetMemoryLimit(-1); got != tc.want {
			t.Errorf("GOMEMLIMIT=%q, %v: limit %d, want %d", tc.env, tc.args, got, tc.want)
		}
	}
}
