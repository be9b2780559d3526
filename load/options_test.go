package load

import (
	"math"
	"strings"
	"testing"
)

// TestOptionsNameTheField: each invalid option is an error of NewLake naming the field; the
// largest valid values are accepted.
func TestOptionsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		field string // "" means valid
		o     Options
	}{
		{"", Options{TargetFileSize: maxTargetFileSize, RowGroupRows: maxRowGroupRows}},
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
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%+v: error %v, want one naming %s", tc.o, err, tc.field)
		}
	}
}
