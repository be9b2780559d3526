// Package transform flattens the API's message objects into rows of the messages table
// (schema.Message) and user objects into rows of the users table (schema.User). It does no I/O
// and keeps no state.
//
// Flatten is lossless: every field it does not map to a column goes into extra_json (a JSON
// object, keys sorted, values as sent), and the timestamp's original form stays in
// source_timestamp. Timestamps are accepted as "yyyy-MM-dd HH:mm:ss.SSS+hhmm",
// "yyyy/MM/dd HH:mm:ss.SSS+hhmm" (any number of fractional digits, or none), RFC 3339, or epoch
// milliseconds (a JSON integer or a string of digits), with any UTC offset, and normalised to
// UTC, truncated to the millisecond (ParseTimestamp). sender is lower-cased and message_type
// upper-cased; nothing else is changed. docs/schema.md describes every column for analysts.
//
// FlattenPage flattens a page's messages as Flatten does each: each message is checked and
// walked in one pass (no map, no encoding/json for the fields the API sends), and the rows of a
// page share one copy of the page's text and one block of nullable columns, so that a page
// costs a few allocations rather than a few per message. The rows own their memory: they do not
// alias the messages given.
//
// A user object's layout (which key holds the id, nested or flat attributes, which fields no
// column holds) has its one home in package extract: FlattenUser maps extract.User, and
// User.Extra, to columns.
//
// Message keys: the API has no message id. IdentityOf hashes what makes a message itself
// (customer, bot, channel user, sent_at to the millisecond, sender, message type, text) and
// nothing that can change between runs (file URLs are signed and expire); MessageKey adds the
// message's occurrence number among messages with the same identity, so the same message gets
// the same key on every run and two genuinely identical messages get two keys. The caller
// counts occurrences in the order the API returned the messages. The key's derivation is part
// of the schema: changing it needs a schema.MessagesVersion bump.
//
// Pseudonymisation (pseudonym.go): a Pseudonymizer maps a user id, or a PII attribute's value, to
// the lower-case hex of HMAC-SHA256(key, value), names its key by a fingerprint and derives a
// separate sealing key; RewriteMessage hashes the id fields of a message object before Flatten
// sees it (so message keys derive from the pseudonym), and Pseudonymizer.User the ids and PII
// attributes of a users row. A Redactor (redact.go) replaces e-mail addresses, phone numbers and
// Luhn-valid card numbers in text by fixed tokens, best-effort. docs/schema.md states what each
// hides and what it does not.
//
// # Concurrency
//
// Every function is safe for concurrent use: none keeps state, and none changes its arguments.
// A Pseudonymizer and a Redactor are immutable once made.
//
// # Errors
//
// A message or user that is not a JSON object, or a message whose timestamp is absent or
// unparseable, gives a *FieldError (the field and its value as sent, cut to a bounded length
// with extract.Clip) matching ErrNotObject or ErrTimestamp. Errors never hold an API key: this
// package never sees one. The caller reports it: nothing is dropped silently. Values that only feed a
// derived column (the items of an OPTIONS response, the agentId of an
// AGENT_PARTICIPATION_STATUS response, a user's created_at) are not errors when they do not
// parse: the derived column is NULL and the source text is kept.
package transform
