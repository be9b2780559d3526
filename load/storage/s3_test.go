package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
)

// s3Servers are the real S3 implementations the S3 store is tested on: moto's server (a
// process; skipped without it, except under CI=true) and gofakes3 (in this process).
var s3Servers = []struct {
	name  string
	start func(t testing.TB, buckets ...string) (string, *s3.Client)
}{
	{"moto", storagetest.StartMoto},
	{"gofakes3", storagetest.StartGoFakeS3},
}

// TestMotoEnforcesConditions checks, with the raw client and no code of ours, that the
// emulator answers 412 to violated write and delete conditions. Without this, the suite's
// PutIf and DeleteIf tests could pass on the emulator only because of our own checks.
func TestMotoEnforcesConditions(t *testing.T) {
	ctx := t.Context()
	_, client := storagetest.StartMoto(t, "pre")
	put := func(in *s3.PutObjectInput) (string, error) {
		in.Bucket, in.Key, in.Body = aws.String("pre"), aws.String("x"), strings.NewReader("data")
		out, err := client.PutObject(ctx, in)
		if err != nil {
			return "", err
		}
		return aws.ToString(out.ETag), nil
	}
	etag, err := put(&s3.PutObjectInput{IfNoneMatch: aws.String("*")})
	if err != nil {
		t.Fatalf("create with If-None-Match: %v", err)
	}
	status := func(err error) int {
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) {
			return re.HTTPStatusCode()
		}
		return 0
	}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"If-None-Match: * on an existing object", func() error { _, err := put(&s3.PutObjectInput{IfNoneMatch: aws.String("*")}); return err }()},
		{"If-Match with another ETag", func() error { _, err := put(&s3.PutObjectInput{IfMatch: aws.String(`"0123"`)}); return err }()},
		{"DeleteObject If-Match with another ETag", func() error {
			_, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("pre"), Key: aws.String("x"), IfMatch: aws.String(`"0123"`)})
			return err
		}()},
	} {
		if status(tc.err) != http.StatusPreconditionFailed {
			t.Errorf("%s: error %v, want HTTP 412", tc.name, tc.err)
		}
	}
	if _, err := put(&s3.PutObjectInput{IfMatch: aws.String(etag)}); err != nil {
		t.Fatalf("If-Match with the current ETag: %v", err)
	}
}

// stripping is a real HTTP reverse proxy in front of target that removes header from every
// request: an S3 store that ignores that condition.
func stripping(t *testing.T, target, header string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	direct := p.Director
	p.Director = func(r *http.Request) {
		direct(r)
		r.Header.Del(header)
	}
	srv := &http.Server{Handler: p}
	l := listen(t)
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

// TestS3RefusesIgnoredConditions: a store that ignores If-None-Match or If-Match on PutObject
// is refused at the first PutIf, with an error matching errors.ErrUnsupported that says so,
// every time after; the probe leaves no object behind, and no PutIf wrote anything.
func TestS3RefusesIgnoredConditions(t *testing.T) {
	for _, srv := range s3Servers {
		t.Run(srv.name, func(t *testing.T) {
			endpoint, client := srv.start(t, "ignore")
			testRefusesIgnoredConditions(t, endpoint, client)
		})
	}
}

func testRefusesIgnoredConditions(t *testing.T, endpoint string, client *s3.Client) {
	for _, header := range []string{"If-None-Match", "If-Match"} {
		t.Run(header, func(t *testing.T) {
			proxied := storagetest.MotoClient(stripping(t, endpoint, header))
			prefix := "lake-" + strings.ToLower(header)
			s := storage.NewS3(proxied, "ignore", prefix)
			for i := range 2 {
				_, err := s.PutIf(t.Context(), "_chatlake/state.json", []byte("{}"), "")
				if !errors.Is(err, errors.ErrUnsupported) || errors.Is(err, storage.ErrPrecondition) ||
					!strings.Contains(err.Error(), "ignores conditional writes") || !strings.Contains(err.Error(), header) {
					t.Fatalf("PutIf %d through a store that ignores %s: %v, want errors.ErrUnsupported naming it", i, header, err)
				}
			}
			out, err := client.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String("ignore"), Prefix: aws.String(prefix)})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Contents) != 0 {
				t.Fatalf("left %d objects, e.g. %s", len(out.Contents), aws.ToString(out.Contents[0].Key))
			}
		})
	}
	// A store that refuses conditional PutObjects with 501 is refused too, and asked once.
	var refused atomic.Int64
	s501 := storage.NewS3(storagetest.MotoClient(notImplementing(t, endpoint, http.MethodPut, &refused)), "ignore", "lake-501")
	for i := range 2 {
		_, err := s501.PutIf(t.Context(), "_chatlake/state.json", []byte("{}"), "")
		if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "does not implement conditional writes") {
			t.Fatalf("PutIf %d through a store that answers 501: %v, want errors.ErrUnsupported saying so", i, err)
		}
	}
	if refused.Load() != 1 {
		t.Errorf("the store was asked %d times, want once", refused.Load())
	}
	// The same server without the proxy is accepted.
	s := storage.NewS3(client, "ignore", "direct")
	if _, err := s.PutIf(t.Context(), "_chatlake/state.json", []byte("{}"), ""); err != nil {
		t.Fatalf("PutIf on the server itself: %v", err)
	}
}

