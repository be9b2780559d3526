package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
)

// TestExportToS3 runs `chatlake export` into s3:// on moto's S3 server as a separate process,
// with the credentials of the standard AWS configuration (the environment) and the endpoint
// from CHATLAKE_S3_ENDPOINT / --s3-endpoint: the lake, downloaded and read by DuckDB, equals the
// simulator's truth; status and verify read it; the secret key is in no output and no object
// of the lake; and forget erases a user's rows, and only those.
func TestExportToS3(t *testing.T) {
	s := startSim(t, 5, 12, nil)
	endpoint, client := storagetest.StartMoto(t, "acme-lake")
	const lake = "s3://acme-lake/chat/prod"
	env := append([]string{apiKeyEnv + "=" + s.opts.APIKey}, s3Env(endpoint)...)
	var out strings.Builder
	code, stderr := runChild(t, env, s.exportArgs("export", lake, "--log-format", "json")...)
	out.WriteString(stderr)
	if code != 0 {
		t.Fatalf("export to %s exits %d: %s", lake, code, lastLine(stderr))
	}
	// The flags instead of the environment: verify and status read the lake.
	flags := []string{"--s3-endpoint", endpoint, "--s3-path-style"}
	for _, args := range [][]string{
		append([]string{"verify", "--lake", lake, "--from", "2024-05-01", "--to", "2024-05-07"}, flags...),
		append([]string{"status", "--lake", lake}, flags...),
	} {
		code, stderr := runChild(t, storagetest.MotoEnv(), args...)
		out.WriteString(stderr)
		if code != 0 {
			t.Fatalf("%s exits %d: %s", args[0], code, lastLine(stderr))
		}
	}
	// Bad settings are usage errors naming the flag; none repeats a password.
	for _, c := range []struct{ args, want string }{
		{"--s3-endpoint=ftp://minio:9000", "--s3-endpoint"},
		{"--s3-endpoint=http://key:hunter2@minio:9000", "--s3-endpoint"},
	} {
		code, stderr := runChild(t, storagetest.MotoEnv(), "status", "--lake", lake, c.args)
		if code != exitBadInput || !strings.Contains(lastLine(stderr), c.want) || strings.Contains(stderr, "hunter2") || strings.Contains(stderr, "key:") {
			t.Errorf("status %s: exit %d, %q; want exit %d naming %s without the password", c.args, code, lastLine(stderr), exitBadInput, c.want)
		}
	}
	if strings.Contains(out.String(), storagetest.MotoSecretKey) {
		t.Fatal("the AWS secret key appears in the output")
	}

	store := storage.NewS3(client, "acme-lake", "chat/prod")
	dir := t.TempDir()
	if err := lakecheck.Download(context.Background(), store, dir); err != nil {
		t.Fatal(err)
	}
	rows, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := lakecheck.Compare(rows, s.Truth(nil, s.opts.From, s.opts.To, s.opts.To.AddDate(1, 0, 0))); diff != "" {
		t.Fatal(diff)
	}
	files := 0
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		data, err := os.ReadFile(path)
		if err == nil && bytes.Contains(data, []byte(storagetest.MotoSecretKey)) {
			err = errors.New(path + " holds the AWS secret key")
		}
		return err
	})
	if err != nil || files == 0 {
		t.Fatalf("searched %d objects of the lake: %v", files, err)
	}

	// forget erases a user from the S3 lake: the others' rows stay, exactly.
	checkForget(t, s, store, lake, s3Env(endpoint), rows)
}

// checkForget runs `chatlake forget` of the simulator's first user on the lake at url (store,
// reached by the child through env), and checks that the lake then holds exactly rows less
// that user's.
func checkForget(t *testing.T, s *testSim, store storage.Store, url string, env []string, rows []lakecheck.Row) {
	t.Helper()
	gone := s.UserIDs(nil)[0]
	code, stderr := runChild(t, env, "forget", "--lake", url, "--user", gone, "--log-format", "json")
	if code != 0 {
		t.Fatalf("forget exits %d: %s", code, lastLine(stderr))
	}
	dir := t.TempDir()
	if err := lakecheck.Download(context.Background(), store, dir); err != nil {
		t.Fatal(err)
	}
	after, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	var kept []lakecheck.Row
	for _, r := range rows {
		if r.ChannelUserID != gone {
			kept = append(kept, r)
		}
	}
	if len(kept) == len(rows) || !slices.Equal(lakecheck.Keys(after), lakecheck.Keys(kept)) {
		t.Fatalf("after forget of %s: %d rows, want the %d of the other users (of %d)", gone, len(after), len(kept), len(rows))
	}
}
