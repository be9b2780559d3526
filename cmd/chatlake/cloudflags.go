package main

import (
	"net/url"
	"strings"

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

// azureFlags are the settings of an az:// lake, shared by every command that opens a lake. A
// connection string (AZURE_STORAGE_CONNECTION_STRING) takes their place; without them the
// storage package reads AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_SAS_TOKEN, and without a SAS
// token it uses Azure's default credentials (environment, workload or managed identity).
type azureFlags struct{ account, sasFile, endpoint string }

// options is the rows of the Azure flags, for every command that opens a lake.
func (f *azureFlags) options() []option {
	return []option{
		stringOpt(&f.account, "azure-account", "NAME", "storage account of an az://CONTAINER/PREFIX lake; default: $"+storage.EnvAzureAccount+" (a connection string in $"+storage.EnvAzureConnectionString+" names its own)", accountCheck),
		stringOpt(&f.sasFile, "azure-sas-file", "PATH", "file holding a SAS token for an az:// lake; default: $"+storage.EnvAzureSASToken+"; without either, Azure's default credentials (environment, workload identity, managed identity)", fileCheck),
		stringOpt(&f.endpoint, "azure-endpoint", "URL", "blob service URL of an az:// lake, for another cloud, a private endpoint or an emulator; default https://ACCOUNT.blob.core.windows.net/", endpointCheck),
	}
}

// apply sets the flags in o: pass it to openLake.
func (f *azureFlags) apply(o *storage.OpenOptions) {
	o.AzureAccount, o.AzureSASFile, o.AzureEndpoint = f.account, f.sasFile, f.endpoint
}

// accountCheck refuses what cannot be an Azure storage account's name: 3 to 24 lowercase
// letters and digits.
func accountCheck(s string) error {
	if s == "" {
		return nil
	}
	if len(s) < 3 || len(s) > 24 || strings.TrimLeft(s, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		return &boundError{s, "3 to 24 lowercase letters and digits (an Azure storage account's name)"}
	}
	return nil
}

// endpointCheck refuses an endpoint that is not an http(s) URL with a host, or that holds
// credentials (which come from the environment or a file, and which the error does not repeat).
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
		return &boundError{"the value", want + " (credentials come from the environment or a file, not the URL)"}
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.RawQuery != "" || u.Fragment != "" {
		return &boundError{s, want}
	}
	return nil
}
