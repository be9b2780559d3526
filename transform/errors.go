package transform

import (
	"errors"
	"fmt"

	"github.com/chatlake/chatlake/extract"
)

var (
	// ErrNotObject: a message (or user) is not a JSON object.
	ErrNotObject = errors.New("not a JSON object")
	// ErrTimestamp: a timestamp is missing, null, or in none of the accepted forms.
	ErrTimestamp = errors.New("missing or unrecognised timestamp")
)

// FieldError says which field of a source object could not be flattened, and its value as sent
// (cut to a bounded length). Err matches ErrNotObject or ErrTimestamp with errors.Is.
type FieldError struct {
	Field string // the source field ("timestamp"), or "message" / "user" for the whole object
	Value string // the value as sent, cut to maxValueLen bytes; "" when the field is absent
	Err   error
}

func (e *FieldError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %v", e.Field, e.Err)
	}
	return fmt.Sprintf("%s %s: %v", e.Field, e.Value, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// maxValueLen bounds the value quoted in an error.
const maxValueLen = 120

// clip returns raw for an error message: at most maxValueLen bytes, cut on a rune boundary
// with extract.Clip (one way to cut quoted source text in every package).
func clip(raw []byte) string { return extract.Clip(string(raw), maxValueLen) }
