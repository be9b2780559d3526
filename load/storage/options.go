package storage

import (
	"fmt"
	"time"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Defaults of the deadlines. They are chosen so that a batch job under a scheduler never
// waits on storage for long without saying why: an unreachable bucket fails Open within
// DefaultProbeTimeout, a call that gets no answer fails within DefaultOpTimeout, and a
// streaming write that stops making progress fails within DefaultChunkTimeout per chunk.
const (
	// DefaultOpTimeout bounds one small call (Stat, Get, PutIf, DeleteIf, Delete, Move, one
	// List page, opening a reader, one Read), retries included.
	DefaultOpTimeout = 60 * time.Second
	// DefaultProbeTimeout bounds Open's reachability probe of a gs:// URL, retries included.
	DefaultProbeTimeout = 15 * time.Second
	// DefaultChunkTimeout bounds the upload of one chunk (gcsChunkSize, 8 MiB) of a streaming
	// GCS write, retries included.
	DefaultChunkTimeout = 60 * time.Second
	// DefaultMaxAttempts is how many times a GCS request is tried before its last error is
	// returned (first try plus retries), unless a deadline ends it first.
	DefaultMaxAttempts = 5
)

// OpenOptions configures Open. The zero value and nil are the defaults.
type OpenOptions struct {
	// GCSClient is the client for gs:// URLs; the caller keeps ownership. Nil means a client
	// made by storage.NewClient with the standard credentials (STORAGE_EMULATOR_HOST, if set,
	// points it at an emulator); the returned Store then implements io.Closer to release it.
	GCSClient *storage.Client

	// AzureClient is the service client for az:// URLs; the caller keeps ownership. Nil means
	// a client made from the environment: AZURE_STORAGE_CONNECTION_STRING, else a SAS token
	// (AzureSASFile, else AZURE_STORAGE_SAS_TOKEN), else azidentity's default credential chain
	// (environment, workload identity, managed identity).
	AzureClient *service.Client
	// AzureAccount is the storage account of az://CONTAINER/PREFIX URLs without a client or a
	// connection string (default: AZURE_STORAGE_ACCOUNT).
	AzureAccount string
	// AzureSASFile is a file that holds a SAS token for az:// URLs (default: the token in
	// AZURE_STORAGE_SAS_TOKEN, if any).
	AzureSASFile string
	// AzureEndpoint is the blob service URL of az:// URLs without a client or a connection
	// string (default https://ACCOUNT.blob.core.windows.net/): another cloud, a private
	// endpoint or an emulator.
	AzureEndpoint string

	// MustExist makes Open refuse a lake that does not exist yet, and create nothing: a local
	// directory must exist, a gs:// or az:// URL must have at least one object below its prefix. Commands
	// that only read a lake (status, verify) set it, so a mistyped URL is an error, not a new
	// empty lake. The error matches ErrNotExist.
	MustExist bool

	// OpTimeout bounds each small call, retries included (default DefaultOpTimeout). See
	// GCSOptions.OpTimeout and LocalOptions.OpTimeout.
	OpTimeout time.Duration
	// ProbeTimeout bounds Open's probe of a gs:// or az:// URL (default DefaultProbeTimeout).
	ProbeTimeout time.Duration
	// ChunkTimeout bounds each chunk of a streaming GCS write, each staged block of an Azure
	// one (default DefaultChunkTimeout).
	ChunkTimeout time.Duration
	// MaxAttempts is the number of tries of one GCS or Azure request (default DefaultMaxAttempts).
	MaxAttempts int

	// S3Client is the client for s3:// URLs; the caller keeps ownership, and S3Endpoint,
	// S3PathStyle and S3Region are then unused. Nil means a client made from the standard AWS
	// configuration (config.LoadDefaultConfig: environment, shared config and profile, web
	// identity, ECS and EC2 roles) with the three settings below.
	S3Client *s3.Client
	// S3Endpoint is the base URL (http:// or https://) of an S3-compatible store (MinIO,
	// Cloudflare R2, Ceph RGW); "" means AWS (or AWS_ENDPOINT_URL_S3, which the SDK reads).
	S3Endpoint string
	// S3PathStyle addresses buckets as ENDPOINT/BUCKET/KEY instead of BUCKET.ENDPOINT/KEY, as
	// most S3-compatible stores need.
	S3PathStyle bool
	// S3Region is the bucket's region; "" means the configured one (AWS_REGION, the profile),
	// else the one the bucket reports (HeadBucket), else us-east-1.
	S3Region string
}

// GCSOptions configures a GCS store. The zero value and nil are the defaults.
type GCSOptions struct {
	// OpTimeout bounds each small call, retries included: Stat, Get, PutIf, DeleteIf, Delete,
	// Move (copy and delete together), each page of List, opening a reader and each Read of
	// it. Default DefaultOpTimeout.
	OpTimeout time.Duration
	// ChunkTimeout bounds a streaming write by progress rather than by size: one Write call
	// may take ChunkTimeout for every started chunk of 8 MiB it hands over, and Close
	// ChunkTimeout plus OpTimeout (the last chunk and the finalisation). A writer that is
	// idle between calls (its producer is slow) is never timed out. Each chunk's HTTP attempt
	// and its retries are bounded by the same duration (storage.Writer's ChunkTransferTimeout
	// and ChunkRetryDeadline). Default DefaultChunkTimeout.
	ChunkTimeout time.Duration
	// MaxAttempts is the number of tries of one request (first try plus retries) before its
	// last error is returned; retries back off from 0.5 s to at most 8 s. For this store's
	// calls these two override a retry configuration set with Client.SetRetry (its policy and
	// error function stay). Default DefaultMaxAttempts.
	MaxAttempts int
}

// S3Options configures an S3 store: the same deadlines as GCSOptions, with the same meaning
// (ChunkTimeout bounds each 8 MiB part of a multipart upload, and the PutObject of a smaller
// object). The zero value and nil are the defaults.
type S3Options struct {
	OpTimeout    time.Duration
	ChunkTimeout time.Duration
	MaxAttempts  int
}

// LocalOptions configures a Local store. The zero value and nil are the defaults.
type LocalOptions struct {
	// MustExist refuses a directory that does not exist (an error matching ErrNotExist)
	// instead of creating it.
	MustExist bool
	// OpTimeout bounds the wait for the store's lock file in PutIf and DeleteIf (another
	// process holding it). Filesystem calls themselves cannot be interrupted and are not
	// bounded. Default DefaultOpTimeout.
	OpTimeout time.Duration
}

// positive checks that a duration option is zero (the default) or positive.
func positive(field string, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("storage options: %s is %s, want 0 (the default) or more", field, d)
	}
	return nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// withDefaults validates o and fills in its defaults.
func (o *GCSOptions) withDefaults() (GCSOptions, error) {
	var r GCSOptions
	if o != nil {
		r = *o
	}
	if err := positive("OpTimeout", r.OpTimeout); err != nil {
		return r, err
	}
	if err := positive("ChunkTimeout", r.ChunkTimeout); err != nil {
		return r, err
	}
	if r.MaxAttempts < 0 {
		return r, fmt.Errorf("storage options: MaxAttempts is %d, want 0 (the default) or more", r.MaxAttempts)
	}
	r.OpTimeout = orDefault(r.OpTimeout, DefaultOpTimeout)
	r.ChunkTimeout = orDefault(r.ChunkTimeout, DefaultChunkTimeout)
	if r.MaxAttempts == 0 {
		r.MaxAttempts = DefaultMaxAttempts
	}
	return r, nil
}

// withDefaults validates o and fills in its defaults, those of GCSOptions.
func (o *S3Options) withDefaults() (S3Options, error) {
	r, err := (*GCSOptions)(o).withDefaults()
	return S3Options(r), err
}

// withDefaults validates o and fills in its defaults.
func (o *LocalOptions) withDefaults() (LocalOptions, error) {
	var r LocalOptions
	if o != nil {
		r = *o
	}
	if err := positive("OpTimeout", r.OpTimeout); err != nil {
		return r, err
	}
	r.OpTimeout = orDefault(r.OpTimeout, DefaultOpTimeout)
	return r, nil
}

// check validates o; Open's own fields, then each backend's.
func (o *OpenOptions) check() error {
	if err := positive("ProbeTimeout", o.ProbeTimeout); err != nil {
		return err
	}
	if _, err := o.gcs().withDefaults(); err != nil {
		return err
	}
	if err := checkS3Endpoint(o.S3Endpoint); err != nil {
		return err
	}
	_, err := o.local().withDefaults()
	return err
}

func (o *OpenOptions) gcs() *GCSOptions {
	return &GCSOptions{OpTimeout: o.OpTimeout, ChunkTimeout: o.ChunkTimeout, MaxAttempts: o.MaxAttempts}
}

func (o *OpenOptions) s3() *S3Options {
	return &S3Options{OpTimeout: o.OpTimeout, ChunkTimeout: o.ChunkTimeout, MaxAttempts: o.MaxAttempts}
}

func (o *OpenOptions) azure() *AzureOptions {
	return &AzureOptions{OpTimeout: o.OpTimeout, ChunkTimeout: o.ChunkTimeout, MaxAttempts: o.MaxAttempts}
}

func (o *OpenOptions) local() *LocalOptions {
	return &LocalOptions{MustExist: o.MustExist, OpTimeout: o.OpTimeout}
}
