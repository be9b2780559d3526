package storage

import (
	"os"
	"strings"
)

// EnvGCSEmulator is the variable that points cloud.google.com/go/storage (and so a gs:// store
// Open makes) at a GCS emulator such as fake-gcs-server: "HOST:PORT".
const EnvGCSEmulator = "STORAGE_EMULATOR_HOST"

// Access is how a cloud store reaches its bucket, for another client of the same objects that
// cannot share the store's client (the Iceberg FileIO that writes a lake's table metadata): the
// settings Open resolved, from the same options and environment, so that each is defined once.
//
// AzureConnectionString and AzureSAS are secrets: never print them, and pass every text that
// may hold them (an error of the other client) through Redact.
type Access struct {
	// Scheme is the store's kind: "gs", "s3" or "az".
	Scheme string
	// Bucket is the bucket, or the Azure container.
	Bucket string
	// Prefix is the store's prefix without a trailing slash; "" for the whole bucket.
	Prefix string

	// GCSEmulatorHost is STORAGE_EMULATOR_HOST ("HOST:PORT", no authentication) if set.
	GCSEmulatorHost string

	// S3Endpoint is the base URL of an S3-compatible store; "" for AWS (or AWS_ENDPOINT_URL_S3).
	S3Endpoint string
	// S3Region is the bucket's region, as the store's client uses it.
	S3Region string
	// S3PathStyle addresses the bucket as ENDPOINT/BUCKET.
	S3PathStyle bool

	// AzureAccount is the storage account; "" if the store does not know it (made from a
	// caller's client).
	AzureAccount string
	// AzureEndpoint is the blob service URL, e.g. https://ACCOUNT.blob.core.windows.net/.
	AzureEndpoint string
	// AzureConnectionString is the connection string the store was opened with, if any.
	AzureConnectionString string
	// AzureSAS is the SAS token (without "?") the store was opened with, if any. Without a
	// connection string or a SAS token the store uses Azure's default credential chain.
	AzureSAS string

	redact redactor
}

// Redact returns s with every secret of a removed (see the Azure store's error texts).
func (a Access) Redact(s string) string { return a.redact.text(s) }

// Access reports how the store reaches its bucket. The client's own credentials are not
// part of it: another client finds them in the same environment (the GCS client's
// application default credentials).
func (g *GCS) Access() (Access, bool) {
	return Access{Scheme: "gs", Bucket: g.name, Prefix: strings.TrimSuffix(g.prefix, "/"),
		GCSEmulatorHost: os.Getenv(EnvGCSEmulator)}, true
}

// Access reports how the store reaches its bucket: the endpoint, region and addressing of its
// client. Credentials are not part of it: another client finds them in the same standard AWS
// configuration (environment, profile, roles).
func (s *S3) Access() (Access, bool) {
	o := s.client.Options()
	a := Access{Scheme: "s3", Bucket: s.bucket, Prefix: strings.TrimSuffix(s.prefix, "/"),
		S3Region: o.Region, S3PathStyle: o.UsePathStyle}
	if o.BaseEndpoint != nil {
		a.S3Endpoint = *o.BaseEndpoint
	}
	return a, true
}

// Access reports how the store reaches its container, false for a store made from a caller's
// client (NewAzure), whose credentials it cannot tell.
func (a *Azure) Access() (Access, bool) {
	if a.access == nil {
		return Access{}, false
	}
	acc := *a.access
	acc.Bucket, acc.Prefix, acc.redact = a.container, strings.TrimSuffix(a.prefix, "/"), a.redact
	return acc, true
}
