// Package schema defines the output tables of chatlake: their Arrow schemas, their row types,
// the conversion of rows into Arrow records, and the schema version written into every file.
//
// The messages table has one row per message (Message); the users table has one row per
// exported user per run (User). Column names are stable: a change to a column's name, type or
// nullability bumps MessagesVersion (or UsersVersion) and shows in the golden test under
// testdata/, so it is seen in review. docs/schema.md documents every column for analysts.
//
// Timestamps are Arrow timestamp[ms, tz=UTC], which Parquet stores as TIMESTAMP(MILLIS,
// isAdjustedToUTC=true): DuckDB, BigQuery and Spark read them as timestamps in UTC.
package schema
