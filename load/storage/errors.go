package storage

import (
	"errors"
	"fmt"
)

var (
	// ErrNotExist: the object does not exist.
	ErrNotExist = errors.New("object does not exist")
	// ErrPrecondition: a conditional write or delete found another version than the one given.
	ErrPrecondition = errors.New("object changed since it was read (precondition failed)")
	// ErrBadName: an object name or list prefix is not a clean relative slash-separated name
	// (empty, absolute, with "." or ".." or empty elements, or reserved for temporaries).
	ErrBadName = errors.New("invalid object name")
)

// ErrTimeout: a storage call got no answer, or made no progress, within its deadline
// (OpenOptions.OpTimeout, ProbeTimeout, ChunkTimeout). The error also carries the last
// failure the call saw, if any ("connection refused").
var ErrTimeout = errors.New("storage call timed out")

// ErrBadRange: a ranged read with a negative offset or length.
var ErrBadRange = errors.New("invalid byte range")

// checkRange validates the range of a ranged read.
func checkRange(offset, length int64) error {
	if offset < 0 || length < 0 {
		return fmt.Errorf("%w: offset %d, length %d", ErrBadRange, offset, length)
	}
	return nil
}

// ErrPermission: the store refused the call for lack of permission (HTTP 403: a role, a policy
// or a SAS token that does not grant the operation, or a credential the store does not accept).
var ErrPermission = errors.New("permission denied by the store")
