package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
)

// gcsChunkSize is the resumable upload chunk size: a Writer holds at most one chunk in memory
// and sends the object in chunks of this size while it is written.
const gcsChunkSize = 8 << 20

// GCS is a Store in a Google Cloud Storage bucket below a prefix. Object names are relative to
// the prefix. Versions are object generations in decimal.
//
// A write is one resumable upload, finalised at Close; cancelling its context (Abort does)
// abandons the upload, which is never visible. PutIf uses generation preconditions (atomic on
// GCS). DeleteIf compares the current generation and also sends a generation precondition: on
// real GCS the precondition makes it atomic; emulators that ignore delete preconditions (such
// as fake-gcs-server) only get the comparison, which leaves a small race window.
//
// Every call has a deadline (GCSOptions): a small call OpTimeout, a streaming write
// ChunkTimeout per chunk. A request is tried at most MaxAttempts times, so an unreachable
// endpoint (connection refused) fails within seconds, not when the deadline passes.
type GCS struct {
	client *storage.Client
	bucket *storage.BucketHandle
	name   string // bucket name
	prefix string // "" or ends with "/"
	opts   GCSOptions
}

// retryBackoff is the pause between tries of one request: 0.5 s, doubling, at most 8 s, with
// gax's jitter. With DefaultMaxAttempts a request that fails at once every time (connection
// refused) gives up after less than 8 s of pauses.
func retryBackoff() gax.Backoff {
	return gax.Backoff{Initial: 500 * time.Millisecond, Max: 8 * time.Second, Multiplier: 2}
}

// NewGCS returns the objects of bucket below prefix (with or without a trailing slash) as a
// Store with the default GCSOptions. The caller keeps ownership of client.
func NewGCS(client *storage.Client, bucket, prefix string) *GCS {
	opts, _ := (*GCSOptions)(nil).withDefaults() // the defaults have no invalid field
	return newGCS(client, bucket, prefix, opts)
}

// NewGCSWithOptions is NewGCS with options; invalid options are an error naming the field.
func NewGCSWithOptions(client *storage.Client, bucket, prefix string, o *GCSOptions) (*GCS, error) {
	opts, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	return newGCS(client, bucket, prefix, opts), nil
}

func newGCS(client *storage.Client, bucket, prefix string, opts GCSOptions) *GCS {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	b := client.Bucket(bucket).Retryer(storage.WithMaxAttempts(opts.MaxAttempts), storage.WithBackoff(retryBackoff()))
	return &GCS{client: client, bucket: b, name: bucket, prefix: prefix, opts: opts}
}

// URL returns gs://bucket/prefix (gs://bucket for the whole bucket).
func (g *GCS) URL() string {
	if g.prefix == "" {
		return "gs://" + g.name
	}
	return "gs://" + g.name + "/" + strings.TrimSuffix(g.prefix, "/")
}

func (g *GCS) object(name string) (*storage.ObjectHandle, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return g.bucket.Object(g.prefix + name), nil
}

// gcsErr wraps err with context, mapping a missing object to ErrNotExist, a failed
// precondition (HTTP 412) to ErrPrecondition and a refusal (HTTP 403) to ErrPermission.
func gcsErr(op, name string, err error) error {
	if errors.Is(err, storage.ErrObjectNotExist) {
		return fmt.Errorf("%s %s: %w (%w)", op, name, ErrNotExist, err)
	}
	if isPrecondition(err) {
		return fmt.Errorf("%s %s: %w (%w)", op, name, ErrPrecondition, err)
	}
	if ge := (*googleapi.Error)(nil); errors.As(err, &ge) && ge.Code == http.StatusForbidden {
		return fmt.Errorf("%s %s: %w (%w)", op, name, ErrPermission, err)
	}
	return fmt.Errorf("%s %s: %w", op, name, err)
}

func isPrecondition(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusPreconditionFailed
}

func isNotFound(err error) bool {
	var ge *googleapi.Error
	return errors.Is(err, storage.ErrObjectNotExist) || (errors.As(err, &ge) && ge.Code == http.StatusNotFound)
}

