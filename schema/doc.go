// Package schema defines the output tables of chatlake: their Arrow schemas, their row types,
// the conversion of rows into Arrow records, and the schema version written into every file.
//
// The messages table has one row per message (Message, Messages()); the users table has one row
// per exported user per run (User, Users()). Column names are stable: a change to a column's
// name, type or nullability, or to the meaning of a value (such as the derivation of
// message_key), bumps MessagesVersion (or UsersVersion) and shows in the golden tests under
// testdata/, so it is seen in review. docs/schema.md documents every column for analysts, and a
// test keeps its column tables equal to the schemas. Both schemas carry the metadata
// chatlake.table and chatlake.schema_version, which pqarrow writes into each Parquet file's
// key-value metadata.
//
// Timestamps are Arrow timestamp[ms, tz=UTC], which Parquet stores as TIMESTAMP(MILLIS,
// isAdjustedToUTC=true): DuckDB, BigQuery and Spark read them as timestamps in UTC. The builders
// convert any time.Time to UTC epoch milliseconds, truncating finer digits. Lists are
// list<utf8> with non-null items; a nil slice is NULL, an empty slice an empty list.
//
// # Memory
//
// MessageBuilder and UserBuilder allocate from the memory.Allocator they are given. The caller
// owns each record batch returned by NewRecord and must Release it, and must Release the
// builder when done with it.
//
// # Concurrency
//
// Messages and Users may be called concurrently. A builder is not safe for concurrent use.
//
// # Errors
//
// ParseDay's error quotes the input, and callers add the flag or field it came from.
// AppendMessages returns an error naming the column that is missing or of another type, with
// the rows decoded before it appended. Nothing in this package panics on bad input.
package schema
