package extract

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Client talks to one Technowiz deployment for one customer and bot. It is safe for concurrent
// use; all its requests share one Limiter.
type Client struct {
	o   Options // validated, defaults filled in
	lim *Limiter
	log *slog.Logger
	red redactor // of o.APIKey: every text from elsewhere passes it before an error or a log

	requests      atomic.Int64
	throttled     atomic.Int64
	confirmations atomic.Int64
	retries       [5]atomic.Int64 // by causeIndex
	quiet         silence         // how long requests have waited for an answer (Silence)
	// pageSizes are the largest page sizes seen (page lengths, or page_size reported), for the
	// users and the conversations endpoint: the deployment's real cap is at least that.
	pageSizes [2]atomic.Int64
	// bodies holds a *pageBuffer per goroutine paging conversations, reused from page to page.
	bodies sync.Pool
}

// causes lists the retry causes in the order of Client.retries.
func causes() [5]string {
	return [5]string{Cause429, Cause5xx, CauseTimeout, CauseConnection, CauseBody}
}

func causeIndex(cause string) int {
	for i, c := range causes() {
		if c == cause {
			return i
		}
	}
	return len(causes()) - 1
}

// New validates o once and returns a Client. Errors name the field at fault and never hold the
// API key.
func New(o Options) (*Client, error) {
	o, err := o.withDefaults()
	if err != nil {
		var oe *OptionError
		if errors.As(err, &oe) {
			// A key given in the wrong field (BaseURL, BotKey) must not be printed either.
			oe.Reason = newRedactor(o.APIKey).clean(oe.Reason, 0)
		}
		return nil, err
	}
	return &Client{o: o, lim: NewLimiter(o.Rate), log: o.Logger, red: newRedactor(o.APIKey)}, nil
}

// String describes the client without its key.
func (c *Client) String() string {
	return fmt.Sprintf("extract.Client{%s customer %s bot %s}", c.o.BaseURL, c.o.CustomerID, c.o.BotKey)
}

// Stats are counters since the Client was made.
type Stats struct {
	Requests  int64            // attempts sent
	Retries   map[string]int64 // retries by cause: "429", "5xx", "timeout", "connection", "body"
	Throttled int64            // answers with 429
	Rate      float64          // the limiter's current rate, requests per second
	// Confirmations are requests that only confirmed the end of a list (an empty or repeated
	// page) after a short page without paging metadata that could have been cut by an
	// unreported page-size cap: requests beyond the fewest at the deployment's real page size.
	Confirmations int64
	// PageSize is the largest conversations page size seen so far (page lengths, or the
	// page_size reported), 0 before the first page: what the Client knows of the deployment's
	// real page size.
	PageSize int
}

// Stats returns the counters so far.
func (c *Client) Stats() Stats {
	s := Stats{
		Requests:  c.requests.Load(),
		Retries:   make(map[string]int64, len(c.retries)),
		Throttled: c.throttled.Load(),
		Rate:      c.lim.Rate(),

		Confirmations: c.confirmations.Load(),
		PageSize:      int(c.pageSizes[endpointConversations-endpointUsers].Load()),
	}
	for i, cause := range causes() {
		s.Retries[cause] = c.retries[i].Load()
	}
	return s
}

// Silence is how long the Client's requests have waited for an answer since the API last
// answered one of them (any answer read in full, whatever its status): the time during which
// at least one attempt was out, so holds after a 429, backoffs and idle time do not count.
func (c *Client) Silence() time.Duration { return c.quiet.get() }

// Stalled tells whether Silence has reached Options.StallAfter: the API accepts requests and
// no longer answers them, so a caller should not start more work that needs it.
func (c *Client) Stalled() bool { return c.quiet.get() >= c.o.StallAfter }

// call is one logical GET: the attempts of get share it.
type call struct {
	op       string     // for errors and logs: what was asked
	endpoint endpoint   // which API
	path     string     // escaped path below BaseURL
	query    url.Values // query parameters
}

