package icetable

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog/glue"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/middleware"
)

// errGlueURI is CheckURI's and Open's answer to a glue URI of another form. It quotes nothing of
// the URI, which might hold a credential someone put there.
var errGlueURI = errors.New("a glue catalog is glue: (the caller's account) or glue://ACCOUNT_ID " +
	"(12 digits); region, endpoint and credentials come from the AWS configuration " +
	"(AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_GLUE), not from the URI")

// glueAccount returns the account id of a glue catalog URI: "" for "glue:" or "glue://" (the
// caller's account), the 12 digits of "glue://ACCOUNT_ID".
func glueAccount(uri string) (string, error) {
	_, rest, _ := strings.Cut(uri, ":")
	if rest == "" || rest == "//" {
		return "", nil
	}
	id, ok := strings.CutPrefix(rest, "//")
	if !ok || len(id) != 12 || strings.Trim(id, "0123456789") != "" {
		return "", errGlueURI
	}
	return id, nil
}

// openGlue opens iceberg-go's Glue catalog with the standard AWS configuration. props (FileIO
// settings) become the catalog's properties, with glue.id set for glue://ACCOUNT_ID. Every
// error of a Glue call has the configuration's credentials cut out of its text.
func openGlue(ctx context.Context, uri string, props iceberg.Properties) (catalogAPI, func() error, error) {
	account, err := glueAccount(uri)
	if err != nil {
		return nil, nil, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, scrubEnvCredentials(fmt.Errorf("AWS configuration: %w", err))
	}
	if awsCfg.Region == "" {
		return nil, nil, errors.New("AWS configuration has no region: set AWS_REGION, or a region in the AWS_PROFILE's config")
	}
	seen := &credentialsSeen{inner: awsCfg.Credentials}
	if awsCfg.Credentials != nil {
		awsCfg.Credentials = aws.NewCredentialsCache(seen)
	}
	awsCfg.APIOptions = append(awsCfg.APIOptions, scrubCredentialsOption(seen))
	gprops := glue.AwsProperties{}
	for k, v := range props {
		gprops[k] = v
	}
	if account != "" {
		gprops[glue.CatalogIdKey] = account
	}
	cat, err := glue.NewCatalog(glue.WithAwsConfig(awsCfg), glue.WithAwsProperties(gprops))
	if err != nil {
		return nil, nil, err
	}
	return cat, cat.Close, nil
}

// credentialsSeen is a credentials provider that remembers the credentials it handed out (the
// latest two sets, so that a call signed just before a rotation is covered), for scrubbing them
// out of errors without a new lookup.
type credentialsSeen struct {
	inner aws.CredentialsProvider

	mu   sync.Mutex
	last [2]aws.Credentials
}

func (p *credentialsSeen) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := p.inner.Retrieve(ctx)
	if err == nil {
		p.mu.Lock()
		if c.AccessKeyID != p.last[0].AccessKeyID || c.SecretAccessKey != p.last[0].SecretAccessKey ||
			c.SessionToken != p.last[0].SessionToken {
			p.last[1], p.last[0] = p.last[0], c
		}
		p.mu.Unlock()
	}
	return c, err
}

// secrets returns the credentials handed out and those of the environment.
func (p *credentialsSeen) secrets() []string {
	out := envCredentials()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.last {
		out = append(out, c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
	}
	return out
}

// scrubCredentialsOption adds a middleware to every Glue call that cuts the credentials seen
// handed out, and those of the environment, out of the call's error: AWS quotes the access key
// id and the session token in some errors (a signature mismatch shows the canonical request),
// and the SDK's own errors may show what a credential process printed.
func scrubCredentialsOption(seen *credentialsSeen) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("chatlakeScrubCredentials",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
				middleware.InitializeOutput, middleware.Metadata, error,
			) {
				out, md, err := next.HandleInitialize(ctx, in)
				if err != nil {
					err = scrubSecrets(err, seen.secrets())
				}
				return out, md, err
			}), middleware.Before)
	}
}

// scrubEnvCredentials returns err with the environment's AWS credentials replaced.
func scrubEnvCredentials(err error) error { return scrubSecrets(err, envCredentials()) }

// envCredentials are the AWS credentials of the environment, as the SDK reads them.
func envCredentials() []string {
	var out []string
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN"} {
		if v := os.Getenv(k); v != "" {
			out = append(out, v)
		}
	}
	return out
}
