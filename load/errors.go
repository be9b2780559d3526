package load

import "errors"

var (
	// ErrDuplicateKey: a message_key occurs twice among the rows of one day.
	ErrDuplicateKey = errors.New("duplicate message key")
	// ErrConcurrentWrite: a partition manifest changed while Merge was replacing the partition,
	// so another run is writing the same day.
	ErrConcurrentWrite = errors.New("partition written concurrently by another run")
	// ErrNoManifest: the day has no manifest (it was never published).
	ErrNoManifest = errors.New("partition has no manifest")
	// ErrCorruptManifest: a partition's manifest does not decode.
	ErrCorruptManifest = errors.New("partition manifest does not decode")
	// ErrNoPlan: the run plan does not exist (never created, or its run finished).
	ErrNoPlan = errors.New("no such run plan")
	// ErrStageClosed: the Stage was closed.
	ErrStageClosed = errors.New("stage is closed")
)
