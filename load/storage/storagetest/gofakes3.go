package storagetest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// StartGoFakeS3 serves gofakes3 (an S3 server in Go, in memory) in this process on a loopback
// port, creates buckets, and returns its endpoint and a path-style client, as StartMoto does;
// both are stopped by t.Cleanup. It is the S3 implementation that every machine has (moto needs
// Python): it enforces If-None-Match and If-Match on PutObject but ignores If-Match on
// DeleteObject, so only S3.DeleteIf's own comparison guards a conditional delete on it.
func StartGoFakeS3(t testing.TB, buckets ...string) (endpoint string, client *s3.Client) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("gofakes3: listen: %v", err)
	}
	backend := s3mem.New()
	hs := &httptest.Server{Listener: l, Config: &http.Server{Handler: gofakes3.New(backend).Server()}}
	hs.Start()
	t.Cleanup(hs.Close)
	endpoint = "http://" + l.Addr().String()
	client = MotoClient(endpoint)
	for _, b := range buckets {
		if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("gofakes3: create bucket %s: %v", b, err)
		}
	}
	return endpoint, client
}
