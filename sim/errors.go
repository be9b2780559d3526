package sim

import "fmt"

// OptionError reports an invalid field of Options; New returns it.
type OptionError struct {
	Field  string // e.g. "Users", "Faults.P429"
	Reason string
}

func (e *OptionError) Error() string { return "sim: option " + e.Field + ": " + e.Reason }

func optErr(field, format string, args ...any) error {
	return &OptionError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
