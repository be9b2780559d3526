// Package extract reads users and conversations from the Technowiz API
// (../shared/technowiz-api.md): the User API over one or more attribute selectors, and each
// user's Conversations API over a time window, page by page.
//
// A Client accepts every response variant of the contract: lists under responseObject or at the
// top level, under "conversations" or "messages" ("users" for users), with or without paging
// metadata or status; a user's id under channel_user_id, user_id or userId, its attributes
// nested under "attributes" or flat beside the id. Bodies are decoded as a stream of JSON
// tokens; each message is handed on exactly as sent (json.RawMessage, always a JSON object), so
// nothing the source sends is lost here. A 200 body without a list is accepted as an empty page
// only when it carries status code 1000; otherwise its shape is unknown and it is an error.
//
// # Paging
//
// ListUsers and Conversations ask page_number 1, 2, … with page_size Options.PageSize (at most
// 500, the API's cap; smaller for a deployment known to cap lower) and stop after an empty page,
// when total_elements are all seen, or after a page shorter than the deployment's real page
// size. A deployment may cap page_size below what was asked without saying so, so a short page
// alone does not prove the end: the real page size is the smaller page_size a page reports, or,
// without paging metadata, the largest page the Client has seen on that endpoint in its life
// (no page is longer than the cap). A short page without metadata that is not shorter than
// every page seen so far could be a cap: the next page is asked for to confirm the end, once,
// and only then (Stats.Confirmations). On a deployment that sends paging metadata this costs
// nothing; without it, a few requests while the Client learns the page size. A page identical
// to the previous one (a deployment that ignores paging) ends paging and is not delivered
// again; more than Options.MaxPages pages is ErrTooManyPages. Conversations asks for
// the whole window in one query: start_date and end_date in epoch milliseconds. A page is
// decoded in full before it is handed on, so a retried request never delivers a page twice.
//
// # Concurrency
//
// A Client is safe for concurrent use; so are its methods, Stats included. All its requests
// share one adaptive rate limiter (Limiter): the configured rate is a ceiling; a 429 lowers the
// rate by 10% (x0.90) once per congestion event and holds every request: for the Retry-After
// time when it is more than a second, and for a few request slots when it is one second or less
// (the least the header can say) or absent. The request that got the 429 itself waits the full
// Retry-After, and when the same request is answered 429 again it also backs off, more each
// time. Successes raise the rate back slowly toward the ceiling (+4% of it per second while the
// limiter is the bottleneck). The page size learned from the deployment is shared too: what one
// goroutine's pages show spares the others' confirmations. Conversations calls fn from the
// calling goroutine, one page at a time, in order. Nothing is kept per user between calls. A
// page's Messages are slices of a body buffer the Client reuses (one per goroutine paging at a
// time): they are valid until fn returns, and fn copies what it keeps.
//
// # Errors
//
// Input that cannot be right is refused before any request, with an error that names it and
// matches ErrInvalidInput: New returns an *OptionError naming the field of Options (out of
// range, malformed, missing); ListUsers and Conversations return an *InputError for an empty or
// blank selector name or value (also ParseSelector and Selector.Validate), a window with an end
// before 1970-01-01 or from the year 10000 on, or an end not after its start (also
// Window.Validate; these match ErrInvalidDate too), an empty user id, a nil context or callback.
// No public function panics on bad input.
//
// Retries live here: 429, 500, 502, 503, 504, 408, per-attempt timeouts, connection errors and
// cut-off, non-JSON or unrecognisable 200 bodies are retried with exponential backoff and full
// jitter between MinBackoff and MaxBackoff, every wait watching the context, up to MaxAttempts
// attempts; then a *RetryError names what was asked (the selector, or the user, window and
// page), the cause and the attempt count.
//
// # Deadlines
//
// Every attempt has AttemptTimeout (the body included). A request also has SilenceBudget
// (default AttemptTimeout + 30s): the time its attempts may spend waiting for answers that do
// not come (timeouts, failed connections) before it gives up, whatever MaxAttempts says, each
// attempt cut to what is left; answered attempts (a 5xx, a 429) do not spend it. So a request
// to an API that accepts connections and never answers gives up after about 90s at the
// defaults, not 8 x 60s. Client.Silence is how long the Client's requests have waited for an
// answer since the API last answered one (time with no request out, such as a hold after a
// 429 or a backoff, does not count), and Client.Stalled tells when it reached StallAfter
// (default AttemptTimeout + 15s): a caller then starts no more work (the pipelines start no
// more users). An API that answers every attempt within AttemptTimeout is never stalled. Other answers are not retried: callers decide with
// errors.Is / errors.As on ErrUnauthorized (401), ErrForbidden (403), ErrNotFound (404 on an API
// path: its message says to check --api-url, --customer and --bot), ErrInvalidUser (1002 on the
// conversations endpoint), ErrInvalidBot (1002 on the users endpoint), ErrInvalidDate (1003),
// ErrInvalidPage (1004), ErrTooManyPages, and *APIError for details. A status code other than
// 1000 in a 200 body is an *APIError too. A cancelled context ends any wait at once and is
// returned wrapped (errors.Is(err, context.Canceled)).
//
// # The API key
//
// No error or log line holds any 8-byte part of the API key, whatever a server echoes back and
// wherever a message is cut. Errors carry the method, path and query only, never headers. Text
// from elsewhere (bodies, headers, transport and decoder errors, user ids, selectors) is
// redacted before it is cut, cut with Clip, and redacted again: every token (a run of ASCII
// letters, digits and the bytes of the key's forms) that holds an 8-byte part of the key as it
// is, Go-quoted (%q, %+q), JSON-escaped (with or without HTML and non-ASCII escapes),
// URL-escaped or HTML-escaped becomes "[REDACTED]", whole, and the text around it stays as it
// was; a text that would still hold a part is withheld whole. A key shorter than 8 bytes is
// redacted where a form of it is a whole token (a query value, a header value, a word), never
// inside another word. RedactKey does the same for text that did not come through a Client (a
// command's error that echoes a flag's value).
package extract
