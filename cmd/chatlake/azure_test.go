package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
)

// TestExportToAzure runs `chatlake export` into an az:// lake on Azurite (the connection
// string in the child's environment), reads the lake back with DuckDB (equal to the
// simulator's truth), and checks it with status and verify, once through the connection string
// and once through --azure-endpoint and --azure-sas-file. No output holds the account key or
// the SAS token, and no lake object does either. forget erases a user's rows, and only those.
func TestExportToAzure(t *testing.T) {
	s := startSim(t, 23, 12, nil)
	cs, client := storagetest.StartAzurite(t, "lake")
	store := storage.NewAzure(client, "lake", "analytics/chat")
	const url = "az://lake/analytics/chat"
	key, endpoint := storagetest.ConnPart(t, cs, "AccountKey"), storagetest.ConnPart(t, cs, "BlobEndpoint")
	tok := storagetest.ContainerSAS(t, key, "lake")
	sasFile := filepath.Join(t.TempDir(), "sas")
	if err := os.WriteFile(sasFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	connEnv := []string{storage.EnvAzureConnectionString + "=" + cs}
	sasEnv := []string{storage.EnvAzureConnectionString + "=", "CHATLAKE_AZURE_SAS_FILE=" + sasFile}
	sasArgs := []string{"--azure-endpoint", endpoint}

	var outputs []string
	code, stderr := runChild(t, append([]string{apiKeyEnv + "=" + s.opts.APIKey}, connEnv...), s.exportArgs("export", url, "--log-format", "json")...)
	outputs = append(outputs, stderr)
	if code != 0 {
		t.Fatalf("export to %s exits %d: %s", url, code, lastLine(stderr))
	}
	dir := t.TempDir()
	if err := lakecheck.Download(context.Background(), store, dir); err != nil {
		t.Fatal(err)
	}
	rows, err := lakecheck.ReadMessages(context.Background(), lakecheck.Open(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	truth := s.Truth(nil, s.opts.From, s.opts.To, s.opts.To.AddDate(1, 0, 0))
	if diff := lakecheck.Compare(rows, truth); diff != "" {
		t.Fatal(diff)
	}
	for _, c := range []struct {
		name string
		env  []string
		args []string
	}{
		{"verify, connection string", connEnv, []string{"verify", "--lake", url, "--from", "2024-05-01", "--to", "2024-05-07"}},
		{"status, connection string", connEnv, []string{"status", "--lake", url}},
		{"verify, SAS file", sasEnv, append([]string{"verify", "--lake", url}, sasArgs...)},
		{"status, SAS file", sasEnv, append([]string{"status", "--lake", url}, sasArgs...)},
	} {
		code, out := runChild(t, c.env, c.args...)
		outputs = append(outputs, out)
		if code != 0 {
			t.Errorf("%s exits %d: %s", c.name, code, lastLine(out))
		}
	}
	// A rejected token: exit 2, one line, no part of it.
	bad := filepath.Join(t.TempDir(), "bad-sas")
	badTok := storagetest.ContainerSAS(t, strings.ToUpper(key[:16])+key[16:], "lake")
	if err := os.WriteFile(bad, []byte(badTok), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := runChild(t, []string{storage.EnvAzureConnectionString + "="}, "status", "--lake", url, "--azure-endpoint", endpoint, "--azure-sas-file", bad)
	outputs = append(outputs, out)
	if code != exitBadInput || !strings.Contains(lastLine(out), "HTTP 403") {
		t.Errorf("status with a rejected SAS token exits %d: %s; want %d and HTTP 403", code, lastLine(out), exitBadInput)
	}
	for _, secret := range []string{key, tok, badTok, sasSig(tok), sasSig(badTok)} {
		for _, o := range outputs {
			if strings.Contains(o, secret) {
				t.Fatalf("output holds a secret: %s", o)
			}
		}
		if strings.Contains(readAll(t, dir), secret) {
			t.Fatal("a lake object holds a secret")
		}
	}
	checkForget(t, s, store, url, connEnv, rows)
}

// readAll is every file below dir, concatenated.
func readAll(t *testing.T, dir string) string {
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		b.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func sasSig(tok string) string {
	for _, p := range strings.Split(tok, "&") {
		if v, ok := strings.CutPrefix(p, "sig="); ok {
			return v
		}
	}
	return tok
}
