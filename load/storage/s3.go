package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// s3MaxCopySize is the largest object one CopyObject copies (5 GiB); Move refuses larger ones.
const s3MaxCopySize = 5 << 30

// S3 is a Store in an Amazon S3 bucket (or an S3-compatible store's) below a prefix. Object
// names are relative to the prefix. Versions are ETags without their quotes: the MD5 of the
// content for a one-request write, another digest for a multipart upload. An ETag names
// content, not a write: rewriting identical bytes gives the same version again, so a PutIf
// or DeleteIf conditioned on it also succeeds after the object was replaced by the same bytes
// (which is harmless to a compare-and-swap of content, and why the lake's lock and state
// objects hold a writer's id and a time).
//
// A write is one PutObject for up to 8 MiB, else a multipart upload of 8 MiB parts, completed
// at Close; Abort, a failed Close or the end of the context given to Create abort it, and
// nothing is visible before Close returns nil. PutIf sends If-None-Match: * or If-Match: ETag
// (atomic on S3 since 2024). DeleteIf compares the ETag and then deletes with If-Match: S3
// enforces it on general purpose buckets; a store that ignores it, or refuses it with 501 Not
// Implemented (then it gets plain deletes), only gets the comparison, which leaves a small
// race window. Move is CopyObject (of the ETag it found) then a
// conditional DeleteObject, for objects of at most 5 GiB.
//
// The first PutIf of a store probes once that the store enforces conditional writes (a
// create-only write of a probe object twice: the second must fail; an If-Match with a wrong
// ETag must fail), and refuses, with an error matching errors.ErrUnsupported, a store that
// ignores them: the lake's lock and state are not safe on it.
//
// Every call has a deadline (S3Options, as GCSOptions): a small call OpTimeout, each part of a
// write ChunkTimeout. A request is tried at most MaxAttempts times, with pauses from 0.5 s to
// 8 s, so an endpoint that refuses connections fails in seconds.
type S3 struct {
	client  *s3.Client
	bucket  string
	prefix  string // "" or ends with "/"
	opts    S3Options
	retryer aws.Retryer

	mu     sync.Mutex
	probed error // nil until a probe ended; errProbeOK when the store enforces conditions
	// plainDelete is set once the store answered a conditional DeleteObject with 501 Not
	// Implemented: deletes are then unconditional, after the caller's comparison.
	plainDelete atomic.Bool
}

// errProbeOK marks a probe that passed.
var errProbeOK = errors.New("conditional writes enforced")

// NewS3 returns the objects of bucket below prefix (with or without a trailing slash) as a
// Store with the default S3Options. The caller keeps ownership of client.
func NewS3(client *s3.Client, bucket, prefix string) *S3 {
	opts, _ := (*S3Options)(nil).withDefaults() // the defaults have no invalid field
	return newS3(client, bucket, prefix, opts)
}

// NewS3WithOptions is NewS3 with options; invalid options are an error naming the field.
func NewS3WithOptions(client *s3.Client, bucket, prefix string, o *S3Options) (*S3, error) {
	opts, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	return newS3(client, bucket, prefix, opts), nil
}

func newS3(client *s3.Client, bucket, prefix string, opts S3Options) *S3 {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	r := retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = opts.MaxAttempts
		o.Backoff = s3Backoff{}
		o.RateLimiter = ratelimit.None // no retry quota shared across calls: each call has its own bound
	})
	return &S3{client: client, bucket: bucket, prefix: prefix, opts: opts, retryer: r}
}

// s3Backoff is the pause before retry n (1, 2, ...): 0.5 s doubling to at most 8 s, the upper
// half of it at random, as GCS's retryBackoff.
type s3Backoff struct{}

func (s3Backoff) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	d := 8 * time.Second
	if attempt < 5 {
		d = 500 * time.Millisecond << max(attempt-1, 0)
	}
	return d/2 + rand.N(d/2+1), nil
}

// callOpts applies this store's retry policy to one request, whatever the client's own.
func (s *S3) callOpts(o *s3.Options) {
	o.Retryer = s.retryer
	o.RetryMaxAttempts = 0
}