// failure is a failed attempt.
type failure struct {
	cause      string        // a retry cause; "" when not retryable
	err        error         // what happened
	retryAfter time.Duration // from a 429's Retry-After, 0 when absent
	unanswered bool          // no answer came: the attempt timed out or could not connect
}

// get performs c with retries and hands each 200 body to decode. decode must have no side
// effects beyond its result: it runs once per attempt that gets a 200.
func get[T any](ctx context.Context, cl *Client, c call, decode func(io.Reader) (T, error)) (T, error) {
	var zero T
	target := cl.o.BaseURL + c.path + "?" + c.query.Encode()
	// c.op is clean already; the path may hold a user id that the server sent.
	request := cl.red.clean("GET "+c.path+"?"+c.query.Encode(), 0)
	throttles := 0
	var silent time.Duration // spent by attempts that got no answer, of SilenceBudget
	for attempt := 1; ; attempt++ {
		if err := cl.lim.Wait(ctx); err != nil {
			return zero, fmt.Errorf("extract: %s: %w", c.op, err)
		}
		sent := time.Now()
		cl.quiet.sent()
		v, f := attemptOnce(ctx, cl, c, target, request, min(cl.o.AttemptTimeout, cl.o.SilenceBudget-silent), decode)
		cl.quiet.ended(f == nil || (!f.unanswered && ctx.Err() == nil))
		if f == nil {
			cl.lim.Success()
			return v, nil
		}
		if f.cause == "" {
			return zero, f.err
		}
		if f.unanswered {
			silent += time.Since(sent)
		}
		wait := backoff(attempt, cl.o.MinBackoff, cl.o.MaxBackoff)
		if f.cause == Cause429 {
			cl.throttled.Add(1)
			throttles++
			cl.lim.Throttle(sent, f.retryAfter)
			// The request that was told to wait waits as told (the others only for the
			// limiter's hold); repeated 429s of this request also back off.
			wait = min(f.retryAfter, maxHold)
			if throttles > 1 {
				wait = max(wait, backoff(throttles-1, cl.o.MinBackoff, cl.o.MaxBackoff))
			}
		}
		if attempt >= cl.o.MaxAttempts || silent >= cl.o.SilenceBudget {
			cl.log.Warn("extract: giving up", "op", c.op, "request", request, "attempts", attempt,
				"cause", f.cause, "unanswered", silent.Round(time.Millisecond), "err", cl.red.clean(f.err.Error(), 0))
			return zero, &RetryError{Op: c.op, Attempts: attempt, Cause: f.cause, Last: f.err, Unanswered: silent}
		}
		cl.retries[causeIndex(f.cause)].Add(1)
		cl.log.Debug("extract: retrying", "op", c.op, "request", request, "attempt", attempt,
			"cause", f.cause, "wait", wait, "err", cl.red.clean(f.err.Error(), 0))
		if err := sleep(ctx, wait); err != nil {
			return zero, fmt.Errorf("extract: %s: %w (after %d attempts, last: %v)", c.op, err, attempt, f.err)
		}
	}
}

