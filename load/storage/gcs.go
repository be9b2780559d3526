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

	"cloud.google.com/go/storage"
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
type GCS struct {
	client *storage.Client
	bucket *storage.BucketHandle
	name   string // bucket name
	prefix string // "" or ends with "/"
}

// NewGCS returns the objects of bucket below prefix (with or without a trailing slash) as a
// Store. The caller keeps ownership of client.
func NewGCS(client *storage.Client, bucket, prefix string) *GCS {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &GCS{client: client, bucket: client.Bucket(bucket), name: bucket, prefix: prefix}
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

// gcsErr wraps err with context, mapping a missing object to ErrNotExist and a failed
// precondition (HTTP 412) to ErrPrecondition.
func gcsErr(op, name string, err error) error {
	if errors.Is(err, storage.ErrObjectNotExist) {
		return fmt.Errorf("%s %s: %w (%w)", op, name, ErrNotExist, err)
	}
	if isPrecondition(err) {
		return fmt.Errorf("%s %s: %w (%w)", op, name, ErrPrecondition, err)
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

// Create starts a resumable upload of name.
func (g *GCS) Create(ctx context.Context, name string) (Writer, error) {
	o, err := g.object(name)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	wctx, cancel := context.WithCancel(ctx)
	w := o.NewWriter(wctx)
	w.ChunkSize = gcsChunkSize
	w.ContentType = contentType(name)
	return &gcsWriter{name: name, w: w, cancel: cancel}, nil
}

type gcsWriter struct {
	name   string
	w      *storage.Writer
	cancel context.CancelFunc
	closed bool
}

func (w *gcsWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
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
	err := w.w.Close()
	w.cancel()
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
	w.cancel()
	_ = w.w.Close() // reports the cancellation; waits for the upload goroutine to end
	return nil
}

// Open reads name.
func (g *GCS) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	o, err := g.object(name)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	r, err := o.NewReader(ctx)
	if err != nil {
		return nil, gcsErr("open", name, err)
	}
	return r, nil
}

// Stat describes name.
func (g *GCS) Stat(ctx context.Context, name string) (Object, error) {
	o, err := g.object(name)
	if err != nil {
		return Object{}, fmt.Errorf("stat: %w", err)
	}
	a, err := o.Attrs(ctx)
	if err != nil {
		return Object{}, gcsErr("stat", name, err)
	}
	return Object{Name: name, Size: a.Size, Version: strconv.FormatInt(a.Generation, 10), Updated: a.Updated.UTC()}, nil
}

// List lists the objects below the store's prefix + prefix.
func (g *GCS) List(ctx context.Context, prefix string) ([]Object, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	q := &storage.Query{Prefix: g.prefix + prefix}
	if err := q.SetAttrSelection([]string{"Name", "Size", "Generation", "Updated"}); err != nil {
		return nil, fmt.Errorf("list %s %q: %w", g.URL(), prefix, err)
	}
	it := g.bucket.Objects(ctx, q)
	var out []Object
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list %s %q: %w", g.URL(), prefix, err)
		}
		name := strings.TrimPrefix(a.Name, g.prefix)
		if checkName(name) != nil {
			continue // folder placeholders ("dir/") and names this store cannot address
		}
		out = append(out, Object{Name: name, Size: a.Size, Version: strconv.FormatInt(a.Generation, 10), Updated: a.Updated.UTC()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Move copies src's current generation to dst on the server, then deletes src if it still is
// that generation (a src rewritten in between is left in place).
func (g *GCS) Move(ctx context.Context, src, dst string) error {
	so, err := g.object(src)
	if err != nil {
		return fmt.Errorf("move: %w", err)
	}
	do, err := g.object(dst)
	if err != nil {
		return fmt.Errorf("move: %w", err)
	}
	a, err := so.Attrs(ctx)
	if err != nil {
		return gcsErr("move", src, err)
	}
	so = so.Generation(a.Generation)
	if _, err := do.CopierFrom(so).Run(ctx); err != nil {
		return gcsErr("move "+src+" to", dst, err)
	}
	err = so.If(storage.Conditions{GenerationMatch: a.Generation}).Delete(ctx)
	if err != nil && !isNotFound(err) && !isPrecondition(err) {
		return fmt.Errorf("move %s to %s: delete source: %w", src, dst, err)
	}
	return nil
}

// Delete removes name; a missing name is not an error.
func (g *GCS) Delete(ctx context.Context, name string) error {
	o, err := g.object(name)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := o.Delete(ctx); err != nil && !isNotFound(err) {
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
	r, err := o.NewReader(ctx)
	if err != nil {
		return nil, "", gcsErr("get", name, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, "", fmt.Errorf("get %s: %w", name, err)
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
	w := o.If(cond).NewWriter(ctx)
	w.ContentType = contentType(name)
	w.ChunkSize = len(data) + 1 // one request, buffered so that it can be retried
	if _, err := w.Write(data); err != nil {
		w.Close()
		return "", gcsErr("put", name, err)
	}
	if err := w.Close(); err != nil {
		return "", gcsErr("put", name, err)
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
	a, err := o.Attrs(ctx)
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
	err = o.If(storage.Conditions{GenerationMatch: a.Generation}).Delete(ctx)
	if isNotFound(err) || isPrecondition(err) {
		return fmt.Errorf("delete %s: changed since version %q: %w (%w)", name, ifVersion, ErrPrecondition, err)
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

var _ Store = (*GCS)(nil)
