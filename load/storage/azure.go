package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
)

// Azure is a Store in an Azure Blob Storage container below a prefix. Object names are
// relative to the prefix; objects are block blobs. Versions are the blobs' ETags.
//
// A write stages blocks of azureBlockSize as it goes and commits the block list at Close (an
// object smaller than one block is one Put Blob at Close): nothing is visible before, and
// Abort, a cancelled context or a killed process leaves only uncommitted blocks, which no
// read or listing sees and the service discards. PutIf sends If-None-Match: * or If-Match:
// ETag and DeleteIf If-Match: ETag, which the service enforces atomically. Move is a
// server-side copy (conditional on the source's ETag) then a conditional delete of the source.
//
// Every call has a deadline (AzureOptions, the same semantics as GCSOptions): a small call
// OpTimeout, each staged block ChunkTimeout. A request is tried at most MaxAttempts times.
// Error texts hold no credential: neither the URL's SAS query nor any key (see redactor).
type Azure struct {
	cont      *container.Client
	container string
	prefix    string // "" or ends with "/"
	account   string // the account host of a fully qualified URL, else ""
	opts      AzureOptions
	retry     policy.RetryOptions
	redact    redactor
	access    *Access // how Open reached the account, nil for a caller's client (Access)
	// noBatch is set once the service refused a Blob Batch request (deleteMany).
	noBatch atomic.Bool
}

// azureBlockSize is the size of a staged block: a Writer holds at most one block in memory.
// With Azure's limit of 50,000 blocks a blob, objects up to about 390 GiB can be written.
const azureBlockSize = 8 << 20

// AzureOptions configures an Azure store. The zero value and nil are the defaults; the fields
// mean what GCSOptions' mean, a staged block (8 MiB) taking the place of a chunk.
type AzureOptions struct {
	// OpTimeout bounds each small call, retries included. Default DefaultOpTimeout.
	OpTimeout time.Duration
	// ChunkTimeout bounds the staging of one block of a streaming write, retries included,
	// and Close ChunkTimeout plus OpTimeout. Default DefaultChunkTimeout.
	ChunkTimeout time.Duration
	// MaxAttempts is the number of tries of one request (first try plus retries); the pauses
	// between tries are 0.25 s, 0.75 s, 1.75 s, 3.75 s and so on, at most 8 s (azcore's backoff,
	// jittered). For this store's calls it overrides the client's retry
	// options. Default DefaultMaxAttempts.
	MaxAttempts int
}

func (o *AzureOptions) withDefaults() (AzureOptions, error) {
	var g *GCSOptions
	if o != nil {
		g = &GCSOptions{OpTimeout: o.OpTimeout, ChunkTimeout: o.ChunkTimeout, MaxAttempts: o.MaxAttempts}
	}
	r, err := g.withDefaults()
	return AzureOptions(r), err
}

// NewAzure returns the blobs of containerName below prefix (with or without a trailing slash)
// as a Store with the default AzureOptions. The caller keeps ownership of client.
func NewAzure(client *service.Client, containerName, prefix string) *Azure {
	opts, _ := (*AzureOptions)(nil).withDefaults() // the defaults have no invalid field
	return newAzure(client, containerName, prefix, opts)
}

// NewAzureWithOptions is NewAzure with options; invalid options are an error naming the field.
func NewAzureWithOptions(client *service.Client, containerName, prefix string, o *AzureOptions) (*Azure, error) {
	opts, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	return newAzure(client, containerName, prefix, opts), nil
}

func newAzure(client *service.Client, containerName, prefix string, opts AzureOptions) *Azure {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	retries := int32(opts.MaxAttempts - 1)
	if retries == 0 {
		retries = -1 // azcore reads 0 as its default (3 retries) and a negative value as none
	}
	return &Azure{
		cont:      client.NewContainerClient(containerName),
		container: containerName,
		prefix:    prefix,
		opts:      opts,
		retry:     policy.RetryOptions{MaxRetries: retries, RetryDelay: 250 * time.Millisecond, MaxRetryDelay: 8 * time.Second},
	}
}

// URL returns az://container/prefix (az://container for the whole container), or
// az://ACCOUNT.blob.core.windows.net/container/prefix when the store was opened by such a URL.
func (a *Azure) URL() string {
	u := "az://" + a.container
	if a.account != "" {
		u = "az://" + a.account + "/" + a.container
	}
	if a.prefix == "" {
		return u
	}
	return u + "/" + strings.TrimSuffix(a.prefix, "/")
}

