package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// s3ProbePrefix starts the name of the object that probes conditional writes (see S3.probe);
// List never shows it.
const s3ProbePrefix = ".chatlake-probe-"

// s3DefaultRegion is the region of a bucket that reports none (an S3-compatible store that
// does not know regions).
const s3DefaultRegion = "us-east-1"

// checkS3Endpoint validates OpenOptions.S3Endpoint: "" or an http(s) URL without credentials
// (its error never repeats the URL, which could hold them).
func checkS3Endpoint(ep string) error {
	if ep == "" {
		return nil
	}
	u, err := url.Parse(ep)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		return fmt.Errorf("storage options: S3Endpoint is not an http:// or https:// URL with a host")
	case u.User != nil:
		return fmt.Errorf("storage options: S3Endpoint holds user info; credentials come from the AWS configuration")
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("storage options: S3Endpoint has a query or fragment")
	}
	return nil
}

// openS3 opens s3://bucket/prefix: a client from the options (or the caller's), the bucket's
// region when none is configured, and one listing within ProbeTimeout.
func openS3(ctx context.Context, rawURL string, u *url.URL, o *OpenOptions) (Store, error) {
	if u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("open store %q: no bucket (want s3://bucket/prefix)", rawURL)
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		if err := checkName(prefix); err != nil {
			return nil, fmt.Errorf("open store %q: prefix: %w", rawURL, err)
		}
	}
	probeTimeout := orDefault(o.ProbeTimeout, DefaultProbeTimeout)
	client := o.S3Client
	if client == nil {
		c, err := newS3Client(ctx, u.Host, o, probeTimeout)
		if err != nil {
			return nil, fmt.Errorf("open store %q: %w", rawURL, err)
		}
		client = c
	}
	s, err := NewS3WithOptions(client, u.Host, prefix, o.s3())
	if err != nil { // unreachable: Open checked the options
		return nil, fmt.Errorf("open store %q: %w", rawURL, err)
	}
	found, err := s.reach(ctx, probeTimeout)
	switch {
	case err != nil && s3ErrCode(err) == "NoSuchBucket":
		err = fmt.Errorf("bucket %q: %w (%w)", u.Host, ErrNotExist, err)
	case err != nil && s3Forbidden(err):
		err = fmt.Errorf("bucket %q: %w (%w)", u.Host, ErrPermission, err)
	case err != nil:
		err = fmt.Errorf("bucket %q not reachable: %w", u.Host, err)
	case !found && o.MustExist:
		err = fmt.Errorf("%w: no object below s3://%s/%s", ErrNotExist, u.Host, prefix)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %q: %w", rawURL, err)
	}
	return s, nil
}

func s3ErrCode(err error) string {
	_, code := s3Code(err)
	return code
}

// newS3Client makes a client from the standard AWS configuration and the options. Without a
// configured region it asks the bucket for its own, within d.
func newS3Client(ctx context.Context, bucket string, o *OpenOptions, d time.Duration) (*s3.Client, error) {
	var load []func(*config.LoadOptions) error
	if o.S3Region != "" {
		load = append(load, config.WithRegion(o.S3Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	settings := func(so *s3.Options) {
		if o.S3Endpoint != "" {
			so.BaseEndpoint = aws.String(o.S3Endpoint)
		}
		so.UsePathStyle = o.S3PathStyle
	}
	if cfg.Region == "" {
		cfg.Region = s3DefaultRegion
		region, err := bucketRegion(ctx, s3.NewFromConfig(cfg, settings), bucket, d)
		if err != nil {
			return nil, err
		}
		if region != "" {
			cfg.Region = region
		}
	}
	return s3.NewFromConfig(cfg, settings), nil
}

// bucketRegion asks the bucket for its region (HeadBucket's x-amz-bucket-region, which S3
// sends also with a redirect or a refusal), within d; "" if it says none.
func bucketRegion(ctx context.Context, c *s3.Client, bucket string, d time.Duration) (string, error) {
	ctx, cancel := withDeadline(ctx, d)
	defer cancel()
	out, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket}, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	if err == nil {
		return aws.ToString(out.BucketRegion), nil
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		if r := re.Response.Header.Get("X-Amz-Bucket-Region"); r != "" {
			return r, nil
		}
		return "", nil // the bucket's own answer, without a region: Open's listing will say more
	}
	return "", fmt.Errorf("bucket %q not reachable: region: %w", bucket, timedOut(ctx, err))
}

// reach lists at most one object below the prefix, within d: it needs the same permission as
// List. It reports whether there was one.
func (s *S3) reach(ctx context.Context, d time.Duration) (found bool, err error) {
	ctx, cancel := withDeadline(ctx, d)
	defer cancel()
	out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &s.prefix, MaxKeys: aws.Int32(1)}, s.callOpts)
	if err != nil {
		return false, timedOut(ctx, err)
	}
	return len(out.Contents) > 0, nil
}

// probe checks, once per store, that the store enforces conditional writes: a create-only
// PutObject of a new probe object must succeed, a second one must fail with 412 (or 409), and
// so must an If-Match with an ETag the object does not have; then the probe object is deleted.
// A store that ignores a condition is refused with an error matching errors.ErrUnsupported
// (remembered: every later PutIf gets it); an error of the probe itself (a timeout, a refusal)
// is returned and the next PutIf probes again.
func (s *S3) probe(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.probed == errProbeOK {
		return nil
	}
	if s.probed != nil {
		return s.probed
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	key := s.prefix + s3ProbePrefix + hex.EncodeToString(b[:])
	put := func(cond func(*s3.PutObjectInput)) error {
		in := &s3.PutObjectInput{Bucket: &s.bucket, Key: &key}
		cond(in)
		_, err := s.put(ctx, s.opts.OpTimeout, in, []byte("chatlake probe of conditional writes\n"))
		return err
	}
	if err := put(func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") }); err != nil {
		if s3NotImplemented(err) {
			s.probed = fmt.Errorf("%s does not implement conditional writes (a PutObject with If-None-Match: * was refused: %w): the lake's lock and state need them: %w",
				s.URL(), err, errors.ErrUnsupported)
			return s.probed
		}
		return s3Err("probe of conditional writes: put", key, err)
	}
	defer func() {
		_ = s.call(context.WithoutCancel(ctx), func(ctx context.Context) error {
			_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key}, s.callOpts)
			return err
		})
	}()
	for _, c := range []struct {
		header string
		cond   func(*s3.PutObjectInput)
	}{
		{"If-None-Match: *", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") }},
		{"If-Match with another ETag", func(in *s3.PutObjectInput) { in.IfMatch = aws.String(`"00000000000000000000000000000000"`) }},
	} {
		err := put(c.cond)
		if err == nil {
			s.probed = fmt.Errorf("%s ignores conditional writes (a PutObject with %s over an existing object succeeded): the lake's lock and state need them: %w",
				s.URL(), c.header, errors.ErrUnsupported)
			return s.probed
		}
		if s3NotImplemented(err) {
			s.probed = fmt.Errorf("%s does not implement conditional writes (a PutObject with %s was refused: %w): the lake's lock and state need them: %w",
				s.URL(), c.header, err, errors.ErrUnsupported)
			return s.probed
		}
		if !s3Precondition(err) {
			return s3Err("probe of conditional writes: put", key, err)
		}
	}
	s.probed = errProbeOK
	return nil
}
