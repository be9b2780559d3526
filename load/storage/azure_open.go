package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
)

// The environment variables that Open reads for az:// URLs when OpenOptions leaves them out.
// They are the names that Azure's own tools (the az CLI, azcopy) read.
const (
	EnvAzureConnectionString = "AZURE_STORAGE_CONNECTION_STRING"
	EnvAzureAccount          = "AZURE_STORAGE_ACCOUNT"
	EnvAzureSASToken         = "AZURE_STORAGE_SAS_TOKEN"
)

// azureHostSuffix ends the host of a fully qualified az:// URL:
// az://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX.
const azureHostSuffix = ".blob.core.windows.net"

// azureLocation is an az:// URL taken apart.
type azureLocation struct {
	account   string // from a fully qualified URL, else ""
	container string
	prefix    string
}

// parseAzure takes apart az://CONTAINER/PREFIX or az://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX.
func parseAzure(u *url.URL) (azureLocation, error) {
	const want = "want az://CONTAINER/PREFIX or az://ACCOUNT" + azureHostSuffix + "/CONTAINER/PREFIX"
	if u.Host == "" || u.Opaque != "" {
		return azureLocation{}, fmt.Errorf("no container (%s)", want)
	}
	var loc azureLocation
	p := strings.Trim(u.Path, "/")
	if strings.Contains(u.Host, ".") { // container names have no dots
		if !strings.HasSuffix(u.Host, azureHostSuffix) || strings.Count(u.Host, ".") != 4 {
			return azureLocation{}, fmt.Errorf("host %q is neither a container nor an account's blob endpoint (%s)", u.Host, want)
		}
		loc.account = strings.TrimSuffix(u.Host, azureHostSuffix)
		loc.container, p, _ = strings.Cut(p, "/")
	} else {
		loc.container = u.Host
	}
	if err := checkContainer(loc.container); err != nil {
		return azureLocation{}, fmt.Errorf("%w (%s)", err, want)
	}
	if p != "" {
		if err := checkName(p); err != nil {
			return azureLocation{}, fmt.Errorf("prefix: %w", err)
		}
	}
	loc.prefix = p
	return loc, nil
}

