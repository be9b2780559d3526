package load

import "errors"

var (
	// ErrDuplicateKey: a message_key occurs twice among the rows staged for one day.
	ErrDuplicateKey = errors.New("duplicate message key")
	// ErrDayOutOfRange: rows were staged for a day that the Publish call was not asked to publish.
	ErrDayOutOfRange = errors.New("rows staged outside the published days")
	// ErrConcurrentWrite: a partition manifest changed while Publish was replacing the partition,
	// so another writer is at work on the same day. Rerun when it is done.
	ErrConcurrentWrite = errors.New("partition written concurrently by another run")
	// ErrNoManifest: the day has no manifest (it was never published).
	ErrNoManifest = errors.New("partition has no manifest")
	// ErrStageClosed: the Stage was closed.
	ErrStageClosed = errors.New("stage is closed")
)
