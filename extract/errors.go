package extract

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinels that callers decide on with errors.Is. An *APIError matches the one its HTTP status or
// body status code stands for.
var (
	// ErrUnauthorized: HTTP 401, the API key is wrong, missing or revoked. Fatal.
	ErrUnauthorized = errors.New("extract: API key rejected (wrong or revoked)")
	// ErrForbidden: HTTP 403, the key may not read this bot. Fatal.
	ErrForbidden = errors.New("extract: API key may not read this bot (forbidden)")
	// ErrInvalidUser: code 1002 on the conversations endpoint. The users come from the User API,
	// so bot and customer are valid and the user id is the one rejected: skip the user, report it.
	ErrInvalidUser = errors.New("extract: channel user id rejected (1002 INVALID_BOT_OR_CUSTOMER_ID)")
	// ErrInvalidBot: code 1002 on the users endpoint: the bot key or customer id is wrong. Fatal
	// configuration error.
	ErrInvalidBot = errors.New("extract: bot key or customer id rejected (1002 INVALID_BOT_OR_CUSTOMER_ID)")
	// ErrInvalidDate: code 1003, dates not epoch ms or end_date <= start_date: a window-planning bug.
	ErrInvalidDate = errors.New("extract: date window rejected (1003 INVALID_INPUT_DATE_VALUE)")
	// ErrInvalidPage: code 1004, page number not a positive integer: a bug.
	ErrInvalidPage = errors.New("extract: page number rejected (1004 INVALID_PAGE_NUMBER)")
	// ErrTooManyPages: paging went past Options.MaxPages without reaching an end.
	ErrTooManyPages = errors.New("extract: page limit reached without an end of the list")
	// ErrNotFound: HTTP 404 on an API path. The paths are fixed, so the base URL, the customer
	// id or the bot key is wrong (on the conversations path, possibly the user id). Fatal
	// configuration error.
	ErrNotFound = errors.New("extract: no such API path (HTTP 404): check --api-url, --customer and --bot")
	// ErrInvalidInput: an argument or option that cannot be right, refused before any request:
	// an *InputError or an *OptionError. A usage error for the command (exit 2).
	ErrInvalidInput = errors.New("extract: invalid input")
)

// InputError is an argument refused before any request: an empty selector name or value, a
// window outside the API's range or not ordered, an empty user id. It matches ErrInvalidInput,
// and a window error also ErrInvalidDate (the API would answer 1003).
type InputError struct {
	Input  string // what was refused: "selector", "window", "user id", "context", "page callback"
	Value  string // the input as given
	Reason string

	date    bool // a window error: matches ErrInvalidDate too
	noValue bool // nothing to show: Value is left out of the message
}

func (e *InputError) Error() string {
	if e.noValue {
		return fmt.Sprintf("extract: %s: %s", e.Input, e.Reason)
	}
	return fmt.Sprintf("extract: %s %q: %s", e.Input, e.Value, e.Reason)
}

// Is matches ErrInvalidInput, and ErrInvalidDate for a window.
func (e *InputError) Is(target error) bool {
	return target == ErrInvalidInput || (e.date && target == ErrInvalidDate)
}

// OptionError is an invalid field of Options, returned by New. It matches ErrInvalidInput. It
// never holds the API key.
type OptionError struct {
	Field  string // the field of Options, e.g. "PageSize"
	Reason string
}

func (e *OptionError) Error() string { return "extract: option " + e.Field + ": " + e.Reason }

// Is matches ErrInvalidInput.
func (e *OptionError) Is(target error) bool { return target == ErrInvalidInput }

