package ddl

import "fmt"

// OptionError is an Options value that Write refuses. Field is the name of the Options field
// (Engine, Lake, Schema, SessionGap, ReplyWindow, RequirePartitionFilter, FirstDay,
// StorageIntegration, TableFormat, Catalog), so a command can name its own flag. Msg never
// holds a password of Catalog.
type OptionError struct {
	Field string
	Msg   string
}

func (e *OptionError) Error() string { return e.Field + ": " + e.Msg }

func optErr(field, format string, args ...any) error {
	return &OptionError{Field: field, Msg: fmt.Sprintf(format, args...)}
}
