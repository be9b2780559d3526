package storage_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
)

// TestAzureStagedBlocks watches a write through the raw client: the blocks of a large object
// are staged while it is written (the writer streams, it does not hold the object), none of it
// is visible before Close, and Abort commits nothing. Close commits exactly what was written.
func TestAzureStagedBlocks(t *testing.T) {
	ctx := t.Context()
	_, client := storagetest.StartAzurite(t, "staged")
	s := storage.NewAzure(client, "staged", "lake")
	raw := client.NewContainerClient("staged").NewBlockBlobClient("lake/dt=2024-05-01/part-0.parquet")
	data := bytes.Repeat([]byte("0123456789abcdef"), (20<<20)/16) // 20 MiB: two full blocks and a rest

	for _, commit := range []bool{false, true} {
		w, err := s.Create(ctx, "dt=2024-05-01/part-0.parquet")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		bl, err := raw.GetBlockList(ctx, blockblob.BlockListTypeAll, nil)
		if err != nil {
			t.Fatalf("block list during the write: %v", err)
		}
		if len(bl.UncommittedBlocks) < 2 || len(bl.CommittedBlocks) != 0 {
			t.Fatalf("during the write: %d uncommitted, %d committed blocks; want at least 2 staged, none committed", len(bl.UncommittedBlocks), len(bl.CommittedBlocks))
		}
		if _, err := raw.GetProperties(ctx, nil); !isStatus(err, 404) {
			t.Fatalf("GetProperties before Close: %v, want 404", err)
		}
		if objs, err := s.List(ctx, ""); err != nil || len(objs) != 0 {
			t.Fatalf("List before Close = %v, %v; want nothing", objs, err)
		}
		if !commit {
			if err := w.Abort(); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Stat(ctx, "dt=2024-05-01/part-0.parquet"); !errors.Is(err, storage.ErrNotExist) {
				t.Fatalf("Stat after Abort: %v, want ErrNotExist", err)
			}
			continue
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got, _, err := s.Get(ctx, "dt=2024-05-01/part-0.parquet")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("after Close: %d bytes, %v; want the %d written", len(got), err, len(data))
		}
		p, err := raw.GetProperties(ctx, nil)
		if err != nil || p.ContentType == nil || *p.ContentType != "application/vnd.apache.parquet" {
			t.Fatalf("content type %v, %v", p.ContentType, err)
		}
	}
}

// TestAzuriteEnforcesConditions checks, with the raw client and no code of ours, that the
// emulator refuses violated write and delete conditions. Without this, the suite's PutIf and
// DeleteIf tests could pass on the emulator only because of our own checks.
func TestAzuriteEnforcesConditions(t *testing.T) {
	ctx := t.Context()
	_, client := storagetest.StartAzurite(t, "pre")
	b := client.NewContainerClient("pre").NewBlockBlobClient("x")
	put := func(c *blob.ModifiedAccessConditions) (*azcore.ETag, error) {
		r, err := b.Upload(ctx, nopBody("data"), &blockblob.UploadOptions{AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: c}})
		return r.ETag, err
	}
	any := azcore.ETagAny
	tag, err := put(&blob.ModifiedAccessConditions{IfNoneMatch: &any})
	if err != nil {
		t.Fatal(err)
	}
	stale := azcore.ETag(`"0x8D000000000000"`)
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"If-None-Match * on an existing blob", func() error { _, err := put(&blob.ModifiedAccessConditions{IfNoneMatch: &any}); return err }},
		{"If-Match with a stale ETag", func() error { _, err := put(&blob.ModifiedAccessConditions{IfMatch: &stale}); return err }},
		{"Delete If-Match with a stale ETag", func() error {
			_, err := b.Delete(ctx, &blob.DeleteOptions{AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: &stale}}})
			return err
		}},
	} {
		var re *azcore.ResponseError
		if err := tc.call(); !errors.As(err, &re) || (re.StatusCode != 412 && re.StatusCode != 409) {
			t.Errorf("%s: %v, want HTTP 412 or 409", tc.name, err)
		}
	}
	if _, err := put(&blob.ModifiedAccessConditions{IfMatch: tag}); err != nil {
		t.Fatalf("If-Match with the current ETag: %v", err)
	}
}

func isStatus(err error, code int) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == code
}

func nopBody(s string) nopCloser { return nopCloser{strings.NewReader(s)} }

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

