package main

import (
	"runtime/debug"
	"testing"
)

// TestSetMemoryLimit: without GOMEMLIMIT the soft limit is the default; with it, the
// runtime's reading of it stands.
func TestSetMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	for _, tc := range []struct {
		env  string
		want int64
	}{{"", defaultMemoryLimit}, {"1GiB", 12345}} {
		debug.SetMemoryLimit(12345)
		setMemoryLimit(func(k string) string {
			if k == "GOMEMLIMIT" {
				return tc.env
			}
			return ""
		})
		if got := debug.SetMemoryLimit(-1); got != tc.want {
			t.Errorf("GOMEMLIMIT=%q: limit %d, want %d", tc.env, got, tc.want)
		}
	}
}