// URL returns s3://bucket/prefix (s3://bucket for the whole bucket).
func (s *S3) URL() string {
	if s.prefix == "" {
		return "s3://" + s.bucket
	}
	return "s3://" + s.bucket + "/" + strings.TrimSuffix(s.prefix, "/")
}

// key is the S3 key of name, which must be a valid object name.
func (s *S3) key(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	return s.prefix + name, nil
}

// call runs one request bounded by OpTimeout; a timeout shows in its error.
func (s *S3) call(ctx context.Context, req func(context.Context) error) error {
	ctx, cancel := withDeadline(ctx, s.opts.OpTimeout)
	defer cancel()
	return timedOut(ctx, req(ctx))
}

// s3Code is the HTTP status and S3 error code of err (0 and "" when it has none).
func s3Code(err error) (status int, code string) {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	return status, code
}

// s3NotFound: the object does not exist (a missing bucket or upload is another error).
func s3NotFound(err error) bool {
	status, code := s3Code(err)
	return code == "NoSuchKey" || (status == http.StatusNotFound && code != "NoSuchBucket" && code != "NoSuchUpload")
}

// s3Precondition: a condition failed (412), or a concurrent conditional write won (409
// ConditionalRequestConflict).
func s3Precondition(err error) bool {
	status, code := s3Code(err)
	return status == http.StatusPreconditionFailed || code == "PreconditionFailed" || code == "ConditionalRequestConflict"
}

// s3NotImplemented: the store does not implement what the request asked (501), as some
// S3-compatible stores answer a conditional request.
func s3NotImplemented(err error) bool {
	status, code := s3Code(err)
	return status == http.StatusNotImplemented || code == "NotImplemented"
}

func s3Forbidden(err error) bool {
	status, code := s3Code(err)
	return status == http.StatusForbidden || code == "AccessDenied"
}

// s3Err wraps err with context, mapping a missing object to ErrNotExist, a failed condition to
// ErrPrecondition and a refusal (403) to ErrPermission.
func s3Err(op, name string, err error) error {
	switch {
	case s3NotFound(err):
		return fmt.Errorf("%s %s: %w (%w)", op, name, ErrNotExist, err)
	case s3Precondition(err):
		return fmt.Errorf("%s %s: %w (%w)", op, name, ErrPrecondition, err)
	case s3Forbidden(err):
		return fmt.Errorf("%s %s: %w (%w)", op, name, ErrPermission, err)
	}
	return fmt.Errorf("%s %s: %w", op, name, err)
}

// s3ETag is the version of an ETag: without its quotes.
func s3ETag(p *string) string { return strings.Trim(aws.ToString(p), `"`) }

// s3IfMatch is the If-Match header value of a version made by this store; anything else cannot
// be current.
func s3IfMatch(op, name, v string) (*string, error) {
	ok := v != ""
	for _, c := range v {
		ok = ok && (c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.ContainsRune("-_.:/+=", c))
	}
	if !ok {
		return nil, fmt.Errorf("%s %s: version %q is not an S3 ETag: %w", op, name, v, ErrPrecondition)
	}
	return aws.String(`"` + v + `"`), nil
}

// Stat describes name (HeadObject).
func (s *S3) Stat(ctx context.Context, name string) (Object, error) {
	key, err := s.key(name)
	if err != nil {
		return Object{}, fmt.Errorf("stat: %w", err)
	}
	var out *s3.HeadObjectOutput
	err = s.call(ctx, func(ctx context.Context) (err error) {
		out, err = s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key}, s.callOpts)
		return err
	})
	if err != nil {
		return Object{}, s3Err("stat", name, err)
	}
	return Object{Name: name, Size: aws.ToInt64(out.ContentLength), Version: s3ETag(out.ETag), Updated: aws.ToTime(out.LastModified).UTC()}, nil
}

// Get reads name whole with the ETag it read.
func (s *S3) Get(ctx context.Context, name string) ([]byte, string, error) {
	key, err := s.key(name)
	if err != nil {
		return nil, "", fmt.Errorf("get: %w", err)
	}
	var data []byte
	var v string
	err = s.call(ctx, func(ctx context.Context) error {
		out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key}, s.callOpts)
		if err != nil {
			return err
		}
		defer out.Body.Close()
		v = s3ETag(out.ETag)
		data, err = io.ReadAll(out.Body)
		return err
	})
	if err != nil {
		return nil, "", s3Err("get", name, err)
	}
	return data, v, nil
}

