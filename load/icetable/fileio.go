package icetable

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	iceio "github.com/apache/iceberg-go/io"
	_ "github.com/apache/iceberg-go/io/gocloud/azure" // registers abfs[s]:// and wasb[s]:// with iceberg-go's FileIO registry
	_ "github.com/apache/iceberg-go/io/gocloud/gcs"   // registers gs://
	_ "github.com/apache/iceberg-go/io/gocloud/s3"    // registers s3://, s3a://, s3n://

	"github.com/chatlake/chatlake/load/storage"
)

// ADLSHostSuffix ends the host of the abfss:// URIs an Iceberg table on Azure records:
// abfss://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH, the form Spark's and Trino's ABFS file
// systems and Iceberg's ADLSFileIO read.
const ADLSHostSuffix = ".dfs.core.windows.net"

// StoreIO returns, for a lake on a cloud store reached as a says, the URI of the store's root
// as Iceberg metadata records it (no trailing slash) and the FileIO properties (Config.Props)
// that make iceberg-go's FileIO reach the same bucket with the same settings:
//
//	gs://BUCKET/PREFIX                              STORAGE_EMULATOR_HOST: gcs.no-auth and gcs.endpoint
//	s3://BUCKET/PREFIX                              s3.region, s3.endpoint, s3.force-virtual-addressing
//	abfss://CONTAINER@ACCOUNT.dfs.core.windows.net/PREFIX
//	                                                adls.connection-string.ACCOUNT (the store's
//	                                                connection string, or its blob endpoint and
//	                                                SAS token), else adls.endpoint and adls.protocol
//
// Credentials other than Azure's are not in the properties: iceberg-go finds them where the
// store's client does (the standard AWS configuration, Google's application default
// credentials). Azure's are secrets: the properties must not be printed, and errors of the
// catalog go through a.Redact (Config.Redact). An Azure store whose account is unknown, or
// whose endpoint iceberg-go cannot express without a connection string, is an error.
func StoreIO(a storage.Access) (root string, props map[string]string, err error) {
	path := ""
	if a.Prefix != "" {
		path = "/" + a.Prefix
	}
	switch a.Scheme {
	case "gs":
		props = map[string]string{}
		if a.GCSEmulatorHost != "" {
			props[iceio.GCSNoAuth] = "true"
			props[iceio.GCSEndpoint] = "http://" + a.GCSEmulatorHost + "/storage/v1/"
		}
		return "gs://" + a.Bucket + path, props, nil
	case "s3":
		props = map[string]string{iceio.S3ForceVirtualAddressing: strconv.FormatBool(!a.S3PathStyle)}
		if a.S3Region != "" {
			props[iceio.S3Region] = a.S3Region
		}
		if a.S3Endpoint != "" {
			props[iceio.S3EndpointURL] = a.S3Endpoint
		}
		return "s3://" + a.Bucket + path, props, nil
	case "az":
		props, err = adlsProps(a)
		if err != nil {
			return "", nil, err
		}
		return "abfss://" + a.Bucket + "@" + a.AzureAccount + ADLSHostSuffix + path, props, nil
	}
	return "", nil, fmt.Errorf("iceberg FileIO: store scheme %q is not a cloud store's", a.Scheme)
}

// adlsProps are the properties of iceberg-go's Azure FileIO for a, which names its account.
func adlsProps(a storage.Access) (map[string]string, error) {
	if a.AzureAccount == "" {
		return nil, errors.New("iceberg FileIO: the Azure store's account is unknown (set --azure-account, AZURE_STORAGE_ACCOUNT, or a connection string with AccountName)")
	}
	key := iceio.ADLSConnectionStringPrefix + a.AzureAccount
	switch {
	case a.AzureConnectionString != "":
		return map[string]string{key: a.AzureConnectionString}, nil
	case a.AzureSAS != "":
		return map[string]string{key: "BlobEndpoint=" + a.AzureEndpoint + ";SharedAccessSignature=" + a.AzureSAS}, nil
	}
	// Azure's default credentials: iceberg-go builds the service URL from the account, a
	// storage domain and a protocol (PROTOCOL://ACCOUNT.DOMAIN, or PROTOCOL://HOST/ACCOUNT for
	// a local emulator).
	u, err := url.Parse(a.AzureEndpoint)
	if err != nil || u.Host == "" {
		return nil, errors.New("iceberg FileIO: the Azure store's endpoint is not a URL")
	}
	props := map[string]string{iceio.ADLSProtocol: u.Scheme}
	switch {
	case strings.HasPrefix(u.Host, a.AzureAccount+".") && strings.Trim(u.Path, "/") == "":
		props[iceio.ADLSEndpoint] = strings.TrimPrefix(u.Host, a.AzureAccount+".")
	case (strings.HasPrefix(u.Host, "127.0.0.1") || strings.HasPrefix(u.Host, "localhost")) && strings.Trim(u.Path, "/") == a.AzureAccount:
		props[iceio.ADLSEndpoint] = u.Host
	default:
		return nil, fmt.Errorf("iceberg FileIO: the Azure endpoint %s is neither ACCOUNT.DOMAIN nor a local emulator's; with Azure's default credentials iceberg-go cannot reach it (use a SAS token or a connection string)", u.Redacted())
	}
	return props, nil
}

// clean passes *err through the catalog's Redact: the exported methods defer it.
func (c *Catalog) clean(err *error) { *err = redacted(*err, c.redact) }

// redactedError is an error whose text had secrets of the FileIO properties removed. It unwraps
// to the original, so callers still decide with errors.Is and errors.As (whose targets' texts
// are not for printing).
type redactedError struct {
	err  error
	text string
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.err }

// redacted returns err with its text passed through fn; err itself when fn is nil or changes
// nothing.
func redacted(err error, fn func(string) string) error {
	if err == nil || fn == nil {
		return err
	}
	text := fn(err.Error())
	if text == err.Error() {
		return err
	}
	return &redactedError{err: err, text: text}
}
