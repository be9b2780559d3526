package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFlagValueEqualToKeyNotEchoed: the API key passed where a path or a value belongs (a
// mistake of copy and paste) is refused, exit 2, naming the flag, and no part of the key
// (no 8 of its bytes) is in the output; nothing is written.
func TestFlagValueEqualToKeyNotEchoed(t *testing.T) {
	s := startSim(t, 1, 3, nil)
	key := s.opts.APIKey
	t.Setenv(apiKeyEnv, key)
	for _, flag := range []string{"--api-key-file", "--rate", "--customer", "--bot", "--users-where", "--from",
		"--to", "--concurrency", "--batch-size", "--page-size", "--max-attempts", "--lock-lease", "--log-format",
		"--api-url"} {
		for _, value := range []string{key, "x" + key + "x", key[:12]} {
			t.Run(flag+"/"+value[:2], func(t *testing.T) {
				lake := filepath.Join(t.TempDir(), "lake")
				args := s.exportArgs("export", lake, "--log-format", "json")
				if slicesIndex(args, flag) >= 0 {
					args = replaceFlag(t, args, flag, value)
				} else {
					args = append(args, flag, value)
				}
				code, stdout, stderr := runCmd(t, args...)
				if code != exitBadInput {
					t.Fatalf("exit %d, want %d; stderr: %s", code, exitBadInput, lastLine(stderr))
				}
				if last := lastLine(stderr); !strings.Contains(last, flag[1:]) { // the flag package writes -rate
					t.Errorf("error %q does not name %s", last, flag)
				}
				for i := 0; i+8 <= len(key); i++ {
					if strings.Contains(stdout+stderr, key[i:i+8]) {
						t.Fatalf("bytes %d..%d of the key are in the output: %s", i, i+8, lastLine(stderr))
					}
				}
				if entries, _ := os.ReadDir(lake); len(entries) != 0 {
					t.Fatalf("bad input wrote %v", names(entries))
				}
			})
		}
	}
}

// TestFlagValueEqualToFileKeyNotEchoed: the same with the key read from --api-key-file (the
// environment holds none).
func TestFlagValueEqualToFileKeyNotEchoed(t *testing.T) {
	s := startSim(t, 1, 3, nil)
	key := s.opts.APIKey
	t.Setenv(apiKeyEnv, "")
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"--rate", "--from", "--users-where", "--customer"} {
		lake := filepath.Join(t.TempDir(), "lake")
		args := replaceFlag(t, s.exportArgs("export", lake, "--api-key-file="+keyFile, "--rate", "1"), flag, key)
		code, stdout, stderr := runCmd(t, args...)
		if code != exitBadInput || !strings.Contains(lastLine(stderr), flag[1:]) {
			t.Fatalf("%s KEY: exit %d, %q; want exit %d naming %s", flag, code, lastLine(stderr), exitBadInput, flag)
		}
		for i := 0; i+8 <= len(key); i++ {
			if strings.Contains(stdout+stderr, key[i:i+8]) {
				t.Fatalf("%s KEY: bytes %d..%d of the key are in the output: %s", flag, i, i+8, lastLine(stderr))
			}
		}
	}
}

// TestBadValuesNameTheFlag: values that cannot be right are refused before any request, exit 2,
// the flag named, nothing written into a lake that did not exist.
func TestBadValuesNameTheFlag(t *testing.T) {
	s := startSim(t, 1, 3, nil)
	t.Setenv(apiKeyEnv, s.opts.APIKey)
	for _, tc := range []struct {
		cmd, flag, value string
		want             string // in the error line, beside the flag
	}{
		{"export", "--users-where", "user.channel=", ""},
		{"export", "--users-where", "=web", ""},
		{"export", "--users-where", "=", ""},
		{"export", "--from", "0001-01-01", "1970"},
		{"backfill", "--from", "1969-12-31", "1970"},
		{"export", "--to", "9999-12-31", "outside the API's range"},
		{"export", "--to", "2999-12-31", "not a closed day"},
		{"export", "--from", "2024-05-08", "before --from"},
		{"export", "--page-size", "0", ""},
		{"export", "--page-size", "501", ""},
		{"export", "--page-size", "-1", ""},
		{"export", "--rate", "-1", ""},
		{"export", "--rate", "NaN", ""},
		{"export", "--max-attempts", "-1", ""},
		{"export", "--concurrency", "-1", ""},
		{"export", "--concurrency", "100000", ""},
		{"export", "--batch-size", "2000000", ""},
		{"export", "--parallel-batches", "100000", ""},
		{"export", "--lock-lease", "1000h", ""},
		{"export", "--batch-size", "-1", ""},
		{"export", "--parallel-batches", "-1", ""},
		{"export", "--parallel-publish", "-1", ""},
		{"export", "--parallel-publish", "65", ""},
		{"export", "--lock-lease", "-1s", ""},
		{"export", "--lock-lease", "1s", ""},
		{"export", "--settle", "-1h", ""},
		{"export", "--request-timeout", "-1s", ""},
		{"export", "--target-file-size", "-1", ""},
		{"export", "--shard-count", "-1", ""},
		{"export", "--shard-index", "3", ""},
		{"run", "--lookback", "-1", ""},
		{"export", "--api-url", "ftp://x", ""},
		{"export", "--customer", "12a", ""},
		{"export", "--bot", "0123", ""},
	} {
		t.Run(tc.cmd+tc.flag+"="+tc.value, func(t *testing.T) {
			lake := filepath.Join(t.TempDir(), "lake")
			args := s.exportArgs(tc.cmd, lake, "--log-format", "json")
			if slicesIndex(args, tc.flag) >= 0 && tc.flag != "--users-where" {
				args = replaceFlag(t, args, tc.flag, tc.value)
			} else {
				args = append(args, tc.flag, tc.value)
			}
			if tc.cmd == "run" {
				args = append(args, "--from", "2024-05-01")
			}
			code, _, stderr := runCmd(t, args...)
			last := lastLine(stderr)
			if code != exitBadInput || !strings.Contains(last, tc.flag[1:]) || !strings.Contains(last, tc.want) {
				t.Fatalf("exit %d, %q; want exit %d naming %s (and %q)", code, last, exitBadInput, tc.flag, tc.want)
			}
			if entries, _ := os.ReadDir(lake); len(entries) != 0 {
				t.Fatalf("bad input wrote %v", names(entries))
			}
		})
	}
}
