// Package load writes the lake: Hive-partitioned Parquet files of the messages table
// (messages/dt=YYYY-MM-DD/*.parquet, dt being the UTC date of sent_at), a manifest per
// partition, the users table, and the durable pieces of a run (plans, staged batches) onto a
// storage.Store (a local directory, GCS, S3 or Azure Blob), or the same tables as Apache Iceberg
// tables in a catalog (Options.Catalog: "Iceberg tables" below). It is the one owner of the lake's layout:
// layout.go makes and parses every object name (other packages take names and globs from its
// exported constants and functions: StatePath, TableGlob, TableDir, ...); callers pass days,
// plan ids and batch numbers.
//
// # Owned objects
//
// Each object under _chatlake/ that a run reads back has one typed home here, with its
// encoding, its format check and its conditional write; other packages use these types and
// methods and never the store or the bytes:
//
//   - the state (state.go): State, ReadState (format check; ErrCorruptState for a file that does
//     not decode), WriteState (conditional on the version read: ErrStateChanged), and
//     KeepStateAside (the bad file copied before a rebuild replaces it). Package pipelines
//     decides what the state says and when it is written.
//   - the lock (lock.go): LockRecord, ReadLock, AcquireLock, which admits one plan, or the shards
//     of one sharded plan, and gives a Lock whose Renew, Release, ClaimPublisher (of holders
//     that claim at once exactly one wins) and MarkPublished are each a read-modify-write
//     conditional on the version read. Package pipelines decides when to take it and renews it.
//   - the lake's mode (lakemode.go): LakeMode, ReadMode, CreateMode (create-only).
//   - the partitions' manifests (lake.go, publish.go): Manifest, written by Merge.
//   - a run's plan (plan.go, runs.go): Plan, PlanBatch, CreatePlan (create-only: of two
//     processes that plan at once, both get the one stored), ReadPlan (format check,
//     ErrNoPlan); its batches' users, BatchUsers (batchusers.go: WriteBatchUsers, before the
//     plan, in a few objects the plan names; ReadBatchUsers); each
//     finished batch's done object (done.go): its BatchDone, with the index of its staged
//     rows, which it holds when they fit (FinishBatch, create-only;
//     ReadBatchDone, BatchesDone). Package pipelines decides how a run is cut into batches,
//     and seals a pseudonymised lake's raw ids (BatchUsers.Sealed is opaque here).
//
// # Layout
//
//	messages/dt=YYYY-MM-DD/part-SSSSS-of-PPPPP.parquet     the partition's shards
//	users/snapshot_date=YYYY-MM-DD/part-<plan>.parquet      the users one run listed that day
//	_chatlake/manifests/messages/dt=YYYY-MM-DD.json         the partition's manifest (Manifest)
//	_chatlake/state.json                                    the lake's state (State)
//	_chatlake/state.json.corrupt-<UTC time>                 a state put aside by a rebuild (KeepStateAside)
//	_chatlake/lock.json                                     the run lock (LockRecord)
//	_chatlake/lake.json                                     the lake's mode (LakeMode), create-only
//	_chatlake/runs/<plan>/plan.json                         a run's plan (create-only)
//	_chatlake/runs/<plan>/attempts/<attempt>/users-NNNNNN.json  the users of batches NNNNNN.. (about 1 MiB each)
//	_chatlake/runs/<plan>/attempts/<attempt>/done/batch-NNNNNN.done  a finished batch, create-only: its rows, every day (if they fit), and its BatchDone
//	_chatlake/runs/<plan>/attempts/<attempt>/staged/batch-NNNNNN-PPP.arrow  the rows of a batch that did not fit (part PPP)
//	_chatlake/staging/<run>/messages/dt=YYYY-MM-DD/...      shards being merged, before the move
//
// <attempt> is the run id of the planner that wrote plan.json: one instance of the plan. A
// plan id comes back when the same command runs again after its plan was published and
// removed; a removal cut short leaves the old instance's objects behind, and since every
// record of progress is named by its attempt, none of them counts for the new instance.
//
// A message's shard is fnv-1a-64(message_key) mod P. P is chosen the first time a day gets
// files, as max(1, ceil(estimated Parquet bytes of the staged rows / Options.TargetFileSize)),
// the estimate being 4/7 of the size of the day's staged bytes (a half of those staged in
// format 1 and a third of those in format 0 by binaries before; measured, staged.go) plus the size of any Parquet staged file
// of a binary before that, and then kept: it is read from the
// manifest (or, without one, from the names of the partition's files when they
// agree), so a message always lands in the same file name. A shard with no rows has no file; a
// day with no rows has no file and a manifest with rows 0. Analysts glob
// messages/dt=*/*.parquet; nothing under _chatlake matches.
//
// # Files
//
// Parquet through pqarrow: zstd (level 1 for messages); in messages, dictionary encoding for the
// columns whose values repeat within a file (channel, sender, message_type, text,
// template_name, template_language, broadcast_id, file_mime_type, file_upload_type, agent_id),
// plain for the others (parquet.go says why);
// timestamps TIMESTAMP(MILLIS, isAdjustedToUTC=true), with the Arrow schema stored so Arrow
// readers keep tz=UTC; key-value metadata chatlake.table, chatlake.schema_version and
// chatlake.run_id. Row groups hold Options.RowGroupRows rows, each sorted by (channel_user_id,
// sent_at, message_key).
//
// A finished batch is staged as one object (a further part past 64 MiB) holding the record
// batches its Stage made (up to 512 rows each), grouped by day in day order (staged.go), in
// staged format 2 (stagedcols.go): the header of an Arrow IPC file (magic, schema message),
// then each day's record batches as one S2 stream of their Arrow IPC messages, of the staged
// columns: the messages schema less what the part
// rebuilds when it is read: customer_id, bot_key, run_id and extracted_at, which a batch's
// rows share, are kept once in the part's schema metadata; a message_key of the form
// transform.MessageKey makes is 16 bytes and an occurrence; a source_timestamp that is
// sent_at in one of the API's forms is a form and a UTC offset; a user_id equal to the row's
// channel_user_id is a flag. That is about 53% of format 0's bytes at 2,900 rows per batch and
// day, 51% at 140 (format 0: the messages schema as it is, in an Arrow IPC file with LZ4 body
// compression, one frame per buffer, which binaries before staged; format 1: the staged
// columns in such a file; both still read: the index says each part's format). Its done record (BatchDone) holds the index: for each part, the size of its
// header and each day's byte range, so a publisher reads one day's rows of a batch with one
// ranged read (storage.Store.OpenRange), or a window of consecutive days' rows of a batch with
// one (FetchStaged: adjacent in the object). The part is the batch's done object itself when
// the rows fit in memory (done.go: the record follows them in the object), so a run writes one
// object per batch whatever its number of days. Merge still reads what binaries before staged, one file per batch and day
// (staged/dt=YYYY-MM-DD/batch-NNNNNN.arrow, or .parquet), for the batches whose done record has
// no index, so such a plan publishes after an upgrade; a plan staged before the attempts
// layout is extracted again (docs/design.md).
//
// # Merge publishing
//
// Merge publishes one day for a plan: the partition keeps the rows of every user Replace
// refuses and gets the plan's staged rows of the day in place of the rows of the users it
// accepts. Its steps:
//
//  1. Remove what failed runs left in staging for the day.
//  2. Read the manifest and its version, and list the partition. A complete manifest naming
//     this plan instance means the day is published already: nothing more is done.
//  3. Read the day's range of each staged batch (MergeInput.Staged): from the window read
//     ahead (MergeInput.Fetched), else downloaded 16 at a time, or read in place from a local
//     store; and for each shard the old files it needs; write every
//     changed shard (kept old rows + staged rows of its keys, sorted by row group) to
//     _chatlake/staging/<run>/..., checking every Close. A duplicate key, or staged rows of a
//     user Replace refuses, fails here. A shard with nothing removed and nothing added is kept.
//     Rows go from record batches to Parquet by columns, never as Go values: a batch's rows are
//     kept or left out by index (the shard of message_key, Replace of channel_user_id), a row
//     group's indexes are sorted over the columns, and each column is gathered in that order
//     into the record batch written (shard.go). A day of one shard reads its staged rows as
//     it writes; a day of more first splits them, in one pass, into a local spill file per
//     shard (shard.go, splitStaged): a staged segment is decoded once per day, whatever its shards.
//  4. Write the manifest marked incomplete, on condition that its version is still the one read
//     in step 2: a concurrent writer fails here with ErrConcurrentWrite, before any file changed.
//  5. Delete the partition's files of another layout (their kept rows are in the new shards).
//  6. Move each changed shard into place (one atomic object write per file); delete the shards
//     that are empty now.
//  7. Write the manifest marked complete, on condition of the version written in step 4.
//  8. Remove the run's staging of the day.
//
// What a reader that globs the partition sees, and what a failure leaves:
//
//   - A failure in steps 1 to 4, or at the first change of steps 5-6, leaves the partition's
//     files and its manifest exactly as they were (the previous manifest is restored).
//   - At any moment every file is a complete shard, old or new, and no message_key is in two
//     files: a key always maps to the same file name, and files of another layout are gone
//     before any new shard comes in. Between steps 5 and 6 the glob may miss the rows of a
//     removed foreign file; it never sees a row twice.
//   - A failure after step 4 leaves a manifest marked incomplete (Verify reports it); the next
//     Merge of the day repairs the partition. A kill at any point is a failure at that point.
//
// GCS has no rename: Move is a server-side copy then a delete, still atomic for the reader of
// the destination. Manifests, plans and done records are written with generation preconditions.
// ForgetMessages is Merge with no plan (the users' rows go, nothing comes in); ForgetUsers
// rewrites each users file that holds one of the users in one atomic write.
//
// # Iceberg tables
//
// With Options.Catalog set, messages and users are Iceberg tables (package icetable, over
// iceberg-go) at TableDir of each, in the catalog's namespace. Their data files are written by
// this package through the store, as on a Hive lake, with unique names (Iceberg never has a
// file rewritten in place):
//
//	messages/data/dt=YYYY-MM-DD/part-SSSSS-of-PPPPP-<run>.parquet  a day's shard, written by <run>
//	users/data/snapshot_date=YYYY-MM-DD/part-<plan>-<run>.parquet  the users a plan listed
//	messages/metadata/, users/metadata/                             the tables' metadata (iceberg-go)
//	_chatlake/catalog.db                                            the default SQLite catalog of a local lake
//
// The files carry field ids (icetable.WithFieldIDs) and TIMESTAMP(MICROS, UTC) columns and no
// stored Arrow schema (micros.go converts back to milliseconds where this package reads them);
// there are no per-partition manifests, the table's current snapshot being the truth: Days,
// Verify, the users table and shard counts read it.
//
// A Publication (BeginPublication) is one publishing of the messages table, a plan's or an
// erasure's. Merge of each day reads the partition from the current snapshot and the staged
// rows as on a Hive lake (step 3), but writes each changed shard straight to a new data file of
// its own (nothing is moved), and records in the Publication which files of the current
// snapshot they replace (the same shard's old file, an emptied shard's, any file of
// another shard count); no manifest is written and nothing a reader sees changes. Commit makes
// every day's changes one snapshot, whose summary names the plan instance (SnapshotPlan) and run
// (SnapshotRunID); a commit that lost a race to another writer is retried on the refreshed
// table by icetable. BeginPublication finds a plan instance whose commit landed already (a
// publisher killed after its commit): Landed, and nothing is merged again; Commit checks once
// more just before it commits (ErrConcurrentWrite when another process did meanwhile). A kill
// before the commit leaves data files that no snapshot references: the next commit deletes the
// ones older than a day (orphanMinAge), after expiring the snapshots older than
// Options.SnapshotRetention and the files only they held. The users table gets one commit per
// run, replacing the users file of the same plan. ForgetMessages and ForgetUsers are one
// commit each, followed by the expiry of every older snapshot and the deletion of every file no
// remaining snapshot holds (ExpireAll), so no snapshot keeps an erased user's rows.
//
// The tables' metadata (metadata JSON, manifest lists, manifests), and the data files an
// expiry drops, go through iceberg-go's FileIO, which picks a backend by the URI's scheme. The
// metadata records every object by the URI objectURI gives it, and objectName maps such a URI
// back to the object (orphans, merges, forget and verify read data files through the store):
//
//	local directory   file:///DIR/NAME
//	gs://B/P          gs://B/P/NAME
//	s3://B/P          s3://B/P/NAME
//	az://C/P          abfss://C@ACCOUNT.dfs.core.windows.net/P/NAME
//
// abfss:// is what Spark's and Trino's Azure file systems and Iceberg's ADLSFileIO read (and
// what iceberg-go registers, with wasb[s]://); ACCOUNT is the store's account (storage.Access).
// On a cloud store NewLake configures the FileIO from the store's own settings (its
// storage.Access, through icetable.StoreIO): one definition of each option. A cloud store that
// cannot tell them (an Azure store made from a caller's client) cannot hold an Iceberg lake.
//
// # Memory and disk
//
// A Stage turns rows into Arrow record batches of up to 512 rows or about 256 KiB of values per
// day, and holds them in memory while the lake's stages together hold less than
// Options.StageMemory (16 MiB); past it, a stage that adds rows spills: each of its days
// becomes a local spill file, an Arrow IPC stream of the messages schema (stage.go) with a
// 32 KiB buffer, and the rows that come later go there. FinishBatch writes one staged object at
// a time, a record batch at a time, as the stage holds or spilled them. Merge writes one Parquet
// file at a time, one row group (Options.RowGroupRows rows, or the day's rows if fewer) at a
// time; its memory is one row group of rows in the record batches they were read in (a batch
// of which fewer than half the rows are kept is copied down to them, so these hold at most
// twice the row group's rows) and once more as the row group's record, 48 bytes a row to sort
// them, the writer's buffers (Parquet pages), one open source (a reader, with a format 2
// segment's S2 buffers of about two 64 KiB blocks, and one decoded record batch: Merge opens
// the day's staged segments one after the other, however many there are),
// the set of keys of the file being written (for ErrDuplicateKey: one copy of the keys of the
// rows written) and the hashes of the replaced rows' keys (for PublishStats.Added). At the
// default 64Ki rows and the simulator's rows (about 324 bytes each as uncompressed Arrow,
// BenchmarkStagedFormat) that is an estimated 40 MiB, 60 MiB when the batches read are only
// half kept (not measured on its own); a day of fewer rows holds less. A day of several
// shards also has one spill writer (a 32 KiB buffer) per shard open while it splits its
// staged rows. WriteUsers takes its rows from an iterator and holds at most 16Ki users as
// Arrow data; the Lake keeps each staged part's header (about 1.4 KB), and the done records
// it wrote and the users objects it wrote or read (these up to 32 MiB, some 80 bytes a user;
// past that they are read from the store), until their plan is removed; a batch's rows while
// FinishBatch writes them into its done object (a stage that did not spill: at most its share
// of Options.StageMemory, compressed). Disk: the stages' spill past
// Options.StageMemory; the staged objects of a local lake, which stay until their plan is
// published whole (about 85 bytes a row in the simulator's 10M-message backfill in format 1,
// 2.1 times their Parquet bytes, 139 in format 0, and fewer in format 2: 71 against 84 at 1M
// messages, docs/benchmarks.md), so they peak when extraction
// ends; on a remote store, local copies of the staged parts the Lake wrote (stagedcopy.go: up
// to 256 MiB, the parts past it are read from the store), which its own publisher reads
// instead of downloading them again, until their plan is removed; while a day merges, a copy
// of its staged segments (unless copied already) and of the old files being merged, unless
// the store's objects are local files (storage.Local), which are read in place, and for a day of several shards its staged
// rows once more, uncompressed, split by shard (about twice their staged size). Verify
// copies one day's files to Options.TempDir and reads only message_key and sent_at, a batch
// at a time.
//
// # Concurrency
//
// A Lake is safe for concurrent use, but one day must be merged by one run at a time (a
// second one fails with ErrConcurrentWrite or on a staging file the other removed; the
// partition stays consistent): package pipelines serialises runs with the lock (AcquireLock).
// A Lock is safe for concurrent use; its holder renews it (Renew) before its lease runs out. Stage.Add is
// safe for concurrent use; FinishBatch and Filter must not run concurrently with Add or Close of
// the same Stage. Merge calls Replace from one goroutine.
//
// # Errors
//
// ErrDuplicateKey, ErrConcurrentWrite, ErrNoManifest, ErrNoPlan, ErrStageClosed,
// ErrCorruptState, ErrStateChanged, ErrUnknownFormat, ErrLocked (as *LockedError, naming the
// holders) and ErrLockLost are matched with errors.Is. Store errors are wrapped with the day, the object and the step; so is a staged
// or partition file that does not decode.
package load
