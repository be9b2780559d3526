package storage

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// s3MaxKeys is the most keys one ListObjectsV2 request returns.
const s3MaxKeys = 1000

// Open reads name. Opening and then each Read may take OpTimeout.
func (s *S3) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	return s.open(ctx, name, "")
}

// OpenRange reads length bytes of name from offset, in one ranged GetObject. Opening and then
// each Read may take OpTimeout.
func (s *S3) OpenRange(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	if err := checkRange(offset, length); err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	if length == 0 { // no HTTP range names zero bytes
		if _, err := s.Stat(ctx, name); err != nil {
			return nil, err
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	r, err := s.open(ctx, name, fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	if status, code := s3Code(err); status == http.StatusRequestedRangeNotSatisfiable || code == "InvalidRange" {
		return io.NopCloser(strings.NewReader("")), nil // the offset is at or past the end
	}
	return r, err
}

// open reads name, the bytes of rng ("" for all).
func (s *S3) open(ctx context.Context, name, rng string) (io.ReadCloser, error) {
	key, err := s.key(name)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &key}
	if rng != "" {
		in.Range = &rng
	}
	wd := newWatchdog(ctx)
	var out *s3.GetObjectOutput
	err = wd.guard(s.opts.OpTimeout, "no answer", func() error {
		var err error
		out, err = s.client.GetObject(wd.ctx, in, s.callOpts)
		return err
	})
	if err != nil {
		wd.stop()
		if _, code := s3Code(err); code == "InvalidRange" {
			return nil, err // OpenRange's to decide
		}
		return nil, s3Err("open", name, err)
	}
	return &guardedReader{name: name, body: out.Body, wd: wd, d: s.opts.OpTimeout, wrap: readErr}, nil
}

// List lists the objects below the store's prefix + prefix.
func (s *S3) List(ctx context.Context, prefix string) ([]Object, error) {
	out, _, err := s.list(ctx, prefix, "", 0)
	return out, err
}

// ListPage lists up to pageSize objects below the store's prefix + prefix after the name after
// (ListObjectsV2's StartAfter): one request for pages of up to 1000.
func (s *S3) ListPage(ctx context.Context, prefix, after string, pageSize int) ([]Object, string, error) {
	if pageSize < 1 {
		return nil, "", fmt.Errorf("list: page size %d: %w", pageSize, ErrBadRange)
	}
	return s.list(ctx, prefix, after, pageSize)
}

// list lists the objects below the store's prefix + prefix after the name after, up to limit
// of them (0: all), and returns the last name when it stopped at the limit. Each request may
// take OpTimeout.
func (s *S3) list(ctx context.Context, prefix, after string, limit int) ([]Object, string, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, "", fmt.Errorf("list: %w", err)
	}
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(s.prefix + prefix)}
	if after != "" {
		in.StartAfter = aws.String(s.prefix + after)
	}
	var out []Object
	for {
		in.MaxKeys = aws.Int32(s3MaxKeys)
		if limit > 0 {
			in.MaxKeys = aws.Int32(int32(min(limit-len(out), s3MaxKeys)))
		}
		var page *s3.ListObjectsV2Output
		err := s.call(ctx, func(ctx context.Context) (err error) {
			page, err = s.client.ListObjectsV2(ctx, in, s.callOpts)
			return err
		})
		if err != nil {
			return nil, "", s3Err("list", fmt.Sprintf("%s %q", s.URL(), prefix), err)
		}
		for _, c := range page.Contents {
			name := strings.TrimPrefix(aws.ToString(c.Key), s.prefix)
			if checkName(name) != nil || strings.HasPrefix(name, s3ProbePrefix) {
				continue // folder placeholders ("dir/"), names this store cannot address, probes
			}
			out = append(out, Object{Name: name, Size: aws.ToInt64(c.Size), Version: s3ETag(c.ETag), Updated: aws.ToTime(c.LastModified).UTC()})
		}
		if !aws.ToBool(page.IsTruncated) || (limit > 0 && len(out) >= limit) {
			break
		}
		in.ContinuationToken = page.NextContinuationToken
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if limit > 0 && len(out) == limit {
		return out, out[len(out)-1].Name, nil
	}
	return out, "", nil
}
