// Package storage is the object store under the lake: a local directory (Local), a Google
// Cloud Storage bucket and prefix (GCS, through cloud.google.com/go/storage), an Amazon S3 (or
// S3-compatible) bucket and prefix (S3, through github.com/aws/aws-sdk-go-v2) or an Azure Blob
// Storage container and prefix (Azure, through the Azure SDK's azblob), all behind Store and
// all passing the conformance suite in storagetest. Open picks one from a URL
// ("gs://bucket/prefix", "s3://bucket/prefix", "az://container/prefix", "file:///abs/dir", or
// a directory path).
//
// Writes stream (a GCS resumable upload in 8 MiB chunks; an S3 multipart upload of 8 MiB
// parts, or one PutObject for less; a local temporary file renamed into place) and become
// visible whole, at Close, or not at all. Small objects (state, locks, manifests) can be
// written conditionally on their version (GCS generation preconditions; S3 If-None-Match and
// If-Match, which an S3 store probes once and refuses to work without; Azure If-None-Match /
// If-Match on ETags; a local lock file). An Azure write stages 8 MiB blocks as it goes and
// commits the block list at Close.
//
// # Names
//
// Object names are relative and slash-separated ("messages/dt=2024-05-01/part-0.parquet");
// empty, absolute, "."/".." or empty elements, NUL and backslash are refused with ErrBadName,
// the same on every backend, so no name escapes a Local root. Names whose element starts with
// "." and contains ".tmp-", and ".chatlake-storage.lock", are reserved for Local's own files.
//
// # Local temporaries and globs
//
// An unfinished local write (including one of a killed process) leaves
// ".<base>.tmp-<random>" beside its target. List never shows it, and no glob that names an
// extension or a file-name prefix ("*.parquet", "dt=*/*.parquet", "dt=*/part-*") matches it.
// A bare "*" does match dotfiles in Go's filepath.Glob and in most query engines: readers
// must glob with an extension. Temporaries are removed by Abort, a failed Close or a cancelled
// context; those of a killed process stay until Local.SweepTemporary removes the ones older
// than a given age (the pipeline calls it while it holds the lake's lock). A directory lasts
// only while objects (or temporaries) are under it, as a cloud store's names do: Delete,
// DeleteIf, Move and SweepTemporary remove the directories they leave empty, up to the root,
// and a write whose directory goes meanwhile makes it again.
//
// # Deadlines
//
// No call waits on storage without a bound (OpenOptions, GCSOptions, S3Options, LocalOptions).
// S3 has the same deadlines as GCS, with the same defaults and meaning (a part of a multipart
// upload is a chunk; its Open probe also asks the bucket's region when none is configured):
//
//   - Open probes a gs:// or az:// URL with one listing bounded by ProbeTimeout (default 15 s).
//   - Azure calls follow the GCS rules below (AzureOptions has the same fields), a staged
//     8 MiB block taking the place of a chunk.
//   - Each small GCS call (Stat, Get, PutIf, DeleteIf, Delete, each request of Move, each page
//     of List, opening a reader and each Read) is bounded by OpTimeout (default 60 s),
//     retries included.
//   - A streaming GCS write is bounded by progress, not by its size: each Write may take
//     ChunkTimeout (default 60 s) per started 8 MiB chunk it hands over, and Close
//     ChunkTimeout plus OpTimeout. Time between calls (a slow producer) is not counted, so
//     a write of any size succeeds as long as every chunk goes through in time.
//   - A GCS request is tried at most MaxAttempts times (default 5, pauses from 0.5 s to 8 s):
//     an endpoint that refuses connections fails in seconds with its last error, one that
//     accepts and never answers fails when the deadline passes.
//   - Local: waiting for the lock file in PutIf and DeleteIf is bounded by OpTimeout;
//     filesystem calls themselves cannot be interrupted and have no deadline.
//
// A passed deadline gives an error matching ErrTimeout that names the deadline and carries the
// last failure seen, on one line.
//
// # Versions
//
// Object.Version is opaque and changes on every write. Local: inode, mtime and size of the
// file (each write makes a new file); GCS: the generation in decimal; S3: the ETag without
// quotes, which names the content rather than the write (rewriting the same bytes gives the
// same version); Azure: the ETag without its quotes. Stat, List and Get report the same
// version for the same content, and so does Move for its destination (from the copy's answer,
// with no further request).
//
// # Another client of the same bucket
//
// GCS, S3 and Azure have Access: how the store reaches its bucket (GCS's emulator host; S3's
// endpoint, region and addressing, read from its client; Azure's account, endpoint and the
// connection string or SAS token Open read), for a client that cannot share the store's own,
// such as the Iceberg FileIO of a lake's table metadata. Azure's secrets are in it: Access.Redact
// removes them from a text, as the store's errors do. An Azure store made from a caller's
// client (NewAzure) cannot tell its credentials: its Access reports false.
//
// # Concurrency
//
// A Store is safe for concurrent use; a Writer is used by one goroutine at a time. Readers of
// an object that is being replaced see the old or the new object whole. PutIf and DeleteIf
// are atomic with respect to each other: Local through an exclusive flock on the root's lock
// file (any process on the machine; not across machines sharing a network filesystem); GCS
// through generation preconditions. GCS DeleteIf also compares the generation before deleting,
// because emulators such as fake-gcs-server ignore delete preconditions; only real GCS closes
// the race between that comparison and the delete. GCS and Azure Move is a copy then a delete:
// between the two both names exist, and it is not atomic with respect to PutIf. Azure PutIf and
// DeleteIf are atomic through the service's ETag conditions (Azurite enforces them too). Two
// Azure writers of one name may both stage blocks; the first to commit wins and the other's
// Close fails (committing a block list discards the blob's other uncommitted blocks). S3 is
// like GCS: PutIf through If-None-Match / If-Match, DeleteIf compares then deletes with
// If-Match (a plain delete on a store that answers 501 to it), Move copies (CopyObject, at
// most 5 GiB) then deletes. DeleteAll deletes a page of S3 objects with one DeleteObjects and
// up to 256 Azure blobs with one Blob Batch request (one by one on a service that refuses
// batches).
//
// # Errors
//
// Missing objects give errors matching ErrNotExist (also a missing lake opened with
// MustExist), failed version checks ErrPrecondition, bad names ErrBadName, passed deadlines
// ErrTimeout, a refusal for lack of permission (HTTP 403 of S3, GCS or Azure) ErrPermission;
// all are wrapped with the operation and name. An S3 store that ignores conditional writes is
// refused at its first PutIf with an error matching errors.ErrUnsupported. No error holds a
// credential: Azure errors are one line with the HTTP status and the service's error code, no
// request URL (its SAS query), no key. A GCS PutIf whose first
// attempt succeeded but whose response was lost is retried by the client and then reports
// ErrPrecondition: callers re-read (Get) and decide from the content.
package storage
