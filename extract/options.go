package extract

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults of Options: the one place they are written (the command's flags show the exported
// ones).
const (
	DefaultRate           = 20
	DefaultMaxAttempts    = 8
	defaultMinBackoff     = 250 * time.Millisecond
	defaultMaxBackoff     = 30 * time.Second
	DefaultAttemptTimeout = 60 * time.Second
	DefaultPageSize       = 500
	// MaxPageSize is the API's cap of messages per page.
	MaxPageSize     = 500
	defaultMaxPages = 10000
	// maxBodyBytes bounds one response body; a longer one is read as cut off.
	maxBodyBytes = 256 << 20
)

// The defaults of SilenceBudget and StallAfter are AttemptTimeout plus these: a request that
// never hears back gives up after one full attempt and a cut second one, and a run sees the
// API as stalled after one full attempt and a margin. At the default attempt timeout, an API
// that never answers fails a run in about 90s, within the 120s a nightly job allows.
const (
	defaultSilenceBeyondAttempt = 30 * time.Second
	defaultStallBeyondAttempt   = 15 * time.Second
)

// Options configure a Client. Zero values take the defaults given.
type Options struct {
	BaseURL    string       // required: http(s)://host[:port][/prefix]
	CustomerID string       // required, decimal digits
	BotKey     string       // required, 16 hex characters
	APIKey     string       // required; sent as "Authorization: Basic <APIKey>", never logged
	HTTPClient *http.Client // nil: a client with transport timeouts

	Rate           float64       // ceiling of requests per second shared by all requests; default DefaultRate
	MaxAttempts    int           // attempts per request; default DefaultMaxAttempts
	MinBackoff     time.Duration // default 250ms
	MaxBackoff     time.Duration // default 30s
	AttemptTimeout time.Duration // per attempt, body read included; default DefaultAttemptTimeout
	PageSize       int           // 1..MaxPageSize (the API's cap); default DefaultPageSize
	MaxPages       int           // pages per query before ErrTooManyPages; default 10000
	Logger         *slog.Logger  // nil: discard

	// SilenceBudget bounds the time one request waits for an answer that does not come: the
	// time its attempts spent timing out or failing to connect, summed. A request whose budget
	// is spent gives up (a *RetryError, cause "timeout") whatever MaxAttempts says, and an
	// attempt is cut to what is left of it. Attempts that got an answer (a 5xx, a 429) do not
	// spend it. Default AttemptTimeout + 30s: 90s at the default AttemptTimeout.
	SilenceBudget time.Duration
	// StallAfter: Client.Stalled reports true once the Client's requests have waited this long
	// for an answer since the API last answered any of them (Client.Silence). Default
	// AttemptTimeout + 15s: 75s at the default AttemptTimeout, more than any attempt that is
	// answered in time can wait, and less than SilenceBudget.
	StallAfter time.Duration
}

// String describes the options with the API key redacted.
func (o Options) String() string {
	return fmt.Sprintf("extract.Options{BaseURL:%q CustomerID:%q BotKey:%q APIKey:%s Rate:%g MaxAttempts:%d "+
		"MinBackoff:%s MaxBackoff:%s AttemptTimeout:%s SilenceBudget:%s StallAfter:%s PageSize:%d MaxPages:%d}",
		o.BaseURL, o.CustomerID, o.BotKey, redactedKey(o.APIKey), o.Rate, o.MaxAttempts,
		o.MinBackoff, o.MaxBackoff, o.AttemptTimeout, o.SilenceBudget, o.StallAfter, o.PageSize, o.MaxPages)
}

// GoString is String, so that %#v does not print the key either.
func (o Options) GoString() string { return o.String() }

// LogValue keeps the key out of slog output.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.String()) }

func redactedKey(k string) string {
	if k == "" {
		return `""`
	}
	return "[REDACTED]"
}

// Bounds of Options that no deployment needs to pass: values beyond them are typos. The command
// checks its flags against these before it creates anything.
const (
	MinRate            = 0.01 // requests per second: one every 100 s
	MaxDuration        = 24 * time.Hour
	MaxRequestAttempts = 1000
)

// withDefaults validates o and fills in the defaults. Errors are *OptionError naming the field;
// none holds the API key.
func (o Options) withDefaults() (Options, error) {
	u, err := url.Parse(o.BaseURL)
	switch {
	case o.BaseURL == "":
		return o, optErr("BaseURL", "is required")
	case err != nil:
		return o, optErr("BaseURL", "%q is not a URL", o.BaseURL)
	case u.Scheme != "http" && u.Scheme != "https":
		return o, optErr("BaseURL", "%q must start with http:// or https://", o.BaseURL)
	case u.Host == "":
		return o, optErr("BaseURL", "%q has no host", o.BaseURL)
	case u.User != nil:
		return o, optErr("BaseURL", "must not hold credentials; the API key goes in APIKey")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return o, optErr("BaseURL", "%q must not have a query or fragment", o.BaseURL)
	}
	o.BaseURL = strings.TrimRight(u.String(), "/")

	if o.CustomerID == "" || strings.Trim(o.CustomerID, "0123456789") != "" {
		return o, optErr("CustomerID", "must be decimal digits, got %q", o.CustomerID)
	}
	if len(o.BotKey) != 16 || strings.Trim(o.BotKey, "0123456789abcdefABCDEF") != "" {
		return o, optErr("BotKey", "must be 16 hex characters, got %q", o.BotKey)
	}
	if o.APIKey == "" {
		return o, optErr("APIKey", "is required")
	}
	if strings.ContainsFunc(o.APIKey, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return o, optErr("APIKey", "must not hold spaces or control characters")
	}
	if !utf8.ValidString(o.APIKey) {
		return o, optErr("APIKey", "is not valid UTF-8")
	}

	switch {
	case math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0) || o.Rate < 0 || (o.Rate > 0 && o.Rate < MinRate):
		return o, optErr("Rate", "%g must be a number of requests per second of at least %g", o.Rate, MinRate)
	case o.Rate == 0:
		o.Rate = DefaultRate
	}
	switch {
	case o.MaxAttempts < 0 || o.MaxAttempts > MaxRequestAttempts:
		return o, optErr("MaxAttempts", "%d must be between 1 and %d", o.MaxAttempts, MaxRequestAttempts)
	case o.MaxAttempts == 0:
		o.MaxAttempts = DefaultMaxAttempts
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"MinBackoff", o.MinBackoff}, {"MaxBackoff", o.MaxBackoff}, {"AttemptTimeout", o.AttemptTimeout},
		{"SilenceBudget", o.SilenceBudget}, {"StallAfter", o.StallAfter}} {
		if d.v < 0 || d.v > MaxDuration {
			return o, optErr(d.name, "%s must be between 0 (the default) and %s", d.v, MaxDuration)
		}
	}
	if o.MinBackoff == 0 {
		o.MinBackoff = defaultMinBackoff
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = max(defaultMaxBackoff, o.MinBackoff)
	}
	if o.MaxBackoff < o.MinBackoff {
		return o, optErr("MaxBackoff", "%s is below MinBackoff %s", o.MaxBackoff, o.MinBackoff)
	}
	if o.AttemptTimeout == 0 {
		o.AttemptTimeout = DefaultAttemptTimeout
	}
	if o.SilenceBudget == 0 {
		o.SilenceBudget = o.AttemptTimeout + defaultSilenceBeyondAttempt
	}
	if o.StallAfter == 0 {
		o.StallAfter = o.AttemptTimeout + defaultStallBeyondAttempt
	}
	switch {
	case o.PageSize < 0 || o.PageSize > MaxPageSize:
		return o, optErr("PageSize", "%d must be between 1 and %d (the API caps pages at %d; "+
			"asking for more would end paging early)", o.PageSize, MaxPageSize, MaxPageSize)
	case o.PageSize == 0:
		o.PageSize = DefaultPageSize
	}
	switch {
	case o.MaxPages < 0:
		return o, optErr("MaxPages", "%d must be positive", o.MaxPages)
	case o.MaxPages == 0:
		o.MaxPages = defaultMaxPages
	}
	if o.HTTPClient == nil {
		o.HTTPClient = defaultHTTPClient(o.AttemptTimeout)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// defaultHTTPClient has bounded dial, TLS and header waits; the whole attempt is bounded by a
// context deadline instead of Client.Timeout.
func defaultHTTPClient(attempt time.Duration) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: attempt,
		// A Conversations page is up to 500 messages, about 100 KiB: read in 4 KiB (the
		// default) it took 25 read calls.
		ReadBufferSize: 64 << 10,
	}}
}

// ParseSelector parses "NAME=VALUE", split at the first "=" (the value may hold "="). Neither
// part may be empty or blank, or hold control characters or invalid UTF-8: the error is an
// *InputError naming the selector as given (matching ErrInvalidInput).
func ParseSelector(s string) (Selector, error) {
	name, value, ok := strings.Cut(s, "=")
	if !ok {
		return Selector{}, &InputError{Input: "selector", Value: s, Reason: "want NAME=VALUE"}
	}
	sel := Selector{Name: name, Value: value}
	if err := sel.Validate(); err != nil {
		return Selector{}, err
	}
	return sel, nil
}
