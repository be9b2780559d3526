package main

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// durationValue is a flag.Value of a duration that also takes days: 2d, 1d12h, 36h, 90s.
type durationValue time.Duration

func (d *durationValue) String() string      { return formatDuration(time.Duration(*d)) }
func (d *durationValue) placeholder() string { return "DURATION" }

func (d *durationValue) Set(s string) error {
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = durationValue(v)
	return nil
}

var daysPart = regexp.MustCompile(`^(\d+(?:\.\d+)?)d`)

// parseDuration parses a Go duration with an optional leading number of days ("2d", "1d6h").
func parseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	var days time.Duration
	if m := daysPart.FindStringSubmatch(in); m != nil {
		n, err := strconv.ParseFloat(m[1], 64)
		if err != nil || n > 100*365 {
			return 0, fmt.Errorf("%q is not a duration (want e.g. 90s, 36h, 2d)", s)
		}
		days = time.Duration(n * float64(24*time.Hour))
		in = in[len(m[0]):]
		if in == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(in)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (want e.g. 90s, 36h, 2d)", s)
	}
	return days + d, nil
}

// formatDuration shows a duration as a person writes it: whole days as days (48h is "2d"),
// without zero minutes or seconds (1h, 2m, 1h30m).
func formatDuration(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// sizeValue is a flag.Value of a byte size with an optional unit: 134217728, 128MiB, 1GB, 64k.
type sizeValue int64

func (v *sizeValue) String() string      { return formatSize(int64(*v)) }
func (v *sizeValue) placeholder() string { return "SIZE" }

func (v *sizeValue) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*v = sizeValue(n)
	return nil
}

var sizeSyntax = regexp.MustCompile(`^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$`)

var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1e3, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1e6, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1e9, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1e12, "tib": 1 << 40,
}

// parseSize parses a byte count with an optional unit (B, KB/MB/GB/TB in powers of 1000,
// KiB/MiB/GiB/TiB or K/M/G/T in powers of 1024).
func parseSize(s string) (int64, error) {
	m := sizeSyntax.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size (want e.g. 134217728, 128MiB, 1GB)", s)
	}
	unit, ok := sizeUnits[strings.ToLower(m[2])]
	if !ok {
		return 0, fmt.Errorf("%q: unknown unit %q (want B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", s, m[2])
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil || n*unit > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	return int64(n * unit), nil
}

// formatSize shows a size in the largest binary unit that divides it: 134217728 is "128MiB".
func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n > 0 && n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.name)
		}
	}
	return strconv.FormatInt(n, 10)
}