// contentType names the media type of an object by its extension.
func contentType(name string) string {
	switch ext := path.Ext(name); ext {
	case ".parquet":
		return "application/vnd.apache.parquet"
	case ".json":
		return "application/json"
	case ".jsonl", ".ndjson":
		return "application/x-ndjson"
	case "":
		return "application/octet-stream"
	default:
		if t := mime.TypeByExtension(ext); t != "" {
			return t
		}
		return "application/octet-stream"
	}
}

// Create starts a resumable upload of name. Each Write may take ChunkTimeout per started
// chunk of the data it hands over, Close ChunkTimeout plus OpTimeout; a step that takes longer
// ends the upload with an error matching ErrTimeout.
func (g *GCS) Create(ctx context.Context, name string) (Writer, error) {
	o, err := g.object(name)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	wd := newWatchdog(ctx)
	w := o.NewWriter(wd.ctx)
	w.ChunkSize = gcsChunkSize
	w.ChunkRetryDeadline = g.opts.ChunkTimeout
	w.ChunkTransferTimeout = g.opts.ChunkTimeout
	w.ContentType = contentType(name)
	return &gcsWriter{name: name, w: w, wd: wd, opts: g.opts}, nil
}

type gcsWriter struct {
	name   string
	w      *storage.Writer
	wd     *watchdog
	opts   GCSOptions
	closed bool
}

func (w *gcsWriter) Write(p []byte) (int, error) {
	var n int
	chunks := time.Duration(1 + len(p)/gcsChunkSize)
	err := w.wd.guard(chunks*w.opts.ChunkTimeout, "no upload progress", func() error {
		var err error
		n, err = w.w.Write(p)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("write %s: %w", w.name, err)
	}
	return n, nil
}

// Close finalises the upload; its error is the upload's error.
func (w *gcsWriter) Close() error {
	if w.closed {
		return fmt.Errorf("close %s: writer already closed", w.name)
	}
	w.closed = true
	err := w.wd.guard(w.opts.ChunkTimeout+w.opts.OpTimeout, "no upload progress", w.w.Close)
	w.wd.stop()
	if err != nil {
		return gcsErr("close", w.name, err)
	}
	return nil
}

// Abort cancels the upload; nothing becomes visible. It is a no-op after Close.
func (w *gcsWriter) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.wd.stop()
	_ = w.w.Close() // reports the cancellation; waits for the upload goroutine to end
	return nil
}

// Open reads name. Opening and then each Read may take OpTimeout.
func (g *GCS) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	return g.open(ctx, name, 0, -1)
}