func optErr(field, format string, args ...any) error {
	return &OptionError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Body status codes of the contract.
const (
	codeSuccess          = 1000
	codeInvalidBotOrUser = 1002
	codeInvalidDate      = 1003
	codeInvalidPage      = 1004
)

// endpoint tells which API an error came from: a 1002 means a different thing on each.
type endpoint int

const (
	endpointUsers endpoint = iota + 1
	endpointConversations
)

// APIError is an answer that is not retried: a 4xx, or a 200 whose body status code is not 1000.
// It is also the Last error of a *RetryError whose cause was "5xx". It never holds the API key:
// Request is the method, path and query only, and text from the server has the key redacted.
type APIError struct {
	HTTPStatus int    // HTTP status of the answer
	Code       int    // status.code of the body, 0 when absent or not JSON
	Desc       string // status.desc, or the start of a non-JSON body
	Details    string // status.details
	Op         string // what was asked, e.g. `conversations of user "91…" in window [...), page 2`
	Request    string // "GET /bot-api/...?page_number=2&..." without host or headers

	endpoint endpoint
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("extract: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	switch e.HTTPStatus {
	case 401:
		b.WriteString("HTTP 401: API key rejected (wrong or revoked)")
	case 403:
		b.WriteString("HTTP 403: API key may not read this bot")
	case 404:
		b.WriteString("HTTP 404: no such API path")
	default:
		fmt.Fprintf(&b, "HTTP %d", e.HTTPStatus)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, ", code %d", e.Code)
	}
	if e.Desc != "" {
		fmt.Fprintf(&b, " %s", e.Desc)
	}
	if e.Details != "" {
		fmt.Fprintf(&b, ": %s", e.Details)
	}
	if e.HTTPStatus == 404 {
		b.WriteString("; check --api-url, --customer and --bot")
		if e.endpoint == endpointConversations {
			b.WriteString(" (or the user id)")
		}
	}
	if e.Request != "" {
		fmt.Fprintf(&b, " (%s)", e.Request)
	}
	return b.String()
}

// Is maps the error to the sentinel its status stands for.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.HTTPStatus == 401
	case ErrForbidden:
		return e.HTTPStatus == 403
	case ErrNotFound:
		return e.HTTPStatus == 404
	case ErrInvalidUser:
		return e.Code == codeInvalidBotOrUser && e.endpoint == endpointConversations
	case ErrInvalidBot:
		return e.Code == codeInvalidBotOrUser && e.endpoint == endpointUsers
	case ErrInvalidDate:
		return e.Code == codeInvalidDate
	case ErrInvalidPage:
		return e.Code == codeInvalidPage
	}
	return false
}

// Retry causes, the keys of Stats.Retries and the values of RetryError.Cause.
const (
	Cause429        = "429"
	Cause5xx        = "5xx"
	CauseTimeout    = "timeout"
	CauseConnection = "connection"
	CauseBody       = "body"
)

// RetryError is returned when a request failed with retryable errors MaxAttempts times, or
// when its attempts spent Options.SilenceBudget waiting for answers that did not come.
type RetryError struct {
	Op       string // what was asked: users for selector X, or conversations of user Y in window W
	Attempts int    // how many attempts were made
	Cause    string // cause of the last failure: "429", "5xx", "timeout", "connection" or "body"
	Last     error  // the last failure
	// Unanswered is the time the attempts spent without an answer (timed out, or failing to
	// connect), of Options.SilenceBudget.
	Unanswered time.Duration
}

func (e *RetryError) Error() string {
	silent := ""
	if e.Unanswered >= time.Second {
		silent = fmt.Sprintf(" (%s without an answer)", e.Unanswered.Round(time.Second))
	}
	return fmt.Sprintf("extract: %s: gave up after %d attempts, last cause %s%s: %v", e.Op, e.Attempts, e.Cause, silent, e.Last)
}

func (e *RetryError) Unwrap() error { return e.Last }

// bodyError is a 200 body that could not be decoded: not JSON, cut off, or not the shape of any
// variant of the contract. It is retried with cause "body".
type bodyError struct {
	err error
}

func (e *bodyError) Error() string { return "undecodable body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// statusError is a well-formed body whose status.code is not 1000.
type statusError struct {
	code          int
	desc, details string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("status code %d %s: %s", e.code, e.desc, e.details)
}
