package storagetest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	gcs "cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"
)

// StartFakeGCS starts fake-gcs-server in this process on a loopback port over plain HTTP,
// creates bucket, and returns the server's "127.0.0.1:PORT" (the value a child process puts in
// STORAGE_EMULATOR_HOST) and a client pointed at it the way storage.NewClient points itself
// when STORAGE_EMULATOR_HOST is set: JSON API at http://host/storage/v1/, no authentication,
// and object reads through the XML API at http://host/bucket/object. The server is told that
// host:port is its public host, which is what makes those XML reads route to downloadObject
// (it otherwise answers them only for storage.googleapis.com). Both are stopped by t.Cleanup.
func StartFakeGCS(t testing.TB, bucket string) (host string, client *gcs.Client) {
	t.Helper()
	return StartFakeGCSWrapped(t, bucket, nil)
}

// StartFakeGCSWrapped is StartFakeGCS with wrap (nil: none) in front of the server's handler,
// so that a test sees every request any client makes (a benchmark counts uploads with it).
func StartFakeGCSWrapped(t testing.TB, bucket string, wrap func(http.Handler) http.Handler) (host string, client *gcs.Client) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fake GCS: listen: %v", err)
	}
	host = l.Addr().String()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		NoListener:  true, // we serve its handler on our own listener, whose port we know
		Scheme:      "http",
		PublicHost:  host,
		ExternalURL: "http://" + host,
	})
	if err != nil {
		l.Close()
		t.Fatalf("fake GCS: %v", err)
	}
	h := srv.HTTPHandler()
	if wrap != nil {
		h = wrap(h)
	}
	hs := &httptest.Server{Listener: l, Config: &http.Server{Handler: h}}
	hs.Start()
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})

	client, err = gcs.NewClient(context.Background(),
		option.WithEndpoint("http://"+host+"/storage/v1/"),
		option.WithoutAuthentication(),
	)
	if err != nil {
		hs.Close()
		srv.Stop()
		t.Fatalf("fake GCS: client: %v", err)
	}
	t.Cleanup(func() {
		client.Close()
		hs.Close()
		srv.Stop()
	})
	return host, client
}