// TestAzureOpen takes az:// URLs apart; a bad one is an error naming it, before any request.
func TestAzureOpen(t *testing.T) {
	_, client := storagetest.StartAzurite(t, "lake-c")
	opts := &storage.OpenOptions{AzureClient: client}
	for _, tc := range []struct{ url, want string }{ // want "" = an error
		{"az://lake-c/prod/lake", "az://lake-c/prod/lake"},
		{"az://lake-c/prod/lake/", "az://lake-c/prod/lake"},
		{"azure://lake-c/prod", "az://lake-c/prod"},
		{"az://lake-c", "az://lake-c"},
		{"az://" + storagetest.AzuriteAccount + ".blob.core.windows.net/lake-c/p", "az://" + storagetest.AzuriteAccount + ".blob.core.windows.net/lake-c/p"},
		{"az://no-such-container/x", ""},
		{"az://Upper/x", ""},
		{"az://a/x", ""},
		{"az://bad--name/x", ""},
		{"az://lake-c/a/../b", ""},
		{"az://lake-c/x?sig=abc", ""},
		{"az://host.example.com/lake-c/x", ""},
		{"az://acct.blob.core.windows.net", ""},
		{"az://", ""},
		{"az:lake-c", ""},
	} {
		t.Run(tc.url, func(t *testing.T) {
			s, err := storage.Open(t.Context(), tc.url, opts)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("Open(%q) = %s, want an error", tc.url, s.URL())
				}
				if !strings.Contains(err.Error(), tc.url) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("Open(%q): error %q, want one line naming the URL", tc.url, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q): %v", tc.url, err)
			}
			if s.URL() != tc.want {
				t.Fatalf("Open(%q).URL() = %q, want %q", tc.url, s.URL(), tc.want)
			}
		})
	}
}

// TestAzureMustExist: MustExist refuses a prefix with no blob below it, with ErrNotExist.
func TestAzureMustExist(t *testing.T) {
	_, client := storagetest.StartAzurite(t, "must")
	if _, err := storage.NewAzure(client, "must", "chat").PutIf(t.Context(), "_chatlake/state.json", []byte("{}"), ""); err != nil {
		t.Fatal(err)
	}
	opts := &storage.OpenOptions{AzureClient: client, MustExist: true}
	for _, url := range []string{"az://must/chta", "az://must/cha"} {
		if _, err := storage.Open(t.Context(), url, opts); !errors.Is(err, storage.ErrNotExist) || !strings.Contains(err.Error(), url) {
			t.Errorf("Open(%s, MustExist): %v, want ErrNotExist naming the URL", url, err)
		}
	}
	for _, url := range []string{"az://must/chat", "az://must/chat/", "az://must"} {
		if _, err := storage.Open(t.Context(), url, opts); err != nil {
			t.Errorf("Open(%s, MustExist) of an existing lake: %v", url, err)
		}
	}
}

// TestAzureSAS opens a lake with a SAS token from a file and from the environment: every
// operation works with it, Move's server-side copy included (its source is authorised by
// the same token).
func TestAzureSAS(t *testing.T) {
	cs, _ := storagetest.StartAzurite(t, "sas")
	endpoint := storagetest.ConnPart(t, cs, "BlobEndpoint")
	tok := storagetest.ContainerSAS(t, storagetest.ConnPart(t, cs, "AccountKey"), "sas")
	file := filepath.Join(t.TempDir(), "sas")
	if err := os.WriteFile(file, []byte("?"+tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(storage.EnvAzureConnectionString, "")
	for _, tc := range []struct {
		name string
		opts storage.OpenOptions
		env  string
	}{
		{"file", storage.OpenOptions{AzureEndpoint: endpoint, AzureSASFile: file}, ""},
		{"env", storage.OpenOptions{AzureEndpoint: endpoint}, tok},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(storage.EnvAzureSASToken, tc.env)
			s, err := storage.Open(t.Context(), "az://sas/"+tc.name, &tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			if _, err := s.PutIf(ctx, "a.json", []byte("{}"), ""); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Move(ctx, "a.json", "b.json"); err != nil {
				t.Fatal(err)
			}
			objs, err := s.List(ctx, "")
			if err != nil || len(objs) != 1 || objs[0].Name != "b.json" {
				t.Fatalf("List after Move = %v, %v", objs, err)
			}
			// Another client of the container (the Iceberg FileIO) gets the same settings,
			// the account from the endpoint, and a redaction of the token.
			a, ok := s.(*storage.Azure).Access()
			want := storagetest.ConnPart(t, cs, "AccountName")
			if !ok || a.AzureSAS != tok || a.AzureEndpoint != endpoint || a.AzureAccount != want || a.Bucket != "sas" || a.Prefix != tc.name {
				t.Errorf("Access() = %v: account %q (want %q), endpoint %q, prefix %q, SAS given: %v", ok, a.AzureAccount, want, a.AzureEndpoint, a.Prefix, a.AzureSAS == tok)
			}
			if text := a.Redact("GET " + endpoint + "/sas/x?" + tok); leak(text, tok) != "" {
				t.Errorf("Access().Redact leaves part of the SAS token: %s", text)
			}
		})
	}
}

// leak returns the first piece of secret (8 characters or more) that text holds, or "".
func leak(text, secret string) string {
	const n = 8
	for i := 0; i+n <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+n]) {
			return secret[i : i+n]
		}
	}
	return ""
}

