package storage_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	gcs "cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"google.golang.org/api/option"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
)

// backend is one cloud store under test, on one server: how to start its emulator, and how to
// point it at an endpoint where no emulator runs (the deadline cases). The tests that every
// backend shares are table-driven over backends; what only one backend has (S3's condition
// probe, Azure's staged blocks, GCS's generations) is tested beside that backend.
type backend struct {
	name   string
	scheme string // of the store's URL: "gs", "s3", "az"
	// start starts the emulator (skipped without it, except under CI=true) with one bucket
	// (an Azure container).
	start func(t *testing.T, bucket string) emulator
	// at is a store on bucket "lake", prefix "chat", of a client of the server at host, with
	// OpTimeout and ChunkTimeout d (0: the default options). Nil for a second server of a
	// client that another row already points at dead endpoints: the client, not the server,
	// is what those cases test.
	at func(t *testing.T, host string, d time.Duration) storage.Store
	// open sets the environment (with t.Setenv) and returns the URL and options with which
	// storage.Open reaches the server at host, as the command does. Nil where at is.
	open func(t *testing.T, host string) (string, *storage.OpenOptions)
	// secret must appear in no error of a store made by at or open ("": it has none).
	secret string
}

// emulator is a running server of a backend with one bucket.
type emulator struct {
	// store is a store on the bucket below prefix ("": the whole bucket), with OpTimeout and
	// ChunkTimeout d (0: the default options).
	store func(t *testing.T, prefix string, d time.Duration) storage.Store
	// contentType is the media type of the object key, as the raw client sees it.
	contentType func(ctx context.Context, key string) (string, error)
}

// azureKey is the account key of the connection strings of azureAt: nothing serves it.
const azureKey = "c2VjcmV0LWtleS1vZi10aGUtdGVzdA=="

// azureAt is a connection string for an account served at host (nothing is, there).
func azureAt(host string) string {
	return "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=" + azureKey + ";BlobEndpoint=http://" + host + "/acct;"
}

// backends are the cloud stores every shared test runs on: GCS on fake-gcs-server, S3 on moto
// and on gofakes3, Azure on Azurite.
var backends = []backend{
	{
		name:   "gcs",
		scheme: "gs",
		start: func(t *testing.T, bucket string) emulator {
			_, client := storagetest.StartFakeGCS(t, bucket)
			return on(client, bucket, gcsStore, gcsContentType)
		},
		at: func(t *testing.T, host string, d time.Duration) storage.Store {
			return gcsStore(t, emulatorClient(t, host), "lake", "chat", d)
		},
		open: func(t *testing.T, host string) (string, *storage.OpenOptions) {
			t.Setenv("STORAGE_EMULATOR_HOST", host)
			return "gs://lake-bucket/chat", nil
		},
	},
	{
		name:   "s3",
		scheme: "s3",
		start:  s3Start(storagetest.StartMoto),
		at: func(t *testing.T, host string, d time.Duration) storage.Store {
			return s3Store(t, storagetest.MotoClient("http://"+host), "lake", "chat", d)
		},
		open: func(t *testing.T, host string) (string, *storage.OpenOptions) {
			for _, kv := range storagetest.MotoEnv() {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			return "s3://lake-bucket/chat", &storage.OpenOptions{S3Endpoint: "http://" + host, S3PathStyle: true}
		},
		secret: storagetest.MotoSecretKey,
	},
	{
		name:   "s3-gofakes3",
		scheme: "s3",
		start:  s3Start(storagetest.StartGoFakeS3),
	},
	{
		name:   "azure",
		scheme: "az",
		start: func(t *testing.T, container string) emulator {
			_, client := storagetest.StartAzurite(t, container)
			return on(client, container, azureStore, azureContentType)
		},
		at: func(t *testing.T, host string, d time.Duration) storage.Store {
			c, err := service.NewClientFromConnectionString(azureAt(host), nil)
			if err != nil {
				t.Fatal(err)
			}
			return azureStore(t, c, "lake", "chat", d)
		},
		open: func(t *testing.T, host string) (string, *storage.OpenOptions) {
			t.Setenv(storage.EnvAzureConnectionString, azureAt(host))
			return "az://lake-container/chat", nil
		},
		secret: azureKey[:8], // the key's first 8 characters, as the Azure test checked
	},
}

// s3Start is the start of an S3 backend on the server that start starts.
func s3Start(start func(t testing.TB, buckets ...string) (string, *s3.Client)) func(*testing.T, string) emulator {
	return func(t *testing.T, bucket string) emulator {
		_, client := start(t, bucket)
		return on(client, bucket, s3Store, s3ContentType)
	}
}

// on is the emulator whose bucket is reached with client: newStore makes its stores,
// contentType reads a media type with the raw client.
func on[C any](client C, bucket string,
	newStore func(t *testing.T, c C, bucket, prefix string, d time.Duration) storage.Store,
	contentType func(ctx context.Context, c C, bucket, key string) (string, error),
) emulator {
	return emulator{
		store: func(t *testing.T, prefix string, d time.Duration) storage.Store {
			return newStore(t, client, bucket, prefix, d)
		},
		contentType: func(ctx context.Context, key string) (string, error) {
			return contentType(ctx, client, bucket, key)
		},
	}
}

// gcsContentType, s3ContentType and azureContentType are the media type of the object key of
// bucket, as the raw client sees it.
func gcsContentType(ctx context.Context, c *gcs.Client, bucket, key string) (string, error) {
	a, err := c.Bucket(bucket).Object(key).Attrs(ctx)
	if err != nil {
		return "", err
	}
	return a.ContentType, nil
}

func s3ContentType(ctx context.Context, c *s3.Client, bucket, key string) (string, error) {
	out, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ContentType), nil
}

func azureContentType(ctx context.Context, c *service.Client, container, key string) (string, error) {
	p, err := c.NewContainerClient(container).NewBlobClient(key).GetProperties(ctx, nil)
	return aws.ToString(p.ContentType), err // aws.ToString: nil is ""
}

// gcsStore, s3Store and azureStore make a store with OpTimeout and ChunkTimeout d (0: the
// defaults).
func gcsStore(t *testing.T, c *gcs.Client, bucket, prefix string, d time.Duration) storage.Store {
	s, err := storage.NewGCSWithOptions(c, bucket, prefix, &storage.GCSOptions{OpTimeout: d, ChunkTimeout: d})
	return must(t, s, err)
}

func s3Store(t *testing.T, c *s3.Client, bucket, prefix string, d time.Duration) storage.Store {
	s, err := storage.NewS3WithOptions(c, bucket, prefix, &storage.S3Options{OpTimeout: d, ChunkTimeout: d})
	return must(t, s, err)
}

func azureStore(t *testing.T, c *service.Client, container, prefix string, d time.Duration) storage.Store {
	s, err := storage.NewAzureWithOptions(c, container, prefix, &storage.AzureOptions{OpTimeout: d, ChunkTimeout: d})
	return must(t, s, err)
}

// must is s, or fails t with err.
func must(t *testing.T, s storage.Store, err error) storage.Store {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// emulatorClient is a client for the emulator-style endpoint at host, made as StartFakeGCS
// makes its own, so that tests can run in parallel without STORAGE_EMULATOR_HOST.
func emulatorClient(t *testing.T, host string) *gcs.Client {
	t.Helper()
	c, err := gcs.NewClient(context.Background(),
		option.WithEndpoint("http://"+host+"/storage/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedPort returns a loopback address on which nothing listens: connections are refused.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
