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

var (
	// ErrCorruptState: the lake's state (StatePath) does not decode: cut short, empty, not JSON,
	// or not an object with a format. Nothing can go on from it but rebuilding it.
	ErrCorruptState = errors.New("the lake's state does not decode")
	// ErrStateChanged: the state was written by another run since this one read it.
	ErrStateChanged = errors.New("another run changed the lake's state since this run read it")
	// ErrUnknownFormat: a lake object (state, lock, mode) is of a format this chatlake does not
	// know, a newer one.
	ErrUnknownFormat = errors.New("format not known to this chatlake")
	// ErrLocked: another run holds the lake's lock (see LockedError).
	ErrLocked = errors.New("another chatlake run holds the lake's lock")
	// ErrLockLost: this run's entry is gone from the lock (its lease ran out, and another run
	// may have taken the lake).
	ErrLockLost = errors.New("this run no longer holds the lake's lock")
)
