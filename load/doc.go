// Package load writes the lake: Hive-partitioned Parquet files of the messages table
// (messages/dt=YYYY-MM-DD/*.parquet, dt being the UTC date of sent_at), a manifest per
// partition, and the users table, onto a storage.Store (a local directory or GCS).
//
// # Layout
//
//	messages/dt=YYYY-MM-DD/part-SSSSS-of-PPPPP.parquet   the partition's shards
//	users/snapshot_date=YYYY-MM-DD/part-00000.parquet      one users snapshot
//	_chatlake/manifests/messages/dt=YYYY-MM-DD.json        the partition's manifest (Manifest)
//	_chatlake/staging/<runID>/messages/dt=YYYY-MM-DD/...    shards being uploaded
//	_chatlake/staging/<runID>/users/snapshot_date=.../...  a users snapshot being uploaded
//
// A message's shard is fnv-1a-64(message_key) mod P. P is chosen the first time a day gets
// files, as max(1, ceil(estimated Parquet bytes / Options.TargetFileSize)) where the estimate is
// the day's spill bytes / 4, and is then kept: it is read from the manifest (or, without one,
// from the names of the partition's files when they agree), so a message always lands in the
// same file name. A shard with no rows has no file; a day with no rows has no file and a
// manifest with rows 0. Analysts glob messages/dt=*/*.parquet; nothing under _chatlake matches.
//
// # Files
//
// Parquet through pqarrow: zstd; dictionary encoding for the low-cardinality columns
// (customer_id, bot_key, channel, sender, message_type, template_name, template_language,
// broadcast_id, run_id, file_mime_type, file_upload_type, agent_id), plain for the others;
// timestamps TIMESTAMP(MILLIS, isAdjustedToUTC=true), with the Arrow schema stored so Arrow
// readers keep tz=UTC; key-value metadata chatlake.table, chatlake.schema_version and
// chatlake.run_id. Row groups hold Options.RowGroupRows rows, each sorted by (channel_user_id,
// sent_at, message_key); the file as a whole is not sorted (that would need the whole shard in
// memory).
//
// # Atomicity
//
// Publish replaces a day's partition in these steps:
//
//  1. Remove what failed runs left in staging for the day.
//  2. Read the manifest and its version, and list the partition.
//  3. Upload every non-empty shard to _chatlake/staging/<runID>/..., checking every Close. A
//     duplicate message_key fails here.
//  4. Write the manifest marked incomplete (complete: false), on condition that its version is
//     still the one read in step 2: a concurrent writer fails here with ErrConcurrentWrite,
//     before it has changed a file.
//  5. Delete the partition's files of another layout (not part-*-of-P for this P): they may
//     hold keys the new shards hold.
//  6. Move each new shard into place (one atomic object write per file).
//  7. Delete the shards of this layout that are empty now.
//  8. Write the manifest marked complete, on condition of the version written in step 4.
//  9. Remove the run's staging of the day.
//
// What a reader that globs the partition sees, and what a failure leaves:
//
//   - A failure in steps 1 to 4, or at the first Move of step 6 when step 5 deleted nothing,
//     leaves the partition's files and its manifest exactly as they were (a failed first Move
//     restores the previous manifest, or removes it if there was none).
//   - At any moment, every file is a complete shard, old or new, and no message_key is in two
//     files: a key always maps to the same file name, and files of another layout are gone
//     before any new shard comes in. Between steps 5 and 7 the glob may miss the rows of a
//     removed foreign file or still see an old shard that is about to become empty; it never
//     sees a row twice.
//   - A failure after step 4 leaves a manifest marked incomplete (Verify reports it); the
//     next Publish of the day, with the same or any stage, repairs the partition and cleans
//     staging. A kill at any point is the same as a failure at that point.
//
// GCS has no rename: Move is a server-side copy then a delete, still atomic for the reader of
// the destination. The manifest is written with generation preconditions.
//
// # Memory and disk
//
// A Stage keeps no row in memory: rows are appended to one local spill file per day (a compact
// length-prefixed binary encoding, documented in codec.go), through a 32 KiB buffer per day.
// Publish writes one shard at a time: when P > 1 it first splits the day's spill into one local
// file per shard (a 16 KiB buffer each), then streams each shard into its Parquet writer one row
// group at a time. Its memory is one row group of rows as Go values and as Arrow data, the
// Parquet writer's page buffers, and the set of message keys of the shard being written (for
// ErrDuplicateKey); it does not grow with the day beyond that last set, which grows with the
// shard (about Options.TargetFileSize of Parquet). Disk: the stage's spill, plus one more copy
// of the day being published while P > 1. Verify copies one day's files to Options.TempDir and
// reads only message_key and sent_at, a batch at a time.
//
// # Concurrency
//
// A Lake is safe for concurrent use, but one day must be published by one run at a time (a
// second one fails, and the partition stays consistent). Stage.Add is safe for concurrent use;
// Publish must not run concurrently with Add or Close of the same Stage.
//
// # Errors
//
// ErrDuplicateKey, ErrDayOutOfRange, ErrConcurrentWrite, ErrNoManifest and ErrStageClosed are
// matched with errors.Is. Store errors are wrapped with the day and the step.
package load