// PutIf writes name with If-None-Match: * (ifVersion "") or If-Match: ifVersion. The first
// call of a store probes that the store enforces these conditions (see S3).
//
// The client retries a conditional write after a transient error; if a first attempt was in
// fact applied, the retry reports ErrPrecondition although the data was written. Callers that
// get ErrPrecondition re-read the object (Get) and decide from what they find.
func (s *S3) PutIf(ctx context.Context, name string, data []byte, ifVersion string) (string, error) {
	key, err := s.key(name)
	if err != nil {
		return "", fmt.Errorf("put: %w", err)
	}
	in := &s3.PutObjectInput{Bucket: &s.bucket, Key: &key, ContentType: aws.String(contentType(name))}
	if ifVersion == "" {
		in.IfNoneMatch = aws.String("*")
	} else if in.IfMatch, err = s3IfMatch("put", name, ifVersion); err != nil {
		return "", err
	}
	if err := s.probe(ctx); err != nil {
		return "", fmt.Errorf("put %s: %w", name, err)
	}
	v, err := s.put(ctx, s.opts.OpTimeout, in, data)
	if err != nil && ifVersion != "" && s3NotFound(err) { // If-Match of a missing object
		return "", fmt.Errorf("put %s: have no object, want version %q: %w (%w)", name, ifVersion, ErrPrecondition, err)
	}
	if err != nil {
		return "", s3Err("put", name, err)
	}
	return v, nil
}

// put runs one PutObject of data within d and returns the new ETag.
func (s *S3) put(ctx context.Context, d time.Duration, in *s3.PutObjectInput, data []byte) (string, error) {
	ctx, cancel := withDeadline(ctx, d)
	defer cancel()
	in.Body = bytes.NewReader(data) // seekable: the client can sign and retry it
	in.ContentLength = aws.Int64(int64(len(data)))
	out, err := s.client.PutObject(ctx, in, s.callOpts)
	if err != nil {
		return "", timedOut(ctx, err)
	}
	return s3ETag(out.ETag), nil
}

// DeleteIf deletes name if its ETag is ifVersion ("" = only if absent, a no-op).
//
// It compares the current ETag first (HeadObject) and then deletes with If-Match. S3 enforces
// If-Match on general purpose buckets, so the delete is atomic there; a store that ignores it
// only gets the comparison.
func (s *S3) DeleteIf(ctx context.Context, name string, ifVersion string) error {
	o, err := s.Stat(ctx, name)
	switch {
	case errors.Is(err, ErrNotExist):
		if ifVersion == "" {
			return nil
		}
		return fmt.Errorf("delete %s: have no object, want version %q: %w", name, ifVersion, ErrPrecondition)
	case errors.Is(err, ErrBadName):
		return fmt.Errorf("delete: %w", err)
	case err != nil:
		return fmt.Errorf("delete %s: %w", name, err)
	}
	if o.Version != ifVersion {
		return fmt.Errorf("delete %s: have version %q, want %q: %w", name, o.Version, ifVersion, ErrPrecondition)
	}
	match, err := s3IfMatch("delete", name, ifVersion)
	if err != nil {
		return err
	}
	err = s.deleteMatch(ctx, s.prefix+name, match)
	if s3NotFound(err) || s3Precondition(err) {
		return fmt.Errorf("delete %s: changed since version %q: %w (%w)", name, ifVersion, ErrPrecondition, err)
	}
	if err != nil {
		return s3Err("delete", name, err)
	}
	return nil
}

// Delete removes name; a missing name is not an error (S3 answers 204 either way).
func (s *S3) Delete(ctx context.Context, name string) error {
	key, err := s.key(name)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	err = s.call(ctx, func(ctx context.Context) error {
		_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key}, s.callOpts)
		return err
	})
	if err != nil && !s3NotFound(err) {
		return s3Err("delete", name, err)
	}
	return nil
}