// checkContainer checks Azure's rule for container names: 3 to 63 lowercase letters, digits
// and single hyphens, starting and ending with a letter or digit.
func checkContainer(name string) error {
	ok := len(name) >= 3 && len(name) <= 63 && name[0] != '-' && name[len(name)-1] != '-' && !strings.Contains(name, "--")
	for _, c := range name {
		ok = ok && (c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')
	}
	if !ok {
		return fmt.Errorf("container name %q: want 3 to 63 lowercase letters, digits and hyphens", name)
	}
	return nil
}

func openAzure(ctx context.Context, rawURL string, u *url.URL, o *OpenOptions) (Store, error) {
	loc, err := parseAzure(u)
	if err != nil {
		return nil, fmt.Errorf("open store %q: %w", rawURL, err)
	}
	client, secrets, access, err := azureClient(loc, o)
	if err != nil {
		return nil, fmt.Errorf("open store %q: %w", rawURL, &azureError{text: secrets.text(err.Error()), err: err})
	}
	a, err := NewAzureWithOptions(client, loc.container, loc.prefix, o.azure())
	if err != nil { // unreachable: Open checked the options
		return nil, fmt.Errorf("open store %q: %w", rawURL, err)
	}
	if loc.account != "" {
		a.account = loc.account + azureHostSuffix
	}
	a.redact, a.access = secrets, access
	found, err := a.probe(ctx, orDefault(o.ProbeTimeout, DefaultProbeTimeout))
	if err == nil && !found && o.MustExist {
		err = fmt.Errorf("%w: no object below %s", ErrNotExist, a.URL())
	} else if err != nil {
		err = fmt.Errorf("container %q not reachable: %w", loc.container, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %q: %w", rawURL, err)
	}
	return a, nil
}

// azureClient makes the service client of an az:// URL, from the first of: the caller's
// client; a connection string (AZURE_STORAGE_CONNECTION_STRING); a SAS token (AzureSASFile,
// else AZURE_STORAGE_SAS_TOKEN) for the account; the default credential chain of azidentity
// (environment, workload identity, managed identity, Azure CLI) for the account. The account
// is the URL's, else AzureAccount, else AZURE_STORAGE_ACCOUNT. It also returns the redactor of
// the secrets it read (its errors may hold them and go through that redactor) and how the
// client reaches the account (nil for the caller's client).
func azureClient(loc azureLocation, o *OpenOptions) (*service.Client, redactor, *Access, error) {
	if o.AzureClient != nil {
		return o.AzureClient, newRedactor(), nil, nil
	}
	opts := &service.ClientOptions{}
	if cs := strings.TrimSpace(os.Getenv(EnvAzureConnectionString)); cs != "" {
		r := newRedactor(cs)
		name := connStringPart(cs, "AccountName")
		if loc.account != "" && name != "" && name != loc.account {
			return nil, r, nil, fmt.Errorf("the URL names account %q but %s is for account %q", loc.account, EnvAzureConnectionString, name)
		}
		c, err := service.NewClientFromConnectionString(cs, opts)
		if err != nil {
			return nil, r, nil, fmt.Errorf("%s: %w", EnvAzureConnectionString, err)
		}
		endpoint := connStringPart(cs, "BlobEndpoint")
		if name == "" {
			name = loc.account
		}
		if name == "" {
			name = endpointAccount(endpoint)
		}
		return c, r, &Access{Scheme: "az", AzureAccount: name, AzureEndpoint: endpoint, AzureConnectionString: cs}, nil
	}
	account := loc.account
	if account == "" {
		account = o.AzureAccount
	}
	if account == "" {
		account = os.Getenv(EnvAzureAccount)
	}
	endpoint := o.AzureEndpoint
	if endpoint == "" {
		if account == "" {
			return nil, newRedactor(), nil, fmt.Errorf("no storage account: set --azure-account or %s, use az://ACCOUNT%s/CONTAINER, or set %s", EnvAzureAccount, azureHostSuffix, EnvAzureConnectionString)
		}
		endpoint = "https://" + account + azureHostSuffix + "/"
	}
	sas, err := sasToken(o.AzureSASFile)
	r := newRedactor(sas)
	if err != nil {
		return nil, r, nil, err
	}
	if account == "" {
		account = endpointAccount(endpoint)
	}
	access := &Access{Scheme: "az", AzureAccount: account, AzureEndpoint: endpoint, AzureSAS: sas}
	if sas != "" {
		c, err := service.NewClientWithNoCredential(strings.TrimSuffix(endpoint, "/")+"/?"+sas, opts)
		if err != nil {
			return nil, r, nil, fmt.Errorf("SAS token: %w", err)
		}
		return c, r, access, nil
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, r, nil, fmt.Errorf("Azure credentials: %w", err)
	}
	c, err := service.NewClient(endpoint, cred, opts)
	if err != nil {
		return nil, r, nil, fmt.Errorf("Azure client: %w", err)
	}
	return c, r, access, nil
}

// sasToken reads the SAS token of file, else of AZURE_STORAGE_SAS_TOKEN, without a leading
// "?"; "" if neither is set.
func sasToken(file string) (string, error) {
	tok := os.Getenv(EnvAzureSASToken)
	if file != "" {
		b, err := os.ReadFile(file)
		var pe *fs.PathError
		if errors.As(err, &pe) { // not its path: a token pasted in place of the path is a secret
			return "", fmt.Errorf("SAS token file: cannot read it: %w", pe.Err)
		}
		if err != nil {
			return "", fmt.Errorf("SAS token file: cannot read it")
		}
		tok = string(b)
	}
	tok = strings.TrimPrefix(strings.TrimSpace(tok), "?")
	if file != "" && tok == "" {
		return "", errors.New("SAS token file is empty")
	}
	return tok, nil
}

// endpointAccount is the storage account a blob service URL names: the first element of its
// path (an emulator's http://HOST:PORT/ACCOUNT), else the first label of its host
// (https://ACCOUNT.blob.core.windows.net/, a private endpoint ACCOUNT.privatelink...); "" if
// it names none.
func endpointAccount(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return ""
	}
	if first, _, _ := strings.Cut(strings.Trim(u.Path, "/"), "/"); first != "" {
		return first
	}
	if label, _, ok := strings.Cut(u.Hostname(), "."); ok {
		return label
	}
	return ""
}

// connStringPart is the value of key (AccountName, BlobEndpoint) in a connection string, "" if
// it has none.
func connStringPart(cs, key string) string {
	for _, part := range strings.Split(cs, ";") {
		if k, v, ok := strings.Cut(part, "="); ok && strings.EqualFold(strings.TrimSpace(k), key) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// probe lists at most one blob below the prefix, within d: it needs the same permission as
// List. It reports whether there was one.
func (a *Azure) probe(ctx context.Context, d time.Duration) (found bool, err error) {
	pager := a.cont.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: ptr(a.prefix), MaxResults: ptr(int32(1))})
	var page container.ListBlobsFlatResponse
	err = a.call(ctx, d, func(ctx context.Context) (err error) {
		page, err = pager.NextPage(ctx)
		return err
	})
	if err != nil {
		return false, a.err("list", a.URL(), err)
	}
	return page.Segment != nil && len(page.Segment.BlobItems) > 0, nil
}
