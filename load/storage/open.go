package storage

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
)

// hasScheme reports whether s starts with a URL scheme ("s3:", "gs:", "file:").
func hasScheme(s string) bool {
	i := strings.IndexByte(s, ':')
	if i < 1 {
		return false
	}
	for j, c := range s[:i] {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (j == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-')) {
			return false
		}
	}
	return true
}

// Open opens the store named by rawURL:
//
//   - "gs://bucket" or "gs://bucket/prefix": GCS; the bucket must be reachable (one object
//     listing is tried, bounded by ProbeTimeout, default 15 s).
//   - "s3://bucket" or "s3://bucket/prefix": S3 (or an S3-compatible store, OpenOptions.S3Endpoint);
//     the bucket must be reachable (one listing, bounded by ProbeTimeout).
//   - "az://container/prefix" (or azure://, or az://ACCOUNT.blob.core.windows.net/container/prefix):
//     Azure Blob Storage; probed like gs:// (credentials: OpenOptions.AzureClient).
//   - "file:///abs/dir", "/abs/dir" or a relative directory: Local.
//
// Any other form, and invalid options, are an error naming the URL. With MustExist, a lake
// that does not exist is an error matching ErrNotExist and nothing is created.
func Open(ctx context.Context, rawURL string, o *OpenOptions) (Store, error) {
	if o == nil {
		o = &OpenOptions{}
	}
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("open store %q: %w", rawURL, err)
	}
	if strings.TrimSpace(rawURL) == "" {
		return nil, fmt.Errorf("open store %q: empty URL", rawURL)
	}
	if !hasScheme(rawURL) {
		return openLocal(rawURL, rawURL, o)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open store %q: %w", rawURL, err)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("open store %q: query, fragment or user info not supported", rawURL)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("open store %q: file URL with host %q (want file:///abs/dir)", rawURL, u.Host)
		}
		if !strings.HasPrefix(u.Path, "/") {
			return nil, fmt.Errorf("open store %q: file URL needs an absolute path (file:///abs/dir)", rawURL)
		}
		return openLocal(rawURL, u.Path, o)
	case "gs":
		return openGCS(ctx, rawURL, u, o)
	case "s3":
		return openS3(ctx, rawURL, u, o)
	case "az", "azure":
		return openAzure(ctx, rawURL, u, o)
	default:
		return nil, fmt.Errorf("open store %q: unsupported scheme %q (want gs://, s3://, az://, file:// or a directory)", rawURL, u.Scheme)
	}
}

func openLocal(rawURL, dir string, o *OpenOptions) (Store, error) {
	l, err := NewLocalWithOptions(dir, o.local())
	if err != nil {
		return nil, fmt.Errorf("open store %q: %w", rawURL, err)
	}
	return l, nil
}

func openGCS(ctx context.Context, rawURL string, u *url.URL, o *OpenOptions) (Store, error) {
	if u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("open store %q: no bucket (want gs://bucket/prefix)", rawURL)
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		if err := checkName(prefix); err != nil {
			return nil, fmt.Errorf("open store %q: prefix: %w", rawURL, err)
		}
	}
	client := o.GCSClient
	owned := client == nil
	if owned {
		c, err := storage.NewClient(ctx)
		if err != nil {
			return nil, fmt.Errorf("open store %q: %w", rawURL, err)
		}
		client = c
	}
	g, err := NewGCSWithOptions(client, u.Host, prefix, o.gcs())
	if err != nil { // unreachable: Open checked the options
		if owned {
			client.Close()
		}
		return nil, fmt.Errorf("open store %q: %w", rawURL, err)
	}
	found, err := g.probe(ctx, orDefault(o.ProbeTimeout, DefaultProbeTimeout))
	if err == nil && !found && o.MustExist {
		err = fmt.Errorf("%w: no object below gs://%s/%s", ErrNotExist, u.Host, prefix)
	} else if err != nil {
		err = fmt.Errorf("bucket %q not reachable: %w", u.Host, err)
	}
	if err != nil {
		if owned {
			client.Close()
		}
		return nil, fmt.Errorf("open store %q: %w", rawURL, err)
	}
	if owned {
		return &ownedGCS{g}, nil
	}
	return g, nil
}

// probe lists at most one object below the prefix, within d: it needs the same permission as
// List. It reports whether there was one.
func (g *GCS) probe(ctx context.Context, d time.Duration) (found bool, err error) {
	ctx, cancel := withDeadline(ctx, d)
	defer cancel()
	it := g.bucket.Objects(ctx, &storage.Query{Prefix: g.prefix})
	it.PageInfo().MaxSize = 1
	_, err = it.Next()
	if errors.Is(err, iterator.Done) {
		return false, nil
	}
	if err != nil {
		return false, timedOut(ctx, err)
	}
	return true, nil
}

// ownedGCS is a GCS store that owns its client and closes it.
type ownedGCS struct{ *GCS }

// Close releases the client.
func (g *ownedGCS) Close() error { return g.client.Close() }