// TestAzureSecretsNotInErrors makes Open and calls fail in every way a credential could be
// echoed (refused connection, no answer, a rejected key, a rejected SAS token, a bad
// connection string) and checks that no error holds any part of the account key, the SAS
// token or its signature.
func TestAzureSecretsNotInErrors(t *testing.T) {
	cs, _ := storagetest.StartAzurite(t, "sec")
	endpoint := storagetest.ConnPart(t, cs, "BlobEndpoint")
	key := storagetest.ConnPart(t, cs, "AccountKey")
	// A key of the right form that the emulator does not know: rejected with 403.
	wrongKey := strings.ToUpper(key[:20]) + key[20:]
	badSAS := storagetest.ContainerSAS(t, wrongKey, "sec")
	closed := "http://" + closedPort(t) + "/" + storagetest.AzuriteAccount
	hole := "http://" + blackhole(t) + "/" + storagetest.AzuriteAccount
	withEndpoint := func(ep, k string) string {
		return strings.Replace(strings.Replace(cs, endpoint, ep, 1), key, k, 1)
	}
	sasFile := filepath.Join(t.TempDir(), "sas")
	if err := os.WriteFile(sasFile, []byte(badSAS), 0o600); err != nil {
		t.Fatal(err)
	}
	short := &storage.OpenOptions{ProbeTimeout: 300 * time.Millisecond, OpTimeout: 300 * time.Millisecond}
	for _, tc := range []struct {
		name, conn, sasEnv string
		opts               storage.OpenOptions
		kind               error // the error must match it (nil: any)
	}{
		{"rejected key", withEndpoint(endpoint, wrongKey), "", storage.OpenOptions{}, storage.ErrPermission},
		{"key, refused", withEndpoint(closed, key), "", storage.OpenOptions{MaxAttempts: 1}, nil},
		{"key, no answer", withEndpoint(hole, key), "", *short, storage.ErrTimeout},
		{"malformed connection string", "AccountKey=" + key + ";junk", "", storage.OpenOptions{}, nil},
		{"rejected SAS from a file", "", "", storage.OpenOptions{AzureEndpoint: endpoint, AzureSASFile: sasFile}, storage.ErrPermission},
		{"SAS from the environment, refused", "", badSAS, storage.OpenOptions{AzureEndpoint: closed, MaxAttempts: 1}, nil},
		{"SAS from the environment, no answer", "", badSAS, storage.OpenOptions{AzureEndpoint: hole, ProbeTimeout: 300 * time.Millisecond}, storage.ErrTimeout},
		{"SAS pasted in place of its file", "", "", storage.OpenOptions{AzureEndpoint: endpoint, AzureSASFile: badSAS}, nil},
		{"SAS connection string, rejected", "BlobEndpoint=" + endpoint + ";SharedAccessSignature=" + badSAS, "", storage.OpenOptions{}, storage.ErrPermission},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(storage.EnvAzureConnectionString, tc.conn)
			t.Setenv(storage.EnvAzureSASToken, tc.sasEnv)
			t.Setenv(storage.EnvAzureAccount, storagetest.AzuriteAccount)
			s, err := storage.Open(t.Context(), "az://sec/lake", &tc.opts)
			if err == nil {
				t.Fatalf("Open succeeded with %s", tc.name)
			}
			t.Logf("%v", err)
			if tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Errorf("error does not match %v", tc.kind)
			}
			for _, secret := range []string{key, wrongKey, badSAS, sigOf(t, badSAS)} {
				if p := leak(err.Error(), secret); p != "" {
					t.Errorf("error holds %q of a secret: %v", p, err)
				}
			}
			_ = s
		})
	}
}

