package icetable_test

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/chatlake/chatlake/load/icetable"
	"github.com/chatlake/chatlake/load/storage"
)

func TestStoreIO(t *testing.T) {
	const sas = "sv=2022-11-02&sig=c2lnbmF0dXJl"
	for _, tc := range []struct {
		name      string
		access    storage.Access
		root      string
		props     map[string]string
		errSubstr string // "": no error
	}{
		{"gcs", storage.Access{Scheme: "gs", Bucket: "b", Prefix: "chat/prod"}, "gs://b/chat/prod", map[string]string{}, ""},
		{"gcs emulator", storage.Access{Scheme: "gs", Bucket: "b", GCSEmulatorHost: "127.0.0.1:4443"}, "gs://b",
			map[string]string{"gcs.no-auth": "true", "gcs.endpoint": "http://127.0.0.1:4443/storage/v1/"}, ""},
		{"aws", storage.Access{Scheme: "s3", Bucket: "b", Prefix: "p", S3Region: "eu-west-1"}, "s3://b/p",
			map[string]string{"s3.region": "eu-west-1", "s3.force-virtual-addressing": "true"}, ""},
		{"minio", storage.Access{Scheme: "s3", Bucket: "b", S3Region: "us-east-1", S3Endpoint: "http://minio:9000", S3PathStyle: true}, "s3://b",
			map[string]string{"s3.region": "us-east-1", "s3.endpoint": "http://minio:9000", "s3.force-virtual-addressing": "false"}, ""},
		{"azure connection string", storage.Access{Scheme: "az", Bucket: "lake", Prefix: "p", AzureAccount: "acct", AzureConnectionString: "AccountName=acct;AccountKey=a2V5"},
			"abfss://lake@acct.dfs.core.windows.net/p", map[string]string{"adls.connection-string.acct": "AccountName=acct;AccountKey=a2V5"}, ""},
		{"azure SAS", storage.Access{Scheme: "az", Bucket: "lake", AzureAccount: "acct", AzureEndpoint: "http://127.0.0.1:10000/acct", AzureSAS: sas},
			"abfss://lake@acct.dfs.core.windows.net", map[string]string{"adls.connection-string.acct": "BlobEndpoint=http://127.0.0.1:10000/acct;SharedAccessSignature=" + sas}, ""},
		{"azure default credentials", storage.Access{Scheme: "az", Bucket: "lake", AzureAccount: "acct", AzureEndpoint: "https://acct.blob.core.usgovcloudapi.net/"},
			"abfss://lake@acct.dfs.core.windows.net", map[string]string{"adls.protocol": "https", "adls.endpoint": "blob.core.usgovcloudapi.net"}, ""},
		{"azure default credentials, emulator", storage.Access{Scheme: "az", Bucket: "lake", AzureAccount: "acct", AzureEndpoint: "http://127.0.0.1:10000/acct"},
			"abfss://lake@acct.dfs.core.windows.net", map[string]string{"adls.protocol": "http", "adls.endpoint": "127.0.0.1:10000"}, ""},
		{"azure default credentials, other host", storage.Access{Scheme: "az", Bucket: "lake", AzureAccount: "acct", AzureEndpoint: "https://proxy.example/"},
			"", nil, "https://proxy.example/"},
		{"azure without account", storage.Access{Scheme: "az", Bucket: "lake", AzureConnectionString: "BlobEndpoint=x"}, "", nil, "--azure-account"},
		{"local", storage.Access{Scheme: "file"}, "", nil, `"file"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, props, err := icetable.StoreIO(tc.access)
			if tc.errSubstr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errSubstr) {
					t.Fatalf("StoreIO = %v, want an error naming %s", err, tc.errSubstr)
				}
				return
			}
			if err != nil || root != tc.root || !reflect.DeepEqual(props, tc.props) {
				t.Errorf("StoreIO = %q, %v, %v; want %q, %v", root, props, err, tc.root, tc.props)
			}
		})
	}
}

// TestRedactHidesFileIOSecrets makes iceberg-go's Azure FileIO fail on a connection string
// whose SAS token it then prints (the URL of the request it could not make): through
// Config.Redact no error shows the token's signature, and errors.As still finds the cause.
func TestRedactHidesFileIOSecrets(t *testing.T) {
	const sig = "c2VjcmV0LXNpZ25hdHVyZQ"
	props := map[string]string{"adls.connection-string.acct": "BlobEndpoint=http://bad host:1/acct;SharedAccessSignature=sv=2022-11-02&sig=" + sig}
	for _, tc := range []struct {
		name   string
		redact func(string) string
	}{
		{"without Redact", nil},
		{"with Redact", func(s string) string { return strings.ReplaceAll(s, sig, "REDACTED") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cat, err := icetable.Open(context.Background(), icetable.Config{URI: "sqlite:" + filepath.Join(t.TempDir(), "c.db"), Props: props, Redact: tc.redact})
			if err != nil {
				t.Fatal(err)
			}
			defer cat.Close()
			_, err = cat.Table(context.Background(), "messages", "abfss://lake@acct.dfs.core.windows.net/x/messages", fieldSchema(t), "sent_at")
			if err == nil {
				t.Fatal("a table on an unreachable endpoint was created")
			}
			shown := strings.Contains(err.Error(), sig)
			if shown != (tc.redact == nil) {
				t.Errorf("the error shows the signature: %v, want %v: %v", shown, tc.redact == nil, err)
			}
			var ue *url.Error // the cause stays visible to errors.As
			if !errors.As(err, &ue) {
				t.Errorf("the error does not unwrap to its *url.Error: %v", err)
			}
		})
	}
}