func (a *Azure) blob(name string) (*blockblob.Client, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return a.cont.NewBlockBlobClient(a.prefix + name), nil
}

// withRetry makes ctx carry this store's retry options, which azcore applies to the call.
func (a *Azure) withRetry(ctx context.Context) context.Context {
	return policy.WithRetryOptions(ctx, a.retry)
}

// call runs one request bounded by d with this store's retries; a timeout shows in its error.
func (a *Azure) call(ctx context.Context, d time.Duration, req func(context.Context) error) error {
	ctx, cancel := withDeadline(ctx, d)
	defer cancel()
	return timedOut(ctx, req(a.withRetry(ctx)))
}

// etag is the version of an ETag: without the quotes that headers have and listings do not.
func etag(e *azcore.ETag) string {
	if e == nil {
		return ""
	}
	return strings.Trim(string(*e), `"`)
}

// ifETag is the ETag of a version, quoted as conditional headers want it.
func ifETag(version string) *azcore.ETag {
	return ptr(azcore.ETag(`"` + version + `"`))
}

func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func size(n *int64) int64 {
	if n == nil {
		return 0
	}
	return *n
}

// Open reads name. Opening and then each Read may take OpTimeout.
func (a *Azure) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	return a.open(ctx, name, 0, 0)
}

// OpenRange reads length bytes of name from offset, in one ranged request. Opening and then
// each Read may take OpTimeout.
func (a *Azure) OpenRange(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	if err := checkRange(offset, length); err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	if length == 0 { // a zero count reads to the end
		if _, err := a.Stat(ctx, name); err != nil {
			return nil, err
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	r, err := a.open(ctx, name, offset, length)
	if statusOf(err) == 416 { // the offset is at or past the end of an object that exists
		return io.NopCloser(strings.NewReader("")), nil
	}
	return r, err
}

// open reads count bytes of name from offset (count 0: to the end).
func (a *Azure) open(ctx context.Context, name string, offset, count int64) (io.ReadCloser, error) {
	b, err := a.blob(name)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	wd := newWatchdog(ctx)
	var resp blob.DownloadStreamResponse
	err = wd.guard(a.opts.OpTimeout, "no answer", func() error {
		var err error
		resp, err = b.DownloadStream(a.withRetry(wd.ctx), &blob.DownloadStreamOptions{Range: blob.HTTPRange{Offset: offset, Count: count}})
		return err
	})
	if err != nil {
		wd.stop()
		return nil, a.err("open", name, err)
	}
	return &guardedReader{name: name, body: resp.Body, wd: wd, d: a.opts.OpTimeout, wrap: a.err}, nil
}

// Stat describes name.
func (a *Azure) Stat(ctx context.Context, name string) (Object, error) {
	b, err := a.blob(name)
	if err != nil {
		return Object{}, fmt.Errorf("stat: %w", err)
	}
	var p blob.GetPropertiesResponse
	err = a.call(ctx, a.opts.OpTimeout, func(ctx context.Context) (err error) {
		p, err = b.GetProperties(ctx, nil)
		return err
	})
	if err != nil {
		return Object{}, a.err("stat", name, err)
	}
	return Object{Name: name, Size: size(p.ContentLength), Version: etag(p.ETag), Updated: utc(p.LastModified)}, nil
}

// List lists the blobs below the store's prefix + prefix.
func (a *Azure) List(ctx context.Context, prefix string) ([]Object, error) {
	out, _, err := a.list(ctx, prefix, "", 0)
	return out, err
}

// ListPage lists up to pageSize blobs below the store's prefix + prefix after the name after.
// The listing starts at after (List Blobs' startFrom) and skips names up to after itself, so
// the page is right also from a service that ignores startFrom, at the cost of listing from
// the prefix's start on every page. A page that the service cuts short (it may, at a
// partition boundary) is completed with further requests.
func (a *Azure) ListPage(ctx context.Context, prefix, after string, pageSize int) ([]Object, string, error) {
	if pageSize < 1 {
		return nil, "", fmt.Errorf("list: page size %d: %w", pageSize, ErrBadRange)
	}
	return a.list(ctx, prefix, after, pageSize)
}

// list lists the blobs below the store's prefix + prefix after the name after, up to limit of
// them (0: all), and returns the last name when it stopped at the limit. Each request to the
// service may take OpTimeout.
func (a *Azure) list(ctx context.Context, prefix, after string, limit int) ([]Object, string, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, "", fmt.Errorf("list: %w", err)
	}
	o := &container.ListBlobsFlatOptions{Prefix: ptr(a.prefix + prefix)}
	if after != "" {
		o.StartFrom = ptr(a.prefix + after)
	}
	if limit > 0 {
		o.MaxResults = ptr(int32(min(limit+1, 5000))) // after itself may come first
	}
	pager := a.cont.NewListBlobsFlatPager(o)
	var out []Object
	for pager.More() && (limit == 0 || len(out) < limit) {
		var page container.ListBlobsFlatResponse
		err := a.call(ctx, a.opts.OpTimeout, func(ctx context.Context) (err error) {
			page, err = pager.NextPage(ctx)
			return err
		})
		if err != nil {
			return nil, "", a.err("list", fmt.Sprintf("%s %q", a.URL(), prefix), err)
		}
		if page.Segment == nil {
			continue
		}
		for _, it := range page.Segment.BlobItems {
			if it.Name == nil || it.Properties == nil {
				continue
			}
			name := strings.TrimPrefix(*it.Name, a.prefix)
			if checkName(name) != nil || (after != "" && name <= after) {
				continue // folder placeholders ("dir/"), names this store cannot address, after itself
			}
			out = append(out, Object{Name: name, Size: size(it.Properties.ContentLength), Version: etag(it.Properties.ETag), Updated: utc(it.Properties.LastModified)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if limit > 0 && len(out) >= limit {
		out = out[:limit]
		return out, out[len(out)-1].Name, nil
	}
	return out, "", nil
}

func ptr[T any](v T) *T { return &v }

// Move copies src's current version to dst on the server, then deletes src if it still is
// that version (a src rewritten in between is left in place). Each request may take
// OpTimeout; waiting for a copy that the service runs asynchronously (a large blob) may take
// OpTimeout per started 256 MiB.
func (a *Azure) Move(ctx context.Context, src, dst string) (Object, error) {
	sb, err := a.blob(src)
	if err != nil {
		return Object{}, fmt.Errorf("move: %w", err)
	}
	db, err := a.blob(dst)
	if err != nil {
		return Object{}, fmt.Errorf("move: %w", err)
	}
	var p blob.GetPropertiesResponse
	err = a.call(ctx, a.opts.OpTimeout, func(ctx context.Context) (err error) {
		p, err = sb.GetProperties(ctx, nil)
		return err
	})
	if err != nil {
		return Object{}, a.err("move", src, err)
	}
	var cp blob.StartCopyFromURLResponse
	err = a.call(ctx, a.opts.OpTimeout, func(ctx context.Context) (err error) {
		cp, err = db.StartCopyFromURL(ctx, sb.URL(), &blob.StartCopyFromURLOptions{
			SourceModifiedAccessConditions: &blob.SourceModifiedAccessConditions{SourceIfMatch: p.ETag},
		})
		return err
	})
	if err != nil {
		return Object{}, a.err("move "+src+" to", dst, err)
	}
	moved := Object{Name: dst, Size: size(p.ContentLength), Version: etag(cp.ETag), Updated: utc(cp.LastModified)}
	if cp.CopyStatus != nil && *cp.CopyStatus != blob.CopyStatusTypeSuccess {
		// The copy's answer named the blob as it was when the copy started.
		d, err := a.awaitCopy(ctx, db, size(p.ContentLength))
		if err != nil {
			return Object{}, a.err("move "+src+" to", dst, err)
		}
		moved.Version, moved.Updated = etag(d.ETag), utc(d.LastModified)
	}
	err = a.call(ctx, a.opts.OpTimeout, func(ctx context.Context) error {
		_, err := sb.Delete(ctx, &blob.DeleteOptions{AccessConditions: ifMatch(p.ETag)})
		return err
	})
	if err != nil && statusOf(err) != 404 && statusOf(err) != 412 {
		return Object{}, a.err("move "+src+" to "+dst+": delete source", src, err)
	}
	return moved, nil
}

// awaitCopy polls dst until its pending copy ends, for at most OpTimeout per started 256 MiB,
// and returns dst's properties once it has.
func (a *Azure) awaitCopy(ctx context.Context, dst *blockblob.Client, n int64) (blob.GetPropertiesResponse, error) {
	d := a.opts.OpTimeout * time.Duration(1+n/(256<<20))
	ctx, cancel := withDeadline(ctx, d)
	defer cancel()
	pause := 50 * time.Millisecond
	for {
		p, err := dst.GetProperties(a.withRetry(ctx), nil)
		if err != nil {
			return p, timedOut(ctx, err)
		}
		switch s := blob.CopyStatusTypePending; {
		case p.CopyStatus == nil || *p.CopyStatus == blob.CopyStatusTypeSuccess:
			return p, nil
		case *p.CopyStatus != s:
			return p, fmt.Errorf("server-side copy ended %s", *p.CopyStatus)
		}
		select {
		case <-ctx.Done():
			return p, timedOut(ctx, context.Cause(ctx))
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}

func ifMatch(e *azcore.ETag) *blob.AccessConditions {
	return &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: e}}
}

// Delete removes name; a missing name is not an error.
func (a *Azure) Delete(ctx context.Context, name string) error {
	b, err := a.blob(name)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	err = a.call(ctx, a.opts.OpTimeout, func(ctx context.Context) error {
		_, err := b.Delete(ctx, nil)
		return err
	})
	if err != nil && !isBlobNotFound(err) {
		return a.err("delete", name, err)
	}
	return nil
}

// Get reads name whole with the ETag it read.
func (a *Azure) Get(ctx context.Context, name string) ([]byte, string, error) {
	b, err := a.blob(name)
	if err != nil {
		return nil, "", fmt.Errorf("get: %w", err)
	}
	var data []byte
	var version string
	err = a.call(ctx, a.opts.OpTimeout, func(ctx context.Context) error {
		resp, err := b.DownloadStream(ctx, nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		version = etag(resp.ETag)
		data, err = io.ReadAll(resp.Body)
		return err
	})
	if err != nil {
		return nil, "", a.err("get", name, err)
	}
	return data, version, nil
}

// PutIf writes name in one Put Blob with If-None-Match: * (ifVersion "") or If-Match: ETag.
//
// The client retries a conditional write after a transient error; if a first attempt was in
// fact applied, the retry reports ErrPrecondition although the data was written. Callers that
// get ErrPrecondition re-read the object (Get) and decide from what they find.
func (a *Azure) PutIf(ctx context.Context, name string, data []byte, ifVersion string) (string, error) {
	b, err := a.blob(name)
	if err != nil {
		return "", fmt.Errorf("put: %w", err)
	}
	cond := &blob.ModifiedAccessConditions{IfNoneMatch: ptr(azcore.ETagAny)}
	if ifVersion != "" {
		cond = &blob.ModifiedAccessConditions{IfMatch: ifETag(ifVersion)}
	}
	var resp blockblob.UploadResponse
	err = a.call(ctx, a.opts.OpTimeout, func(ctx context.Context) (err error) {
		resp, err = b.Upload(ctx, nopSeekCloser(data), &blockblob.UploadOptions{
			HTTPHeaders:      &blob.HTTPHeaders{BlobContentType: ptr(contentType(name))},
			AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: cond},
		})
		return err
	})
	if err != nil {
		if isBlobNotFound(err) { // If-Match on a missing blob
			return "", fmt.Errorf("put %s: have no object, want version %q: %w", name, ifVersion, ErrPrecondition)
		}
		return "", a.err("put", name, err)
	}
	return etag(resp.ETag), nil
}

// DeleteIf deletes name if its ETag is ifVersion, with If-Match. ifVersion "" deletes nothing:
// it is nil if name is absent, else ErrPrecondition.
func (a *Azure) DeleteIf(ctx context.Context, name string, ifVersion string) error {
	b, err := a.blob(name)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if ifVersion == "" {
		o, err := a.Stat(ctx, name)
		switch {
		case errors.Is(err, ErrNotExist):
			return nil
		case err != nil:
			return fmt.Errorf("delete: %w", err)
		}
		return fmt.Errorf("delete %s: have version %q, want no object: %w", name, o.Version, ErrPrecondition)
	}
	err = a.call(ctx, a.opts.OpTimeout, func(ctx context.Context) error {
		_, err := b.Delete(ctx, &blob.DeleteOptions{AccessConditions: ifMatch(ifETag(ifVersion))})
		return err
	})
	if isBlobNotFound(err) {
		return fmt.Errorf("delete %s: have no object, want version %q: %w", name, ifVersion, ErrPrecondition)
	}
	if err != nil {
		return a.err("delete", name, err)
	}
	return nil
}

// bytesSeekCloser is a request body the client can rewind to retry.
type bytesSeekCloser struct{ *bytes.Reader }

func (bytesSeekCloser) Close() error { return nil }

func nopSeekCloser(b []byte) io.ReadSeekCloser { return bytesSeekCloser{bytes.NewReader(b)} }

var _ Store = (*Azure)(nil)