// deleteMany deletes up to ListPageSize names with one DeleteObjects request (quiet: only
// failures are answered); a name already gone is not an error. It makes removing a run's
// objects one request a page rather than one an object.
func (s *S3) deleteMany(ctx context.Context, names []string) error {
	objs := make([]types.ObjectIdentifier, len(names))
	for i, name := range names {
		key, err := s.key(name)
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		objs[i] = types.ObjectIdentifier{Key: aws.String(key)}
	}
	var out *s3.DeleteObjectsOutput
	err := s.call(ctx, func(ctx context.Context) error {
		var err error
		out, err = s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &s.bucket,
			Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)}}, s.callOpts)
		return err
	})
	if err != nil {
		return s3Err("delete", fmt.Sprintf("%s and %d more", names[0], len(names)-1), err)
	}
	for _, e := range out.Errors {
		if aws.ToString(e.Code) == "NoSuchKey" {
			continue
		}
		return fmt.Errorf("delete %s: %s: %s", strings.TrimPrefix(aws.ToString(e.Key), s.prefix), aws.ToString(e.Code), aws.ToString(e.Message))
	}
	return nil
}

// Move copies src's current ETag to dst on the server (CopyObject with x-amz-copy-source-if-match),
// then deletes src if it still has that ETag (a src rewritten in between is left in place).
// The copy's answer describes dst (a store whose answer names no ETag costs a HEAD of dst).
// Each of its three requests may take OpTimeout. Objects over 5 GiB, which one CopyObject
// cannot copy, are refused; the lake's files stay far below.
func (s *S3) Move(ctx context.Context, src, dst string) (Object, error) {
	if _, err := s.key(dst); err != nil {
		return Object{}, fmt.Errorf("move: %w", err)
	}
	o, err := s.Stat(ctx, src)
	if err != nil {
		return Object{}, fmt.Errorf("move: %w", err)
	}
	if o.Size > s3MaxCopySize {
		return Object{}, fmt.Errorf("move %s to %s: %d bytes, more than the 5 GiB one S3 copy takes", src, dst, o.Size)
	}
	srcKey, dstKey := s.prefix+src, s.prefix+dst
	match, err := s3IfMatch("move", src, o.Version)
	if err != nil {
		return Object{}, err
	}
	var out *s3.CopyObjectOutput
	err = s.call(ctx, func(ctx context.Context) (err error) {
		out, err = s.client.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: &s.bucket, Key: &dstKey, CopySource: aws.String(copySource(s.bucket, srcKey)),
			CopySourceIfMatch: match,
		}, s.callOpts)
		return err
	})
	if err != nil {
		return Object{}, s3Err("move "+src+" to", dst, err)
	}
	err = s.deleteMatch(ctx, srcKey, match)
	if err != nil && !s3NotFound(err) && !s3Precondition(err) {
		return Object{}, fmt.Errorf("move %s to %s: delete source: %w", src, dst, s3Err("delete", src, err))
	}
	moved := Object{Name: dst, Size: o.Size}
	if r := out.CopyObjectResult; r != nil {
		moved.Version, moved.Updated = s3ETag(r.ETag), aws.ToTime(r.LastModified).UTC()
	}
	if moved.Version == "" { // a store that names no ETag in its answer
		return s.Stat(ctx, dst)
	}
	return moved, nil
}

// deleteMatch deletes key with If-Match: match, each request within OpTimeout. S3 enforces it
// on general purpose buckets; a store that answers it with 501 Not Implemented (some
// S3-compatible stores) gets a plain DeleteObject instead, then and on every later call: the
// callers compared the ETag just before, which leaves the race window GCS emulators leave.
func (s *S3) deleteMatch(ctx context.Context, key string, match *string) error {
	del := func(match *string) error {
		return s.call(ctx, func(ctx context.Context) error {
			_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key, IfMatch: match}, s.callOpts)
			return err
		})
	}
	if !s.plainDelete.Load() {
		err := del(match)
		if !s3NotImplemented(err) {
			return err
		}
		s.plainDelete.Store(true)
	}
	return del(nil)
}

// copySource is CopyObject's x-amz-copy-source: bucket/key, each element URL-encoded.
func copySource(bucket, key string) string {
	elems := strings.Split(key, "/")
	for i, e := range elems {
		elems[i] = url.PathEscape(e)
	}
	return bucket + "/" + strings.Join(elems, "/")
}

var _ Store = (*S3)(nil)
