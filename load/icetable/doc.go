// Package icetable keeps the lake's Iceberg tables in a catalog, through
// github.com/apache/iceberg-go: it opens the catalog, creates or opens a table, lists its data
// files, commits one snapshot that removes and adds data files, and expires old snapshots.
// Package load is its only caller.
//
// # What it never does
//
// It never writes data files. The caller writes Parquet files itself, with the schema FieldIDs
// returns (a PARQUET:field_id on every field, nested ones included, and microsecond timestamps),
// under unique names (Iceberg never rewrites a file in place), and hands their paths, partition
// days, row counts and sizes to Commit. The manifests record no column statistics (bounds, null
// counts): engines read such tables correctly but cannot prune files by column values.
//
// It deletes data files only when expiring snapshots (Expire, ExpireAll): those that no
// remaining snapshot references.
//
// # Catalogs
//
// Open takes the --catalog URI. "sqlite:PATH" is a SQLite database in iceberg-go's SQL catalog
// layout (tables iceberg_tables and iceberg_namespace_properties, catalog name CatalogName), read
// through the pure-Go driver modernc.org/sqlite, so CGO_ENABLED=0 builds work.
// "postgres://..." (or "postgresql://") is the same layout in a PostgreSQL database, through
// the pure-Go pgx driver (the password may also come from PGPASSWORD or a .pgpass file); the
// database must exist. "glue:" is the AWS Glue Data Catalog of the caller's account and
// "glue://ACCOUNT_ID" that of the 12-digit account ACCOUNT_ID (iceberg-go's Glue catalog, through
// aws-sdk-go-v2): the namespace is a Glue database, created if missing, and each table a Glue
// table of type ICEBERG whose metadata_location parameter names its current metadata.json.
// Region, endpoint and credentials come from the standard AWS configuration only (AWS_REGION,
// AWS_PROFILE, AWS_ENDPOINT_URL_GLUE or AWS_ENDPOINT_URL, the shared files, instance and
// container roles), never from the URI; a configuration without a region is an error at Open.
// Any other scheme is ErrUnsupportedCatalog. No error or log line shows the URI's userinfo or
// query: they are cut from the URI, and a driver error that quotes the password has it replaced.
// Likewise, a Glue call's error that quotes an AWS credential (AWS quotes the access key id and
// session token in a signature mismatch) has it replaced.
//
// # File IO
//
// iceberg-go reads and writes the tables' metadata (and deletes what an expiry drops) through a
// FileIO it picks by the location's scheme: file://, and, registered by this package's imports
// of iceberg-go's io/gocloud backends, gs://, s3:// (s3a://, s3n://) and abfs[s]:// / wasb[s]://.
// Config.Props configures them with iceberg-go's property names; StoreIO gives the root URI and
// the properties of a lake's cloud store from its storage.Access, so that the FileIO reaches
// the bucket with the store's own settings: on GCS the emulator host; on S3 the endpoint,
// region and addressing (credentials from the same standard AWS chain); on Azure a connection
// string (the store's, or its blob endpoint and SAS token), else the endpoint for Azure's
// default credentials. Azure's properties hold secrets; every error of Open, Close and the
// exported methods of Catalog and Table goes through Config.Redact (iceberg-go prints a SAS
// token in the URL of a request it could not make).
//
// # Tables
//
// Catalog.Table creates a missing table (format version 2, partitioned by day of one timestamp
// or date column, partition field "<column>_day") and refuses an existing one whose schema,
// partition spec or location differ (ErrTableMismatch). A Table handle caches the table's
// metadata as of its last load or commit: Files, AllFiles and Current read that cache; Committed,
// Expire and ExpireAll reload it first, Commit reloads it when the catalog refuses a stale commit.
//
// # Commits
//
// Commit makes one snapshot per call (append, or overwrite when it removes files), with the
// caller's summary properties plus CommitIDKey. When another writer committed first it reloads
// and tries again, up to 6 attempts over a few seconds, as long as every file it removes is still
// live; otherwise ErrConflict and nothing is committed. A commit whose outcome is unknown (an
// error after the catalog may have accepted it) is recognised on reload by its CommitIDKey and
// reported as done. iceberg-go's own commit retries stay off (its default), so no commit is
// replayed on metadata this package has not checked.
//
// # Concurrency
//
// A Catalog and its Tables are safe for concurrent use by several goroutines: a Table's methods
// serialise on the handle, and iceberg-go's SQL catalog runs each catalog change in a database
// transaction that swaps the table's metadata location only if it is still the one the commit
// started from. Several processes may share one SQLite file (WAL, IMMEDIATE transactions and a
// 30 s busy timeout): two commits to one table are ordered by the catalog and the later one is
// retried as above. On Glue, iceberg-go's commit reads the Glue table, writes the new
// metadata.json and updates the table with the VersionId it read: Glue refuses the update when
// another writer updated the table in between (ConcurrentModificationException, wrapped in
// table.ErrCommitFailed), and Commit reloads and retries as above; the loser's metadata.json is
// left for DeleteOrphans. Two handles of one table in one process behave like two processes.
//
// # Errors
//
// Every error names the table (namespace.table) or the catalog (its URI without userinfo) and
// wraps its cause. Callers decide with errors.Is on ErrUnsupportedCatalog, ErrTableMismatch,
// ErrFieldIDs and ErrConflict; iceberg-go's own sentinels (catalog.ErrNoSuchTable,
// table.ErrCommitFailed) stay visible through the wrapping. A cancelled context ends a retry loop
// with the context's cause.
package icetable
