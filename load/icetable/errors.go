package icetable

import "errors"

// Errors callers decide on with errors.Is. Every error this package returns wraps its cause
// with context; these sentinels are wrapped, never returned bare.
var (
	// ErrUnsupportedCatalog: the catalog URI's scheme is not one this package opens (the
	// command maps it to exit 2 for --catalog). The error names the scheme, never the URI.
	ErrUnsupportedCatalog = errors.New("unsupported catalog")

	// ErrTableMismatch: the table exists with another schema, partition spec or location than
	// the caller asked for. Nothing was changed.
	ErrTableMismatch = errors.New("table differs from the requested one")

	// ErrFieldIDs: the Arrow schema lacks PARQUET:field_id metadata on some field, or its ids
	// are not numbered the way Iceberg assigns them (see FieldIDs).
	ErrFieldIDs = errors.New("field ids")

	// ErrNotFound: with Config.ReadOnly, the catalog, its namespace or a table does not exist
	// (Open and Table create nothing then).
	ErrNotFound = errors.New("not found")

	// ErrConflict: another writer committed first and removed (or replaced) a file the commit
	// meant to remove. Nothing was committed; the caller must re-plan from Files.
	ErrConflict = errors.New("commit conflict")
)

// errAfterCommit marks an error after an expiry committed, which must not be retried.
var errAfterCommit = errors.New("after commit")
