// Package load writes the lake: Hive-partitioned Parquet files of the messages table
// (messages/dt=YYYY-MM-DD/*.parquet, dt being the UTC date of sent_at), a manifest per
// partition, and the users table, onto a storage.Store (a local directory or GCS).
//
// # Atomicity
//
// A message always lands in the same file name of its partition: a partition has a fixed number
// of shards, chosen from its size the first time it is written and kept afterwards, and a
// message's shard is a hash of its key. Re-exporting a day replaces each shard file in place
// with one atomic object write, so a reader that globs the partition sees, file by file, the old
// or the new content, never a partial file and never a message twice; if a write fails, the
// files not yet replaced keep their previous, complete content. The manifest is written after
// the files and says the partition is complete.
package load
