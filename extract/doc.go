// Package extract reads users and conversations from the Technowiz API
// (../shared/technowiz-api.md): the User API over one or more attribute selectors, and each
// user's Conversations API over a time window, page by page.
//
// A Client accepts every response variant of the contract: lists under responseObject or at the
// top level, under "conversations" or "messages" ("users" for users), with or without paging
// metadata or status. Bodies are decoded as a stream; each message is handed on exactly as sent
// (json.RawMessage), so nothing the source sends is lost here.
//
// # Concurrency
//
// A Client is safe for concurrent use. All its requests share one adaptive rate limiter: the
// configured rate is a ceiling, lowered when the API answers 429 and raised back slowly.
//
// # Errors
//
// Retries live here: 429, 5xx, timeouts, connection resets and cut-off or non-JSON bodies are
// retried with exponential backoff and jitter, honouring Retry-After, up to a bound per request.
// Callers decide on the rest with errors.Is / errors.As: ErrUnauthorized, ErrForbidden,
// ErrInvalidUser, ErrInvalidBot, ErrInvalidDate, ErrInvalidPage, and *APIError and
// *RetryError for details. No error or log line ever contains the API key.
package extract