// sigOf is the signature of a SAS token.
func sigOf(t *testing.T, tok string) string {
	t.Helper()
	for _, p := range strings.Split(tok, "&") {
		if v, ok := strings.CutPrefix(p, "sig="); ok {
			return v
		}
	}
	t.Fatal("SAS token without sig")
	return ""
}

// TestAzureListPageFromName checks that ListPage returns the names after `after` whether or
// not the service honours startFrom, and says which the emulator does.
func TestAzureListPageFromName(t *testing.T) {
	ctx := t.Context()
	_, client := storagetest.StartAzurite(t, "pages")
	s := storage.NewAzure(client, "pages", "p")
	var all []string
	for i := range 7 {
		name := fmt.Sprintf("k%02d.json", i)
		all = append(all, name)
		if _, err := s.PutIf(ctx, name, []byte("x"), ""); err != nil {
			t.Fatal(err)
		}
	}
	objs, next, err := s.ListPage(ctx, "", "k02.json", 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.Name)
	}
	if !slices.Equal(got, all[3:6]) || next != "k05.json" {
		t.Fatalf("ListPage after k02.json = %q, next %q; want %q, next k05.json", got, next, all[3:6])
	}
	// Does the emulator honour startFrom? ListPage is right either way; only its cost differs.
	from := "p/k04.json"
	page, err := client.NewContainerClient("pages").NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: ptrTo("p/"), StartFrom: &from}).NextPage(ctx)
	if err == nil && page.Segment != nil && len(page.Segment.BlobItems) > 0 {
		t.Logf("the emulator honours startFrom: %v (first name %s)", *page.Segment.BlobItems[0].Name == from, *page.Segment.BlobItems[0].Name)
	}
}

func ptrTo[T any](v T) *T { return &v }

// TestAzureDeleteAllBatches: DeleteAll deletes 300 blobs with two Blob Batch requests (256
// deletes at most each), with a shared key and with a SAS token, as Azurite's log shows; a
// name already gone is no error.
func TestAzureDeleteAllBatches(t *testing.T) {
	cs, client, emu := storagetest.StartAzuriteEmulator(t, "batch")
	sasFile := filepath.Join(t.TempDir(), "sas")
	tok := storagetest.ContainerSAS(t, storagetest.ConnPart(t, cs, "AccountKey"), "batch")
	if err := os.WriteFile(sasFile, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		open func(t *testing.T) storage.Store
	}{
		{"shared key", func(t *testing.T) storage.Store { return storage.NewAzure(client, "batch", "key") }},
		{"SAS", func(t *testing.T) storage.Store {
			s, err := storage.Open(t.Context(), "az://batch/sas", &storage.OpenOptions{
				AzureEndpoint: storagetest.ConnPart(t, cs, "BlobEndpoint"), AzureSASFile: sasFile})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			s := tc.open(t)
			var names []string
			for i := range 300 {
				name := fmt.Sprintf("runs/plan-1/staged/dt=2024-05-01/batch-%06d.arrow", i)
				if _, err := s.PutIf(ctx, name, []byte("x"), ""); err != nil {
					t.Fatal(err)
				}
				names = append(names, name)
			}
			names = append(names, "runs/plan-1/never-written.json")
			_, before := emu.SettledRequests()
			if err := storage.DeleteAll(ctx, s, names, 16); err != nil {
				t.Fatalf("DeleteAll: %v", err)
			}
			_, after := emu.SettledRequests()
			var batches, deletes int
			for k, n := range after {
				switch {
				case strings.HasPrefix(k, "POST ") && strings.Contains(k, "comp"):
					batches += n - before[k]
				case strings.HasPrefix(k, "DELETE "):
					deletes += n - before[k]
				}
			}
			if batches != 2 || deletes != 0 {
				t.Errorf("DeleteAll of %d names: %d batch requests and %d single deletes, want 2 and none", len(names), batches, deletes)
			}
			if objs, err := s.List(ctx, ""); err != nil || len(objs) != 0 {
				t.Errorf("after DeleteAll: %d objects, %v; want none", len(objs), err)
			}
		})
	}
}
