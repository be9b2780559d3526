// Package transform flattens the API's message objects into rows of the messages table
// (schema.Message) and user objects into rows of the users table (schema.User).
//
// Flatten is lossless: every field it does not map to a column goes into extra_json, and the
// timestamp's original form stays in source_timestamp. Timestamps are accepted as
// "yyyy-MM-dd HH:mm:ss.SSS+hhmm", "yyyy/MM/dd HH:mm:ss.SSS+hhmm", RFC 3339, or a JSON number of
// epoch milliseconds, with any UTC offset, and normalised to UTC.
//
// Message keys: the API has no message id. Identity hashes what makes a message itself
// (customer, bot, channel user, sent_at to the millisecond, sender, message type, text);
// MessageKey adds the message's occurrence number among identical messages of that user, so
// the same message gets the same key on every run and two genuinely identical messages get
// two keys.
package transform