// attemptOnce sends one request and decodes its answer.
func attemptOnce[T any](ctx context.Context, cl *Client, c call, target, request string, timeout time.Duration,
	decode func(io.Reader) (T, error)) (T, *failure) {
	var zero T
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, target, nil)
	if err != nil {
		return zero, &failure{err: fmt.Errorf("extract: %s: %s", c.op, cl.red.clean(err.Error(), maxErrorText))}
	}
	req.Header.Set("Authorization", "Basic "+cl.o.APIKey)
	req.Header.Set("Accept", "application/json")
	cl.requests.Add(1)
	resp, err := cl.o.HTTPClient.Do(req)
	if err != nil {
		return zero, cl.transportFailure(ctx, actx, c, timeout, err)
	}
	defer func() {
		// Drain a little so that the connection can be reused, then close.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		_ = resp.Body.Close()
	}()
	body := io.LimitReader(resp.Body, maxBodyBytes)

	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		v, err := decode(body)
		if err == nil {
			return v, nil
		}
		var se *statusError
		switch {
		case errors.As(err, &se):
			return zero, &failure{err: &APIError{HTTPStatus: code, Code: se.code, Desc: cl.red.clean(se.desc, maxDesc),
				Details: cl.red.clean(se.details, maxDetails), Op: c.op, Request: request, endpoint: c.endpoint}}
		case ctx.Err() != nil:
			return zero, &failure{err: fmt.Errorf("extract: %s: %w", c.op, ctx.Err())}
		case actx.Err() != nil:
			return zero, &failure{cause: CauseTimeout, unanswered: true, err: fmt.Errorf("reading the body of %s: attempt timed out after %s", request, timeout)}
		}
		return zero, &failure{cause: CauseBody, err: fmt.Errorf("%s: %s", request, cl.red.clean(err.Error(), maxErrorText))}
	case code == http.StatusTooManyRequests:
		ra := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return zero, &failure{cause: Cause429, retryAfter: ra,
			err: fmt.Errorf("HTTP 429 Too Many Requests (Retry-After %q) for %s",
				cl.red.clean(resp.Header.Get("Retry-After"), 40), request)}
	case code == 500 || code == 502 || code == 503 || code == 504:
		e := cl.apiError(resp, body, c, request)
		return zero, &failure{cause: Cause5xx, err: e}
	case code == http.StatusRequestTimeout:
		return zero, &failure{cause: CauseTimeout, err: cl.apiError(resp, body, c, request)}
	}
	return zero, &failure{err: cl.apiError(resp, body, c, request)}
}

// apiError describes a non-2xx answer from its status and, when the body is a status object,
// its code, desc and details; otherwise the start of the body.
func (cl *Client) apiError(resp *http.Response, body io.Reader, c call, request string) *APIError {
	e := &APIError{HTTPStatus: resp.StatusCode, Op: c.op, Request: request, endpoint: c.endpoint}
	b, _ := io.ReadAll(io.LimitReader(body, 64<<10))
	_, err := decodeList(bytes.NewReader(b), nil)
	var se *statusError
	if errors.As(err, &se) {
		e.Code, e.Desc, e.Details = se.code, cl.red.clean(se.desc, maxDesc), cl.red.clean(se.details, maxDetails)
		return e
	}
	e.Desc = cl.red.snippet(string(b), maxSnippet)
	return e
}

// Bounds, in bytes, of server text quoted in an error.
const (
	maxDesc      = 500  // status.desc
	maxDetails   = 1000 // status.details
	maxSnippet   = 200  // the start of a body that is not a status object
	maxErrorText = 1000 // an error of the transport or the decoder
)

// transportFailure classifies an error of http.Client.Do; timeout is the attempt's.
func (cl *Client) transportFailure(ctx, actx context.Context, c call, timeout time.Duration, err error) *failure {
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		return &failure{err: fmt.Errorf("extract: %s: %w", c.op, ctx.Err())}
	case actx.Err() != nil:
		return &failure{cause: CauseTimeout, unanswered: true, err: fmt.Errorf("attempt timed out after %s: %s", timeout, cl.red.clean(err.Error(), maxErrorText))}
	case errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &hne):
		return &failure{err: fmt.Errorf("extract: %s: %s", c.op, cl.red.clean(err.Error(), maxErrorText))}
	case errors.As(err, &ne) && ne.Timeout():
		return &failure{cause: CauseTimeout, unanswered: true, err: errors.New(cl.red.clean(err.Error(), maxErrorText))}
	}
	return &failure{cause: CauseConnection, unanswered: true, err: errors.New(cl.red.clean(err.Error(), maxErrorText))}
}

// backoff is the wait before retry number n (from 1): uniformly random between min and
// min(max, min*2^(n-1)) ("full jitter" above the minimum).
func backoff(n int, minB, maxB time.Duration) time.Duration {
	hi := minB
	for i := 1; i < n && hi < maxB; i++ {
		hi *= 2
	}
	hi = min(hi, maxB)
	if hi <= minB {
		return minB
	}
	return minB + rand.N(hi-minB+1)
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date; 0 when absent, invalid or past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		if s > int64(maxHold/time.Second) {
			return maxHold
		}
		return time.Duration(s) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return min(max(t.Sub(now), 0), maxHold)
}
