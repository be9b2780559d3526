// Package pipelines runs exports: it plans a run (a closed range of UTC days and the users of
// the User API, plus the users the lake owes) into batches of users, extracts each batch with
// one conversations query per user over the whole range, stages each finished batch durably in
// the lake, and publishes the days by merging when every batch is done. Export, Backfill and
// Nightly (the scheduled run) are built on it, with Publish (finish a sharded run) and Forget
// (erase users). The lake's state and lock are package load's objects (load.State, load.Lock:
// their encoding, format check and conditional writes); this package decides what the state
// says and when it changes (state.go), when the lock is taken and how its lease is kept
// (lock.go), and never touches the store. docs/design.md explains the design.
//
// With Options.Pseudonymizer the pipeline knows users only by pseudonym (plans, batch files,
// done records, state, logs, summary, errors) and keeps their raw ids, which the API needs, in
// the lake only encrypted (pseudonym.go); Options.RedactText redacts message text. The lake's
// mode record (load.LakeMode) is checked before anything is written: a run whose mode or key is
// not the lake's is ErrBadInput.
//
// # Concurrency
//
// A Pipeline runs one method at a time. Within a run, at most Options.Concurrency users are in
// flight, handed out by one dispatcher in batch order (the next batch starts when the users of
// the one before are all in flight), all sharing the source's rate limiter; at most
// ParallelBatches + ceil(Concurrency / batch size) batches are alive at once, each with its
// local stage (batch.go). Publishing has up to max(16, Options.ParallelPublish) days under way
// at once (each its own partition; load.Lake is safe for that), of which ParallelPublish write
// their shards at once (load.MergeInput.Writing): the rest of a day's publish is object I/O.
// Across processes, the lake's lock (load.Lake.AcquireLock) admits one plan at a time: one process, or the
// shards of one sharded run, which coordinate only through create-only and conditional writes
// (the plan, batch done records, the publisher claim in the lock record). A lock renewal that
// fails cancels the run.
//
// # Errors
//
// ErrBadInput: the request cannot be right (flags, dates, a selector matching no user, missing
// state, a bot key or customer id the User API rejects (1002), a shard count that is not the
// stored plan's, Forget of an id the lake does not hold); nothing was written. ErrLocked (load.ErrLocked, as *load.LockedError): another run holds the lake.
// ErrIncomplete: the run published what it could, but users failed (owed, named in the error)
// or were skipped. ErrCorruptState (as *CorruptStateError, which also matches ErrBadInput): the
// lake's state file does not decode; every method stops before writing anything (the lock
// included), and the error names the way out, `chatlake state rebuild --lake URL`, which is
// RebuildState: the state rebuilt from the manifests, the bad file kept beside it. Errors of
// the API that no user can escape (401, 403, 1002 on the User API, 1003, 1004) and storage
// errors stop the run and are returned wrapped with the batch or day; once such an error is
// seen no other user starts (the users already in flight end with the run's context). When the
// source reports the API stalled (extract.Client.Stalled: requests unanswered for StallAfter),
// no other user starts either: those left fail as not started and are owed, and the run
// publishes what it has and ends with ErrIncomplete. A run that leaves users owed (its own
// failures, or owed users it could not export) ends with ErrIncomplete, never nil; so the rerun
// of a finished backfill, or a nightly run with no day due, exports the owed users (a plan of
// only them, Plan.OwedOnly) rather than doing nothing.
// Options are validated by New: an invalid one is an *OptionError naming the field (it matches
// ErrBadInput). The defaults and bounds are exported constants (DefaultConcurrency,
// MaxConcurrency, ...), so that the command shows and checks the same values. No public function panics on bad input.
package pipelines
