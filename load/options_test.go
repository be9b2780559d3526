package load

import (
	"errors"
	"math"
	"testing"
)

// TestOptionsNameTheField: each invalid option is an *OptionError of NewLake naming the field; the
// largest valid values are accepted.
func TestOptionsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		field string // "" means valid
		o     Options
	}{
		{"", Options{TargetFileSize: MaxTargetFileSize, RowGroupRows: maxRowGroupRows}},
		{"TargetFileSize", Options{TargetFileSize: -1}},
		{"TargetFileSize", Options{TargetFileSize: math.MaxInt64}},
		{"RowGroupRows", Options{RowGroupRows: -1}},
		{"RowGroupRows", Options{RowGroupRows: math.MaxInt}},
		{"TempDir", Options{TempDir: t.TempDir() + "/nope"}},
	} {
		_, err := NewLake(newMemStore(), &tc.o)
		if tc.field == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.o, err)
			}
			continue
		}
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Field != tc.field {
			t.Errorf("%+v: error %v, want an *OptionError of %s", tc.o, err, tc.field)
		}
	}
}