// OpenRange reads length bytes of name from offset, in one ranged request. Opening and then
// each Read may take OpTimeout.
func (g *GCS) OpenRange(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	if err := checkRange(offset, length); err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	if length == 0 { // GCS reads a zero length as "to the end"
		if _, err := g.Stat(ctx, name); err != nil {
			return nil, err
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	r, err := g.open(ctx, name, offset, length)
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusRequestedRangeNotSatisfiable {
		return io.NopCloser(strings.NewReader("")), nil // the offset is at or past the end
	}
	return r, err
}

// open reads length bytes of name from offset (length -1: to the end).
func (g *GCS) open(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	o, err := g.object(name)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	wd := newWatchdog(ctx)
	var r *storage.Reader
	err = wd.guard(g.opts.OpTimeout, "no answer", func() error {
		var err error
		r, err = o.NewRangeReader(wd.ctx, offset, length)
		return err
	})
	if err != nil {
		wd.stop()
		return nil, gcsErr("open", name, err)
	}
	return &guardedReader{name: name, body: r, wd: wd, d: g.opts.OpTimeout, wrap: readErr}, nil
}

// Stat describes name.
func (g *GCS) Stat(ctx context.Context, name string) (Object, error) {
	o, err := g.object(name)
	if err != nil {
		return Object{}, fmt.Errorf("stat: %w", err)
	}
	ctx, cancel := withDeadline(ctx, g.opts.OpTimeout)
	defer cancel()
	a, err := o.Attrs(ctx)
	if err != nil {
		return Object{}, gcsErr("stat", name, timedOut(ctx, err))
	}
	return Object{Name: name, Size: a.Size, Version: strconv.FormatInt(a.Generation, 10), Updated: a.Updated.UTC()}, nil
}

// List lists the objects below the store's prefix + prefix.
func (g *GCS) List(ctx context.Context, prefix string) ([]Object, error) {
	out, _, err := g.list(ctx, prefix, "", 0)
	return out, err
}

// ListPage lists up to pageSize objects below the store's prefix + prefix after the name after,
// with one request (the listing starts at after: GCS's StartOffset).
func (g *GCS) ListPage(ctx context.Context, prefix, after string, pageSize int) ([]Object, string, error) {
	if pageSize < 1 {
		return nil, "", fmt.Errorf("list: page size %d: %w", pageSize, ErrBadRange)
	}
	return g.list(ctx, prefix, after, pageSize)
}

// list lists the objects below the store's prefix + prefix after the name after, up to limit
// of them (0: all), and returns the last name when it stopped at the limit.
func (g *GCS) list(ctx context.Context, prefix, after string, limit int) ([]Object, string, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, "", fmt.Errorf("list: %w", err)
	}
	q := &storage.Query{Prefix: g.prefix + prefix}
	if after != "" {
		q.StartOffset = g.prefix + after
	}
	if err := q.SetAttrSelection([]string{"Name", "Size", "Generation", "Updated"}); err != nil {
		return nil, "", fmt.Errorf("list %s %q: %w", g.URL(), prefix, err)
	}
	wd := newWatchdog(ctx)
	defer wd.stop()
	it := g.bucket.Objects(wd.ctx, q)
	if limit > 0 {
		it.PageInfo().MaxSize = limit + 1 // after itself may come first
	}
	var out []Object
	for limit == 0 || len(out) < limit {
		var a *storage.ObjectAttrs
		err := wd.guard(g.opts.OpTimeout, "no answer", func() error {
			var err error
			a, err = it.Next()
			return err
		})
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("list %s %q: %w", g.URL(), prefix, err)
		}
		name := strings.TrimPrefix(a.Name, g.prefix)
		if checkName(name) != nil || (after != "" && name <= after) {
			continue // folder placeholders ("dir/"), names this store cannot address, after itself
		}
		out = append(out, Object{Name: name, Size: a.Size, Version: strconv.FormatInt(a.Generation, 10), Updated: a.Updated.UTC()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if limit > 0 && len(out) == limit {
		return out, out[len(out)-1].Name, nil
	}
	return out, "", nil
}

// Move copies src's current generation to dst on the server, then deletes src if it still is
// that generation (a src rewritten in between is left in place); the copy's answer describes
// dst. Each of its three requests
// may take OpTimeout.
func (g *GCS) Move(ctx context.Context, src, dst string) (Object, error) {
	so, err := g.object(src)
	if err != nil {
		return Object{}, fmt.Errorf("move: %w", err)
	}
	do, err := g.object(dst)
	if err != nil {
		return Object{}, fmt.Errorf("move: %w", err)
	}
	var a *storage.ObjectAttrs
	err = g.call(ctx, func(ctx context.Context) (err error) {
		a, err = so.Attrs(ctx)
		return err
	})
	if err != nil {
		return Object{}, gcsErr("move", src, err)
	}
	so = so.Generation(a.Generation)
	var moved *storage.ObjectAttrs
	err = g.call(ctx, func(ctx context.Context) (err error) {
		moved, err = do.CopierFrom(so).Run(ctx)
		return err
	})
	if err != nil {
		return Object{}, gcsErr("move "+src+" to", dst, err)
	}
	err = g.call(ctx, func(ctx context.Context) error {
		return so.If(storage.Conditions{GenerationMatch: a.Generation}).Delete(ctx)
	})
	if err != nil && !isNotFound(err) && !isPrecondition(err) {
		return Object{}, fmt.Errorf("move %s to %s: delete source: %w", src, dst, err)
	}
	return Object{Name: dst, Size: moved.Size, Version: strconv.FormatInt(moved.Generation, 10), Updated: moved.Updated.UTC()}, nil
}

// Delete removes name; a missing name is not an error.
func (g *GCS) Delete(ctx context.Context, name string) error {
	o, err := g.object(name)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := g.call(ctx, o.Delete); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// Get reads name whole with the generation it read.
func (g *GCS) Get(ctx context.Context, name string) ([]byte, string, error) {
	o, err := g.object(name)
	if err != nil {
		return nil, "", fmt.Errorf("get: %w", err)
	}
	ctx, cancel := withDeadline(ctx, g.opts.OpTimeout)
	defer cancel()
	r, err := o.NewReader(ctx)
	if err != nil {
		return nil, "", gcsErr("get", name, timedOut(ctx, err))
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, "", fmt.Errorf("get %s: %w", name, timedOut(ctx, err))
	}
	return data, strconv.FormatInt(r.Attrs.Generation, 10), nil
}

// parseGen parses a version made by this store; anything else cannot be current.
func parseGen(op, name, v string) (int64, error) {
	gen, err := strconv.ParseInt(v, 10, 64)
	if err != nil || gen <= 0 {
		return 0, fmt.Errorf("%s %s: version %q is not a GCS generation: %w", op, name, v, ErrPrecondition)
	}
	return gen, nil
}

// PutIf writes name with precondition DoesNotExist (ifVersion "") or GenerationMatch.
//
// The client retries a conditional write after a transient error; if a first attempt was in
// fact applied, the retry reports ErrPrecondition although the data was written. Callers that
// get ErrPrecondition re-read the object (Get) and decide from what they find.
func (g *GCS) PutIf(ctx context.Context, name string, data []byte, ifVersion string) (string, error) {
	o, err := g.object(name)
	if err != nil {
		return "", fmt.Errorf("put: %w", err)
	}
	cond := storage.Conditions{DoesNotExist: true}
	if ifVersion != "" {
		gen, err := parseGen("put", name, ifVersion)
		if err != nil {
			return "", err
		}
		cond = storage.Conditions{GenerationMatch: gen}
	}
	ctx, cancel := withDeadline(ctx, g.opts.OpTimeout)
	defer cancel()
	// A one-request upload retries until its context ends, whatever MaxAttempts says: count
	// its tries here (Object made o a handle of its own, so Retryer changes only this call).
	w := o.Retryer(storage.WithErrorFunc(tries(g.opts.MaxAttempts))).If(cond).NewWriter(ctx)
	w.ContentType = contentType(name)
	w.ChunkSize = len(data) + 1 // one request, buffered so that it can be retried
	if _, err := w.Write(data); err != nil {
		w.Close()
		return "", gcsErr("put", name, timedOut(ctx, err))
	}
	if err := w.Close(); err != nil {
		return "", gcsErr("put", name, timedOut(ctx, err))
	}
	return strconv.FormatInt(w.Attrs().Generation, 10), nil
}

// DeleteIf deletes name if its generation is ifVersion ("" = only if absent, a no-op).
//
// It compares the current generation first and then deletes with a GenerationMatch
// precondition. Real GCS enforces the precondition, so the delete is atomic; an emulator that
// ignores it only gets the comparison.
func (g *GCS) DeleteIf(ctx context.Context, name string, ifVersion string) error {
	o, err := g.object(name)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	ctx, cancel := withDeadline(ctx, g.opts.OpTimeout)
	defer cancel()
	a, err := o.Attrs(ctx)
	err = timedOut(ctx, err)
	switch {
	case errors.Is(err, storage.ErrObjectNotExist):
		if ifVersion == "" {
			return nil
		}
		return fmt.Errorf("delete %s: have no object, want version %q: %w", name, ifVersion, ErrPrecondition)
	case err != nil:
		return fmt.Errorf("delete %s: %w", name, err)
	}
	cur := strconv.FormatInt(a.Generation, 10)
	if cur != ifVersion {
		return fmt.Errorf("delete %s: have version %q, want %q: %w", name, cur, ifVersion, ErrPrecondition)
	}
	err = timedOut(ctx, o.If(storage.Conditions{GenerationMatch: a.Generation}).Delete(ctx))
	if isNotFound(err) || isPrecondition(err) {
		return fmt.Errorf("delete %s: changed since version %q: %w (%w)", name, ifVersion, ErrPrecondition, err)
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// tries is a retry decision for one call that allows max tries of errors the client deems
// transient.
func tries(max int) func(error) bool {
	n := 0
	return func(err error) bool {
		n++
		return n < max && storage.ShouldRetry(err)
	}
}

// call runs one request bounded by OpTimeout; a timeout shows in its error.
func (g *GCS) call(ctx context.Context, req func(context.Context) error) error {
	ctx, cancel := withDeadline(ctx, g.opts.OpTimeout)
	defer cancel()
	return timedOut(ctx, req(ctx))
}

var _ Store = (*GCS)(nil)