// noConditionalDelete is a real HTTP reverse proxy in front of target that answers every
// DeleteObject with If-Match as an S3-compatible store without conditional deletes does (501
// NotImplemented), and passes everything else on. It counts the refusals.
func noConditionalDelete(t *testing.T, target string, refused *atomic.Int64) string {
	t.Helper()
	return notImplementing(t, target, http.MethodDelete, refused)
}

// notImplementing is a real HTTP reverse proxy in front of target that answers 501
// NotImplemented to every request of method with an If-Match or If-None-Match header, as an
// S3-compatible store without those conditions does, and passes everything else on.
func notImplementing(t *testing.T, target, method string, refused *atomic.Int64) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == method && (r.Header.Get("If-Match") != "" || r.Header.Get("If-None-Match") != "") {
			refused.Add(1)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusNotImplemented)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code><Message>A header you provided implies functionality that is not implemented</Message><Header>If-Match</Header></Error>`)
			return
		}
		p.ServeHTTP(w, r)
	})}
	l := listen(t)
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

// TestS3WithoutConditionalDelete: on a store that refuses If-Match on DeleteObject with 501,
// the S3 store passes the conformance suite (DeleteIf and Move delete after comparing the
// ETag), and asks once per store, not at every delete.
func TestS3WithoutConditionalDelete(t *testing.T) {
	for _, srv := range s3Servers {
		t.Run(srv.name, func(t *testing.T) {
			endpoint, _ := srv.start(t, "lake")
			var refused atomic.Int64
			client := storagetest.MotoClient(noConditionalDelete(t, endpoint, &refused))
			n := 0
			storagetest.Run(t, func(t *testing.T) storage.Store {
				n++
				return storage.NewS3(client, "lake", fmt.Sprintf("runs/%d/", n))
			})
			if got := refused.Load(); got == 0 || got > int64(n) {
				t.Errorf("%d conditional deletes refused over %d stores: want at least one, at most one a store", got, n)
			}
		})
	}
}

// uploads counts the unfinished multipart uploads of bucket.
func uploads(t *testing.T, client *s3.Client, bucket string) int {
	t.Helper()
	out, err := client.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

// TestS3Multipart: a write larger than a part is a multipart upload that nothing sees before
// Close (no object, no listing), which Close completes whole; Abort, a failed Close and the
// end of the context abort the upload, leaving no unfinished upload behind.
func TestS3Multipart(t *testing.T) {
	for _, srv := range s3Servers {
		t.Run(srv.name, func(t *testing.T) {
			_, client := srv.start(t, "multi")
			testMultipart(t, client)
		})
	}
}

func testMultipart(t *testing.T, client *s3.Client) {
	data := bytes.Repeat([]byte("0123456789abcdef"), (19<<20)/16) // 19 MiB: 3 parts
	for _, tc := range []struct {
		name string
		end  func(w storage.Writer, cancel context.CancelFunc) error // nil error: the write must be visible
	}{
		{"Close", func(w storage.Writer, _ context.CancelFunc) error { return w.Close() }},
		{"Abort", func(w storage.Writer, _ context.CancelFunc) error {
			if err := w.Abort(); err != nil {
				return fmt.Errorf("Abort: %v", err)
			}
			return errors.New("aborted")
		}},
		{"cancelled then Close", func(w storage.Writer, cancel context.CancelFunc) error {
			cancel()
			if err := w.Close(); err == nil {
				return nil
			}
			return errors.New("cancelled")
		}},
		{"cancelled, never closed", func(w storage.Writer, cancel context.CancelFunc) error {
			cancel()
			return errors.New("cancelled")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := storage.NewS3(client, "multi", strings.ReplaceAll(tc.name, " ", "-"))
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			w, err := s.Create(ctx, "dt=2024-05-01/part-0.parquet")
			if err != nil {
				t.Fatal(err)
			}
			for off := 0; off < len(data); off += 1 << 20 {
				if _, err := w.Write(data[off:min(off+1<<20, len(data))]); err != nil {
					t.Fatal(err)
				}
			}
			if n := uploads(t, client, "multi"); n != 1 {
				t.Fatalf("%d unfinished uploads before the end, want 1 (a multipart upload)", n)
			}
			if objs, err := s.List(t.Context(), ""); err != nil || len(objs) != 0 {
				t.Fatalf("List before the end = %v, %v; want nothing", objs, err)
			}
			if _, err := s.Stat(t.Context(), "dt=2024-05-01/part-0.parquet"); !errors.Is(err, storage.ErrNotExist) {
				t.Fatalf("Stat before the end: %v, want ErrNotExist", err)
			}
			endErr := tc.end(w, cancel)
			deadline := time.Now().Add(10 * time.Second) // the context's end aborts in the background
			for uploads(t, client, "multi") != 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if n := uploads(t, client, "multi"); n != 0 {
				t.Fatalf("%d unfinished uploads after the end, want 0", n)
			}
			got, _, err := s.Get(t.Context(), "dt=2024-05-01/part-0.parquet")
			switch {
			case endErr == nil && (err != nil || !bytes.Equal(got, data)):
				t.Fatalf("after Close: %d bytes, %v; want the %d written", len(got), err, len(data))
			case endErr != nil && !errors.Is(err, storage.ErrNotExist):
				t.Fatalf("after %s: Get = %d bytes, %v; want ErrNotExist", endErr, len(got), err)
			}
		})
	}
}

// TestS3Open opens s3:// URLs through the standard AWS configuration (the environment), an
// endpoint and path-style addressing, as the command does.
func TestS3Open(t *testing.T) {
	endpoint, client := storagetest.StartMoto(t, "open-lake", "open-empty")
	for _, kv := range storagetest.MotoEnv() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	if _, err := client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("open-lake"), Key: aws.String("chat/_chatlake/state.json"), Body: strings.NewReader("{}")}); err != nil {
		t.Fatal(err)
	}
	opts := func(mustExist bool) *storage.OpenOptions {
		return &storage.OpenOptions{S3Endpoint: endpoint, S3PathStyle: true, MustExist: mustExist}
	}
	for _, tc := range []struct {
		url       string
		mustExist bool
		want      error // nil: opens
	}{
		{"s3://open-lake/chat", true, nil},
		{"s3://open-lake/chat/", true, nil},
		{"s3://open-lake", true, nil},
		{"s3://open-lake/cha", true, storage.ErrNotExist},
		{"s3://open-lake/new", true, storage.ErrNotExist},
		{"s3://open-lake/new", false, nil},
		{"s3://open-empty", true, storage.ErrNotExist},
		{"s3://no-such-bucket/chat", false, storage.ErrNotExist},
	} {
		s, err := storage.Open(t.Context(), tc.url, opts(tc.mustExist))
		if tc.want == nil && err != nil {
			t.Errorf("Open(%s, MustExist %v): %v", tc.url, tc.mustExist, err)
		}
		if tc.want != nil && (!errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.url)) {
			t.Errorf("Open(%s, MustExist %v) = %v, want an error naming the URL that matches %v", tc.url, tc.mustExist, err, tc.want)
		}
		if err == nil && s.URL() != strings.TrimSuffix(tc.url, "/") {
			t.Errorf("Open(%s).URL() = %s", tc.url, s.URL())
		}
	}
	s, err := storage.Open(t.Context(), "s3://open-lake/chat", opts(true))
	if err != nil {
		t.Fatal(err)
	}
	b, v, err := s.Get(t.Context(), "_chatlake/state.json")
	if err != nil || string(b) != "{}" || v == "" {
		t.Fatalf("Get through Open = %q, %q, %v", b, v, err)
	}
	// Another client of the bucket (the Iceberg FileIO) gets the store's settings.
	want := storage.Access{Scheme: "s3", Bucket: "open-lake", Prefix: "chat", S3Endpoint: endpoint, S3PathStyle: true, S3Region: storagetest.MotoRegion}
	if a, ok := s.(*storage.S3).Access(); !ok || !reflect.DeepEqual(a, want) {
		t.Errorf("Access() = %+v, %v; want %+v", a, ok, want)
	}
	for _, bad := range []struct{ url, ep string }{
		{"s3://", ""}, {"s3:///prefix", ""}, {"s3://b/../x", ""},
		{"s3://open-lake/chat", "127.0.0.1:9000"}, {"s3://open-lake/chat", "ftp://host"},
		{"s3://open-lake/chat", "http://user:pass@host"},
	} {
		if _, err := storage.Open(t.Context(), bad.url, &storage.OpenOptions{S3Endpoint: bad.ep}); err == nil {
			t.Errorf("Open(%s, endpoint %q) succeeded", bad.url, bad.ep)
		} else if strings.Contains(err.Error(), "pass") {
			t.Errorf("Open(%s, endpoint %q): error %q repeats the endpoint's password", bad.url, bad.ep, err)
		}
	}
}

// TestS3BucketRegion: without a configured region, the bucket's own is used (HeadBucket).
func TestS3BucketRegion(t *testing.T) {
	_, client := storagetest.StartMoto(t)
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{
		Bucket:                    aws.String("far-away"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest3},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := storage.BucketRegion(t.Context(), client, "far-away", 10*time.Second)
	if err != nil || got != "eu-west-3" {
		t.Fatalf("bucket region = %q, %v; want eu-west-3", got, err)
	}
}

// listen is a loopback listener closed when the test ends.
func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestS3Permission: a store that refuses the credentials (moto checking them: HTTP 403) gives
// errors matching ErrPermission, from Open and from every call, none showing the secret key.
func TestS3Permission(t *testing.T) {
	endpoint, client := storagetest.StartMotoEnv(t, []string{"INITIAL_NO_AUTH_ACTION_COUNT=0"})
	for _, kv := range storagetest.MotoEnv() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	var errs []error
	_, err := storage.Open(t.Context(), "s3://locked/chat", &storage.OpenOptions{S3Endpoint: endpoint, S3PathStyle: true})
	errs = append(errs, err)
	s := storage.NewS3(client, "locked", "chat")
	for _, c := range storeCalls {
		errs = append(errs, c.call(t.Context(), s))
	}
	for i, err := range errs {
		if !errors.Is(err, storage.ErrPermission) {
			t.Errorf("call %d: %v, want ErrPermission", i, err)
		}
		if err != nil && strings.Contains(err.Error(), storagetest.MotoSecretKey) {
			t.Errorf("call %d: error %q shows the secret key", i, err)
		}
	}
}
