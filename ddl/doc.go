// Package ddl prints ready-to-run definitions of a chatlake lake for the engines analysts query
// it with: DuckDB, BigQuery (external tables), Spark SQL, Trino (Hive connector), Amazon Athena
// (external tables with partition projection, so no crawler or MSCK REPAIR is needed) and
// Snowflake (external tables over an external stage). That is for a lake of Hive-partitioned
// Parquet files, the default; a lake of Iceberg tables has its own definitions (below).
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
// # Iceberg lakes
//
// With Options.TableFormat Iceberg, the lake's tables are Apache Iceberg tables in an Iceberg
// JDBC catalog (Options.Catalog: sqlite:PATH, by default LAKE/_chatlake/catalog.db for a
// local lake, or postgres://USER@HOST:PORT/DB), catalog name and namespace "chatlake", or in
// the AWS Glue Data Catalog (glue: or glue://ACCOUNT_ID), Glue database "chatlake". Their
// schema and partitioning (day(sent_at), day(extracted_at)) are in the Iceberg metadata, so
// nothing declares columns or partitions, and no definition reads a dt or snapshot_date
// column (users_latest computes snapshot_date, the UTC day of extracted_at). Per engine:
//
//   - Spark: the configuration of an Iceberg catalog named chatlake (type jdbc, or glue) as
//     comments; the views read chatlake.chatlake.messages and go in spark_catalog.SCHEMA;
//   - Trino: an Iceberg connector catalog file (iceberg.catalog.type=jdbc, or glue with a
//     placeholder for the region, which only the export's AWS configuration knows) as
//     comments; the views go in that catalog (Schema is CATALOG.SCHEMA, default
//     chatlake.chatlake). A SQLite catalog needs its JDBC driver added to Trino (Trino ships
//     PostgreSQL's only): said so;
//   - DuckDB: views over iceberg_scan of each table's directory with version guessing (the
//     catalog writes no version-hint.text), and how to scan the current metadata file instead;
//   - BigQuery (gs:// lakes) and Snowflake: a table over one metadata file of each table,
//     whose name is a placeholder to fill in from chatlake status: pinned to that snapshot
//     until replaced (BigQuery) or refreshed (Snowflake);
//   - Athena: with a Glue catalog only (else refused naming Catalog), the views over the
//     tables as Glue has them, awsdatacatalog.chatlake.messages, or for glue://ACCOUNT_ID
//     those of an Athena data catalog chatlake_glue registered once (the command is shown).
//
// A password in the catalog URI is never printed: Spark's configuration holds a placeholder,
// Trino's reads the environment variable CHATLAKE_CATALOG_PASSWORD; query parameters other
// than the TLS ones are left out of the JDBC URL, and errors name the URI without its
// password, query or fragment. A glue URI holds no secret (region and credentials are the
// reader's AWS configuration); one of another form is refused without being quoted.
//
// The output is a script of statements, each ending with ";", that can be run again (CREATE OR
// REPLACE, IF NOT EXISTS). Write creates nothing itself and opens no store.
//
// # Errors
//
// Options that Write refuses are an *OptionError naming the Options field (Engine, Lake,
// Schema, SessionGap, ReplyWindow, RequirePartitionFilter, FirstDay, StorageIntegration,
// TableFormat, Catalog); nothing is written then.
//
// # Concurrency
//
// Write may be called concurrently.
package ddl
