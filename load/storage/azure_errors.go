package storage

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// azureError is the error of an Azure call: one line that names the operation, the object and
// the service's status and error code (or the transport's failure), and holds no credential.
// It matches ErrNotExist, ErrPrecondition or ErrPermission as the status says, and unwraps to
// the client's error (whose own text may be several lines and hold the request's URL, SAS
// query included: it is never printed by this package).
type azureError struct {
	text string
	kind error
	err  error
}

func (e *azureError) Error() string        { return e.text }
func (e *azureError) Unwrap() error        { return e.err }
func (e *azureError) Is(target error) bool { return e.kind != nil && target == e.kind }

// err wraps err with the operation and name, mapped to this package's errors.
func (a *Azure) err(op, name string, err error) error {
	text := a.redact.text(op + " " + name + ": " + describeAzure(err))
	return &azureError{text: text, kind: azureKind(err), err: err}
}

// describeAzure says what went wrong in one line, without the request's URL.
func describeAzure(err error) string {
	var base string
	var re *azcore.ResponseError
	var ue *url.Error
	switch {
	case errors.As(err, &re):
		base = fmt.Sprintf("HTTP %d", re.StatusCode)
		if re.ErrorCode != "" {
			base += " " + re.ErrorCode
		}
		if k := azureKind(err); k != nil {
			base += " (" + k.Error() + ")"
		}
	case errors.As(err, &ue):
		base = ue.Err.Error()
	default:
		base = err.Error()
	}
	var te *timeoutError
	if errors.As(err, &te) && !strings.Contains(base, te.Error()) {
		base = te.Error() + ": " + base
	}
	return strings.Join(strings.Fields(base), " ")
}

// azureKind is the sentinel error that err's HTTP status means, or nil.
func azureKind(err error) error {
	switch s, code := statusOf(err), codeOf(err); {
	case s == 404 && code != "ContainerNotFound":
		return ErrNotExist
	case s == 412 || (s == 409 && code == "BlobAlreadyExists"):
		return ErrPrecondition
	case s == 403:
		return ErrPermission
	}
	return nil
}

func statusOf(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func codeOf(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// isBlobNotFound reports a missing blob (not a missing container).
func isBlobNotFound(err error) bool {
	return statusOf(err) == 404 && codeOf(err) != "ContainerNotFound"
}

// redactor removes credentials from error texts: the secrets it was given (an account key, a
// SAS token, a connection string and their parts), in any escaping, and the signature of any
// SAS query.
type redactor struct{ secrets []string }

// sasSignature matches the signature parameter of a SAS query.
var sasSignature = regexp.MustCompile(`(?i)\bsig=[^&\s"';]+`)

// newRedactor returns a redactor of secrets and of the parts of each that are secrets alone:
// the values of a connection string's AccountKey and SharedAccessSignature, a SAS's sig.
func newRedactor(secrets ...string) redactor {
	var r redactor
	add := func(s string) {
		if s = strings.TrimSpace(s); len(s) >= 4 {
			r.secrets = append(r.secrets, s, url.QueryEscape(s), url.PathEscape(s))
		}
	}
	for _, s := range secrets {
		add(s)
		for _, part := range strings.Split(s, ";") {
			if k, v, ok := strings.Cut(part, "="); ok && (strings.EqualFold(k, "AccountKey") || strings.EqualFold(k, "SharedAccessSignature")) {
				add(v)
				s = v
			}
		}
		if q, err := url.ParseQuery(strings.TrimPrefix(s, "?")); err == nil {
			add(q.Get("sig"))
		}
	}
	return r
}

func (r redactor) text(s string) string {
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, "REDACTED")
	}
	return sasSignature.ReplaceAllString(s, "sig=REDACTED")
}
