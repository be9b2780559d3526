package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
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

// TestBadInputLeavesNoLake: each bad input of issue 20 is exit 2 with one line that names the flag, and
// creates no lake directory (not even an empty one); --lookback 2d is good input and works.
// A shard with another --shard-count than its run's is refused naming both counts, before it
// writes anything.
func TestBadInputLeavesNoLake(t *testing.T) {
	s := startSim(t, 1, 3, nil)
	t.Setenv(apiKeyEnv, s.opts.APIKey)
	today := time.Now().UTC().Format("2006-01-02")
	for _, tc := range []struct {
		name string
		args func(lake string) []string
		want []string // in the error line; nil: the command succeeds
	}{
		{"temp dir missing", func(lake string) []string {
			return s.exportArgs("export", lake, "--temp-dir", "/nonexistent")
		}, []string{"--temp-dir /nonexistent"}},
		{"Azure account", func(lake string) []string {
			return s.exportArgs("export", lake, "--azure-account", "Bad_Account")
		}, []string{"--azure-account Bad_Account", "3 to 24 lowercase"}},
		{"Azure SAS file missing", func(lake string) []string {
			return s.exportArgs("export", lake, "--azure-sas-file", "/nonexistent/sas")
		}, []string{"--azure-sas-file /nonexistent/sas", "an existing file"}},
		{"Azure endpoint", func(lake string) []string {
			return s.exportArgs("export", lake, "--azure-endpoint", "ftp://blob.example")
		}, []string{"--azure-endpoint ftp://blob.example", "http:// or https://"}},
		{"file too large", func(lake string) []string {
			return s.exportArgs("export", lake, "--target-file-size", "2TiB")
		}, []string{"--target-file-size 2TiB", "1TiB"}},
		{"open day", func(lake string) []string {
			return replaceFlag(t, s.exportArgs("export", lake), "--to", today)
		}, []string{"--to " + today, "not a closed day"}},
		{"future day", func(lake string) []string {
			return replaceFlag(t, s.exportArgs("backfill", lake), "--to", "2999-12-31")
		}, []string{"--to 2999-12-31"}},
		{"future first day", func(lake string) []string {
			return s.exportArgs("run", lake, "--from", "2999-12-31")
		}, []string{"--from 2999-12-31"}},
		{"year 1", func(lake string) []string {
			return replaceFlag(t, s.exportArgs("export", lake), "--from", "0001-01-01")
		}, []string{"--from 0001-01-01"}},
		{"nightly year 1", func(lake string) []string {
			return s.exportArgs("run", lake, "--from", "0001-01-01")
		}, []string{"--from 0001-01-01"}},
		{"first run without --from", func(lake string) []string {
			return s.exportArgs("run", lake)
		}, []string{"--from"}},
		{"selector matches nobody", func(lake string) []string {
			return s.exportArgs("export", lake, "--users-where", "user.channel=carrier-pigeon")
		}, []string{"--users-where user.channel=carrier-pigeon", "matched no user"}},
		{"settle 0", func(lake string) []string {
			return s.exportArgs("run", lake, "--from", "2024-05-01", "--settle", "0")
		}, []string{"--settle 0s", "1m"}},
		{"lookback in weeks", func(lake string) []string {
			return s.exportArgs("run", lake, "--from", "2024-05-01", "--lookback", "2w")
		}, []string{"--lookback", "2w"}},
		{"wrong bot key", func(lake string) []string {
			return replaceFlag(t, s.exportArgs("export", lake), "--bot", "fedcba9876543210")
		}, []string{"--bot fedcba9876543210", "1002"}},
		{"lookback 2d works", func(lake string) []string {
			return s.exportArgs("run", lake, "--from", "2024-05-01", "--lookback", "2d")
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lake := filepath.Join(t.TempDir(), "lake")
			code, _, stderr := runCmd(t, append(tc.args(lake), "--log-format", "json")...)
			if tc.want == nil {
				if code != exitOK {
					t.Fatalf("exit %d, want 0: %s", code, lastLine(stderr))
				}
				return
			}
			last := lastLine(stderr)
			if code != exitBadInput {
				t.Fatalf("exit %d, want %d: %s", code, exitBadInput, last)
			}
			for _, w := range tc.want {
				if !strings.Contains(last, w) {
					t.Errorf("error line %q does not say %q", last, w)
				}
			}
			if strings.Contains(last, "Options") || strings.Contains(last, "TargetFileSize") {
				t.Errorf("error line %q names a Go field", last)
			}
			if _, err := os.Stat(lake); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("bad input left the lake directory behind (%v)", err)
			}
		})
	}
	t.Run("shard count of another run", func(t *testing.T) {
		lake := filepath.Join(t.TempDir(), "lake")
		args := s.exportArgs("backfill", lake, "--batch-size", "1", "--log-format", "json")
		if code, _, stderr := runCmd(t, append(args, "--shard-count", "2", "--shard-index", "0")...); code != exitOK {
			t.Fatalf("shard 0 of 2: exit %d: %s", code, lastLine(stderr))
		}
		before := treeOf(t, lake)
		code, _, stderr := runCmd(t, append(args, "--shard-count", "3", "--shard-index", "1")...)
		last := lastLine(stderr)
		if code != exitBadInput || !strings.Contains(last, "--shard-count 3") || !strings.Contains(last, "--shard-count 2") {
			t.Fatalf("shard 1 of 3 joining a run of 2: exit %d, %q; want exit %d naming both counts", code, last, exitBadInput)
		}
		if after := treeOf(t, lake); !slices.Equal(before, after) {
			t.Errorf("the refused shard changed the lake:\nbefore %v\nafter  %v", before, after)
		}
		if code, _, stderr := runCmd(t, append(args, "--shard-count", "2", "--shard-index", "1")...); code != exitOK {
			t.Fatalf("shard 1 of 2: exit %d: %s", code, lastLine(stderr))
		}
	})
}

