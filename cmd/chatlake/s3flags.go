package main

import (
	"net/url"

	"github.com/chatlake/chatlake/load/storage"
)

// s3Flags are the settings of an s3:// lake that the standard AWS configuration (credentials,
// profile, region) does not give: where an S3-compatible store is and how it names buckets.
type s3Flags struct {
	endpoint, region string
	pathStyle        bool
}

// options is the rows of the S3 flags, for every command that opens a lake.
func (f *s3Flags) options() []option {
	endpoint := stringOpt(&f.endpoint, "s3-endpoint", "URL", "base URL of the S3-compatible store of an s3:// lake (MinIO, Cloudflare R2, Ceph RGW), e.g. http://minio:9000 or https://ACCOUNT.r2.cloudflarestorage.com; default: AWS S3 (or AWS_ENDPOINT_URL_S3)", endpointCheck)
	endpoint.field = "S3Endpoint"
	region := stringOpt(&f.region, "s3-region", "REGION", "region of the s3:// lake's bucket; default: the AWS configuration's (AWS_REGION, the profile), else the bucket's own, else us-east-1 (R2: auto)", nil)
	region.field = "S3Region"
	pathStyle := boolOpt(&f.pathStyle, "s3-path-style", "address the s3:// lake's bucket as ENDPOINT/BUCKET (path style), as MinIO and Ceph need, instead of BUCKET.ENDPOINT")
	pathStyle.field = "S3PathStyle"
	return []option{endpoint, pathStyle, region}
}

// apply sets the flags in o: pass it to openLake.
func (f *s3Flags) apply(o *storage.OpenOptions) {
	o.S3Endpoint, o.S3PathStyle, o.S3Region = f.endpoint, f.pathStyle, f.region
}

// endpointCheck refuses an endpoint that is not an http(s) URL with a host, or that holds
// credentials (which come from the AWS configuration, and which the error does not repeat).
func endpointCheck(s string) error {
	if s == "" {
		return nil
	}
	const want = "an http:// or https:// URL with a host, without user info, query or fragment"
	u, err := url.Parse(s)
	if err != nil {
		return &boundError{"the value", want}
	}
	if u.User != nil { // not repeated: user info holds a key, whole or in part
		return &boundError{"the value", want + " (credentials come from the AWS configuration)"}
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.RawQuery != "" || u.Fragment != "" {
		return &boundError{s, want}
	}
	return nil
}
