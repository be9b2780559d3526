package icetable_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatlake/chatlake/load/icetable"
	"github.com/chatlake/chatlake/load/storage/storagetest"
)

// glue starts moto's server (its Glue Data Catalog, with Glue's VersionId check on UpdateTable
// that moto lacks: storagetest.StartMotoGlue) for the calling test and points the standard AWS
// configuration at it (AWS_ENDPOINT_URL_GLUE, moto's test credentials and region), as a user of
// --catalog glue: would. Without moto_server the test is skipped on a developer's machine and
// fails under CI=true. It returns newLake for lakes in the "glue:" catalog, each in its own Glue
// database.
func glue(t *testing.T) func(*testing.T) lake {
	t.Helper()
	endpoint := storagetest.StartMotoGlue(t)
	setMotoEnv(t, endpoint)
	var lakes atomic.Int64
	return func(t *testing.T) lake {
		dir := t.TempDir()
		return lake{
			dir:     dir,
			catalog: "glue:",
			ns:      fmt.Sprintf("lake%d", lakes.Add(1)),
			ware:    filepath.Join(dir, "warehouse"),
		}
	}
}

// setMotoEnv sets the AWS configuration of the test's process to reach moto at endpoint.
func setMotoEnv(t *testing.T, endpoint string) {
	t.Helper()
	for _, kv := range storagetest.MotoEnv() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_ENDPOINT_URL_GLUE", endpoint)
}

// A Glue catalog whose calls fail: neither the error nor the log shows a credential, even when
// the server quotes the request's Authorization and session token headers back (as AWS does in
// a signature mismatch), and the error names the catalog.
func TestGlueErrorsHideCredentials(t *testing.T) {
	const (
		keyID  = "AKIACHATLAKELEAK0001"
		secret = "chatlake-secret-key-that-must-not-leak-00"
		token  = "chatlake-session-token-that-must-not-leak"
	)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", "InvalidSignatureException")
		w.WriteHeader(http.StatusBadRequest)
		msg := fmt.Sprintf("The request signature we calculated does not match the signature you provided. "+
			"The Canonical String for this request should have been 'POST / authorization:%s x-amz-security-token:%s'",
			r.Header.Get("Authorization"), r.Header.Get("X-Amz-Security-Token"))
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": "InvalidSignatureException", "message": msg})
	}))
	defer echo.Close()
	// moto checking credentials: its IAM knows no key, so every call is refused (403).
	authMoto, _ := storagetest.StartMotoEnv(t, []string{"INITIAL_NO_AUTH_ACTION_COUNT=0"})

	cases := []struct{ name, endpoint, why string }{
		{"server quotes the credentials", echo.URL, "does not match the signature"},
		{"moto refuses the key", authMoto, "403"},
		{"nothing listens", "http://127.0.0.1:1", "connect"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setMotoEnv(t, tc.endpoint)
			t.Setenv("AWS_ACCESS_KEY_ID", keyID)
			t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
			t.Setenv("AWS_SESSION_TOKEN", token)
			t.Setenv("AWS_MAX_ATTEMPTS", "1")
			var logs strings.Builder
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := icetable.Open(ctx, icetable.Config{URI: "glue:", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err == nil {
				c.Close()
				t.Fatal("Open succeeded")
			}
			for _, s := range []string{keyID, secret, token} {
				if strings.Contains(err.Error(), s) || strings.Contains(logs.String(), s) {
					t.Errorf("a credential shows:\nerror: %v\nlog: %s", err, logs.String())
				}
			}
			if !strings.Contains(err.Error(), "glue:") || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("error does not name the catalog and the cause (%q): %v", tc.why, err)
			}
		})
	}
}

// glue:, glue://ACCOUNT_ID and the AWS configuration: the account id reaches Glue's calls, a
// configuration without a region is refused before any call, and a malformed glue URI is
// refused without quoting it.
func TestOpenGlue(t *testing.T) {
	endpoint := storagetest.StartMotoGlue(t)
	setMotoEnv(t, endpoint)
	ctx := context.Background()
	const secret = "hunter2-s3cr3t"
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"glue:", true},
		{"glue://", true},
		{"glue://123456789012", true}, // moto's account
		{"GLUE:", true},
		{"glue://12345", false},
		{"glue:123456789012", false},
		{"glue://123456789012/db", false},
		{"glue://123456789012?region=eu-west-1", false},
		{"glue://AKIAX:" + secret + "@123456789012", false},
	} {
		c, err := icetable.Open(ctx, icetable.Config{URI: tc.uri, Namespace: "open_glue", Logger: quietLogger()})
		if (err == nil) != tc.ok {
			t.Errorf("Open(%q) = %v, want ok=%v", tc.uri, err, tc.ok)
		}
		if cerr := icetable.CheckURI(tc.uri); (cerr == nil) != tc.ok {
			t.Errorf("CheckURI(%q) = %v, want ok=%v", tc.uri, cerr, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("Open(%q) shows the secret: %v", tc.uri, err)
		}
		if c != nil {
			if err := c.Close(); err != nil {
				t.Error(err)
			}
		}
	}

	t.Setenv("AWS_REGION", "")
	_, err := icetable.Open(ctx, icetable.Config{URI: "glue:", Logger: quietLogger()})
	if err == nil || !strings.Contains(err.Error(), "region") {
		t.Errorf("Open without a region = %v, want an error naming the region", err)
	}
}