// TestForgetUnknownUser: forget of an id the lake does not hold is exit 2 naming it, and
// changes nothing (not the manifests, not the state's erasures); with a held id beside it,
// nothing is erased either; the held id alone is erased.
func TestForgetUnknownUser(t *testing.T) {
	s := startSim(t, 1, 3, nil)
	t.Setenv(apiKeyEnv, s.opts.APIKey)
	lake := filepath.Join(t.TempDir(), "lake")
	if code, _, stderr := runCmd(t, s.exportArgs("export", lake, "--log-format", "json")...); code != exitOK {
		t.Fatalf("export: exit %d: %s", code, lastLine(stderr))
	}
	held := s.UserIDs(nil)[0]
	before := treeOf(t, lake)
	for _, users := range [][]string{{"nobody-here"}, {held, "nobody-here"}} {
		args := []string{"forget", "--lake", lake, "--log-format", "json"}
		for _, u := range users {
			args = append(args, "--user", u)
		}
		code, _, stderr := runCmd(t, args...)
		last := lastLine(stderr)
		if code != exitBadInput || !strings.Contains(last, "--user nobody-here") || strings.Contains(last, held) {
			t.Fatalf("forget %v: exit %d, %q; want exit %d naming only --user nobody-here", users, code, last, exitBadInput)
		}
		if after := treeOf(t, lake); !slices.Equal(before, after) {
			t.Fatalf("forget %v changed the lake:\nbefore %v\nafter  %v", users, before, after)
		}
	}
	if code, _, stderr := runCmd(t, "forget", "--lake", lake, "--user", held, "--log-format", "json"); code != exitOK {
		t.Fatalf("forget of a held id: exit %d: %s", code, lastLine(stderr))
	}
}

// treeOf lists the files under dir with their sizes and modification times.
func treeOf(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %d %s", path, fi.Size(), fi.ModTime().Format(time.RFC3339Nano)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
