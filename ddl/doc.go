// Package ddl prints ready-to-run definitions of a chatlake lake for the engines analysts query
// it with: DuckDB, BigQuery (external tables), Spark SQL, Trino (Hive connector), Amazon Athena
// (external tables with partition projection, so no crawler or MSCK REPAIR is needed) and
// Snowflake (external tables over an external stage).
//
// Write prints, for one engine and one lake root (a directory, file:///DIR,
// gs://BUCKET/PREFIX or s3://BUCKET/PREFIX; for Snowflake, whose stage reads only cloud
// storage, s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or
// az://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX), the tables messages (partitioned by dt)
// and users (partitioned by snapshot_date) over the lake's Parquet files, and three views over
// them:
//
//   - users_latest: each user's row of the newest snapshot;
//   - sessions: one row per session, a user's run of messages in which no gap between two
//     consecutive messages is longer than Options.SessionGap (a gap of exactly SessionGap stays
//     in the session);
//   - broadcasts: one row per (broadcast_id, template_name) with reach, replies within
//     Options.ReplyWindow and the sessions the template opened.
//
// The column lists come from schema.Messages() and schema.Users(), so they change when the
// schemas do; an Arrow type without a mapping for an engine is an error, never a guess. The
// views are computed from messages every time they are read: a late message, a re-export or a
// session that crosses UTC midnight (and so two dt partitions) is in the next query's answer,
// with no second copy of the data to refresh. docs/schema.md documents the columns, the
// engines' options and their caveats.
//
// The output is a script of statements, each ending with ";", that can be run again (CREATE OR
// REPLACE, IF NOT EXISTS). Write creates nothing itself and opens no store.
//
// # Errors
//
// Options that Write refuses are an *OptionError naming the Options field (Engine, Lake,
// Schema, SessionGap, ReplyWindow, RequirePartitionFilter, FirstDay, StorageIntegration);
// nothing is written then.
//
// # Concurrency
//
// Write may be called concurrently.
package ddl
