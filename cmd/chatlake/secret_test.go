package main

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatlake/chatlake/sim"
)

// TestRedactKeysKeepsText: the key leaves an error's text with its whole token, in any form
// (URL-escaped, cut, glued to other text), and the rest of the text, words that share the key's
// letters included, stays as it was.
func TestRedactKeysKeepsText(t *testing.T) {
	key := sim.DefaultAPIKey
	t.Setenv(apiKeyEnv, key)
	for _, tc := range []struct{ in, want string }{
		{"--users-where feedback=1 matched no user", "--users-where feedback=1 matched no user"},
		{"GET /x?key=" + url.QueryEscape(key) + "&feedback=1", "GET /x?key=[REDACTED]&feedback=1"},
		{`invalid value "x` + key + `x" for --rate`, `invalid value "[REDACTED]" for --rate`},
		{"a cut key: " + key[:12] + "… (feedback)", "a cut key: [REDACTED]… (feedback)"},
		{"simkey 5f0c 7e2a 1b3d 4c5e", "simkey 5f0c 7e2a 1b3d 4c5e"},
	} {
		got := redactKeys(errors.New(tc.in), nil).Error()
		if got != tc.want {
			t.Errorf("redactKeys(%q) = %q, want %q", tc.in, got, tc.want)
		}
		for i := 0; i+8 <= len(key); i++ {
			for _, form := range []string{key, url.QueryEscape(key)} {
				if i+8 <= len(form) && strings.Contains(got, form[i:i+8]) {
					t.Errorf("%q holds %q, a part of the key", got, form[i:i+8])
				}
			}
		}
	}
}

// TestShortKeyRefused: a key too short to be a Technowiz key (and to keep out of logs in part)
// is exit 2, one line naming where it came from, before anything is created.
func TestShortKeyRefused(t *testing.T) {
	s := startSim(t, 1, 3, nil)
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte("db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, env string
		extra     []string
		want      string
	}{
		{"environment", "db", nil, "the API key in $" + apiKeyEnv + " has 2 characters"},
		{"file", "", []string{"--api-key-file", keyFile}, "the API key in --api-key-file " + keyFile + " has 2 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(apiKeyEnv, tc.env)
			lake := filepath.Join(t.TempDir(), "lake")
			code, stdout, stderr := runCmd(t, s.exportArgs("export", lake, append([]string{"--log-format", "json"}, tc.extra...)...)...)
			if code != exitBadInput || !strings.Contains(lastLine(stderr), tc.want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
				t.Fatalf("exit %d, want 2 and one line with %q; stderr:\n%s", code, tc.want, stderr)
			}
			if _, err := os.Stat(lake); !os.IsNotExist(err) {
				t.Errorf("the lake was created: %v", err)
			}
		})
	}
}
