// Package sim is a Technowiz API simulator: deterministic synthetic users and conversations
// from a seed, served over HTTP in the canonical shape or in any variant of the contract
// (/work/shared/technowiz-api.md), with injectable faults (429s, 5xx, cut-off bodies, latency,
// a server-side rate limit, inclusive end bounds, a users endpoint that ignores paging, invalid
// users, 403) and a ground truth (Truth, UserIDs, MinRequests) that tests compare the lake with.
//
// Tests use it in-process (httptest.NewServer(s)); `chatlake sim` serves it, its flags (the
// command's option table) setting the fields of Options.
//
// # Data
//
// New generates everything up front from Options.Seed. User i is drawn from its own PCG stream
// (seed, i), so the same seed gives the same data, and a smaller Users gives a prefix of the
// same users. Roles by index:
//
//   - 0: the straddle user (whatsapp), 1000..1700 messages; two identical twins at positions
//     StraddlePosition and StraddlePosition+1 (499/500) of its messages in [From, To), so the
//     pair straddles a 500-message page boundary; messages exactly at From, at To-1ms, at every
//     midnight of the range and at the millisecond before it; one session holding every message
//     kind in every timestamp form, every offset in every string form, and letter-case variants
//     of sender and message_type.
//   - 1: the trio user (web), 600..1200 messages, three identical messages.
//   - 2, 3: channel "telegram", ids holding '+', ':', '/', spaces and parentheses, e.g.
//     "tg:+44 20/7946 0864" and "tg:+1 (555)/0100:790 ext 3".
//   - i%10 == 4 (i >= 4): no messages at all (~10% of users).
//   - others: whatsapp (60%: country code and digits, no '+') or web (40%: a UUID), 5..80
//     messages; 15% of them get one identical twin.
//
// Fixtures names these users. Attributes: user.user_name, user.phone_no (whatsapp, telegram),
// user.channel, feedback "1".."5", segment "a"/"b"/"c"; created_at is before From. The User API
// lists users by created_at, then id. Selectors (feedback=1..5) cover every user.
//
// Messages come in sessions of 1..12, 0.3..120 s apart, with session starts uniform over
// [From, To-1h). Kinds, by weight: user TEXT, bot TEXT, OPTIONS ("[a, b, c]"), agent TEXT,
// AGENT_PARTICIPATION_STATUS (a JSON string with agentId and PARTICIPATION_MESSAGE),
// FILE_RECEIVED ("User uploaded NAME - [MIME]" with file), outbound IMAGE and
// VIDEO/AUDIO/DOCUMENT with file, TEMPLATE with template {name, language, broadcast_id},
// LOCATION (a type outside the contract's list) with an extra "location": {lat, lng}, BUTTON
// and CAROUSEL, and user TEXT with an attachments list. Texts include non-ASCII, emoji, quotes,
// backslashes, newlines, HTML and the empty string. On web, user_id is a session UUID (new per
// session), elsewhere the channel user id. ~1% of messages sit exactly at 00:00:00.000 UTC and
// ~1% at 23:59:59.999. ~5% have sender or message_type in another letter case ("USER", "Bot",
// "text"); Message holds the canonical lower-case sender and upper-case type. Timestamps: 70%
// "yyyy-MM-dd HH:mm:ss.SSS+hhmm", 10% "yyyy/MM/dd ...", 10% RFC 3339 with ms, 10% a JSON number
// of epoch ms; 40% of string timestamps carry an offset other than +0000 (+0530, -0300, +0100,
// +0545, -0800, +1000, +0200, -0430). The instant is always SentAt. ~3% of messages arrive
// (ArrivesAt) 2..30 h late and ~1% 4..6 days late; the API serves a message only once
// ArrivesAt <= Clock().
//
// # HTTP
//
// Paths and parameters are the contract's; ids in paths are read from r.URL.EscapedPath and
// unescaped with url.PathUnescape, so ids with '/', '+' or spaces round-trip when the client
// path-escapes them (a query-escaped space, '+', turns into a different, unknown id). Checks, in
// order: latency and spikes; the server-side rate limit (429 + Retry-After); unknown path 404
// (plain text); method other than GET 405; Authorization exactly "Basic <APIKey>" else 401;
// Faults.Forbidden 403; random 429 (Retry-After: whole seconds, at least 1) and random
// 500/502/503/504 (an nginx-like HTML body); wrong customerId or botKey 400 1002;
// Faults.RejectConversations 400 with its code on the conversations endpoint; then:
//
//   - users: attribute_name and attribute_value must both be present and non-empty, else 400
//     with status code 1002 INVALID_BOT_OR_CUSTOMER_ID and details naming the parameters (a
//     simulator choice; the contract does not say). Matches are users whose attribute equals
//     the value exactly.
//   - conversations: unknown (or Faults.InvalidUsers) user 400 1002; start_date/end_date not
//     base-10 integers, or both given and end_date <= start_date, 400 1003; blank start_date is
//     the beginning, blank end_date is now (Clock). Served: start_date <= SentAt < end_date (<= with
//     Faults.InclusiveEnd) and ArrivesAt <= now, ascending by time.
//   - both: page_number not a positive integer 400 1004; page_size not a positive integer
//     also 400 1004 (details say page_size; a simulator choice); page_size above MaxPageSize is
//     capped and the capped size is reported; default page_size min(500, MaxPageSize); a page
//     past the end is an empty list.
//
// Error bodies are {"status":{"code":N,"desc":"...","details":"..."}} in every variant; 401,
// 403 and 429 use the HTTP status as code. A cut-off answer (Faults.PCutOff, 200 only) declares
// the full Content-Length and sends 5..95% of the body; the server then closes the connection,
// so the client reads an unexpected EOF.
//
// Variants change only the framing of a 200: see the Variant constants. Paging works the same
// in every variant, MaxPageSize included; VariantNoPaging only omits the metadata (so a capped
// page says nothing of the cap: a deployment that caps page_size silently); VariantMixed picks
// a fixed variant per response.
//
// # Ground truth
//
// Truth lists what a correct export contains (Message.Raw is each message exactly as served);
// users in Faults.InvalidUsers are left out of it but stay in UserIDs. MinRequests is the
// fewest requests a correct client needs (see its doc for the +1 of a client that pages until a
// short page). Stats counts requests by endpoint, answers by HTTP status and faults by kind.
//
// # Concurrency
//
// A Server is safe for concurrent use; data is read-only after New. Fault and variant draws
// come from one seeded math/rand/v2 source under a mutex, a fixed number per request, so they
// are deterministic for a given seed and request order. The rate limit (golang.org/x/time/rate)
// runs on the real clock, not on Clock. Options.Clock must be safe for concurrent calls.
//
// # Errors
//
// New returns an *OptionError naming the invalid field (a negative count, size or duration, a
// probability outside [0, 1], a range outside 1971..9999, an unknown variant, ...); no option
// makes New or the Server panic. Nothing panics on a bad request: it gets the contract's error
// answer.
package sim
