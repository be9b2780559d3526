package extract

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"
)

func validOptions() Options {
	return Options{BaseURL: "https://technowiz.example/api/", CustomerID: "42", BotKey: "0123456789abcdef", APIKey: testKey}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mod   func(*Options)
		field string // the *OptionError's Field; "" means valid
	}{
		{"valid", func(*Options) {}, ""},
		{"no BaseURL", func(o *Options) { o.BaseURL = "" }, "BaseURL"},
		{"BaseURL without scheme", func(o *Options) { o.BaseURL = "technowiz.example" }, "BaseURL"},
		{"BaseURL ftp", func(o *Options) { o.BaseURL = "ftp://technowiz.example" }, "BaseURL"},
		{"BaseURL with credentials", func(o *Options) { o.BaseURL = "https://u:" + testKey + "@technowiz.example" }, "BaseURL"},
		{"BaseURL with query", func(o *Options) { o.BaseURL = "https://technowiz.example/?a=1" }, "BaseURL"},
		{"BaseURL without host", func(o *Options) { o.BaseURL = "https:///x" }, "BaseURL"},
		{"BaseURL not a URL", func(o *Options) { o.BaseURL = "http://[::1" }, "BaseURL"},
		{"CustomerID empty", func(o *Options) { o.CustomerID = "" }, "CustomerID"},
		{"CustomerID not digits", func(o *Options) { o.CustomerID = "12a" }, "CustomerID"},
		{"BotKey short", func(o *Options) { o.BotKey = "0123456789abcde" }, "BotKey"},
		{"BotKey not hex", func(o *Options) { o.BotKey = "0123456789abcdeg" }, "BotKey"},
		{"APIKey empty", func(o *Options) { o.APIKey = "" }, "APIKey"},
		{"APIKey with a space", func(o *Options) { o.APIKey = testKey + " x" }, "APIKey"},
		{"APIKey with a newline", func(o *Options) { o.APIKey = testKey + "\r\nX-Evil: 1" }, "APIKey"},
		{"APIKey not UTF-8", func(o *Options) { o.APIKey = testKey + "\xff" }, "APIKey"},
		{"Rate negative", func(o *Options) { o.Rate = -1 }, "Rate"},
		{"Rate NaN", func(o *Options) { o.Rate = math.NaN() }, "Rate"},
		{"Rate infinite", func(o *Options) { o.Rate = math.Inf(1) }, "Rate"},
		{"Rate too small to run", func(o *Options) { o.Rate = 1e-300 }, "Rate"},
		{"MaxAttempts negative", func(o *Options) { o.MaxAttempts = -1 }, "MaxAttempts"},
		{"MaxAttempts absurd", func(o *Options) { o.MaxAttempts = 1 << 40 }, "MaxAttempts"},
		{"MinBackoff negative", func(o *Options) { o.MinBackoff = -time.Second }, "MinBackoff"},
		{"MaxBackoff negative", func(o *Options) { o.MaxBackoff = -time.Second }, "MaxBackoff"},
		{"MaxBackoff absurd", func(o *Options) { o.MaxBackoff = math.MaxInt64 }, "MaxBackoff"},
		{"MaxBackoff below MinBackoff", func(o *Options) { o.MinBackoff, o.MaxBackoff = time.Second, time.Millisecond }, "MaxBackoff"},
		{"negative timeout", func(o *Options) { o.AttemptTimeout = -1 }, "AttemptTimeout"},
		{"absurd timeout", func(o *Options) { o.AttemptTimeout = 1000 * time.Hour }, "AttemptTimeout"},
		{"SilenceBudget negative", func(o *Options) { o.SilenceBudget = -time.Second }, "SilenceBudget"},
		{"SilenceBudget absurd", func(o *Options) { o.SilenceBudget = 1000 * time.Hour }, "SilenceBudget"},
		{"StallAfter negative", func(o *Options) { o.StallAfter = -time.Second }, "StallAfter"},
		{"StallAfter absurd", func(o *Options) { o.StallAfter = 1000 * time.Hour }, "StallAfter"},
		{"PageSize above the cap", func(o *Options) { o.PageSize = 501 }, "PageSize"},
		{"PageSize negative", func(o *Options) { o.PageSize = -5 }, "PageSize"},
		{"PageSize smallest", func(o *Options) { o.PageSize = 1 }, ""},
		{"PageSize at the cap", func(o *Options) { o.PageSize = 500 }, ""},
		{"MaxPages negative", func(o *Options) { o.MaxPages = -5 }, "MaxPages"},
		{"every bound at its limit", func(o *Options) {
			o.Rate, o.MaxAttempts, o.MinBackoff, o.MaxBackoff, o.AttemptTimeout = 0.01, 1000, 24*time.Hour, 24*time.Hour, 24*time.Hour
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := validOptions()
			tc.mod(&o)
			c, err := New(o)
			if tc.field == "" {
				if err != nil || c == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Field != tc.field || !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("New: %v, want an *OptionError for %s matching ErrInvalidInput", err, tc.field)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %s", err, tc.field)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("error %q holds the key", err)
			}
		})
	}
}

// Extreme but valid options must not make any call panic (backoff arithmetic, the limiter).
func TestExtremeOptionsDoNotPanic(t *testing.T) {
	for _, n := range []int{1, 2, 30, 62, 63, 64, 100, 1000} {
		for _, b := range [][2]time.Duration{{1, 24 * time.Hour}, {24 * time.Hour, 24 * time.Hour}, {1, 2}} {
			if got := backoff(n, b[0], b[1]); got < b[0] || got > b[1] {
				t.Errorf("backoff(%d, %s, %s) = %s, out of bounds", n, b[0], b[1], got)
			}
		}
	}
}

func TestNewDefaults(t *testing.T) {
	c, err := New(validOptions())
	if err != nil {
		t.Fatal(err)
	}
	o := c.o
	if o.BaseURL != "https://technowiz.example/api" || o.Rate != 20 || o.MaxAttempts != 8 || o.MinBackoff != 250*time.Millisecond ||
		o.MaxBackoff != 30*time.Second || o.AttemptTimeout != time.Minute || o.PageSize != 500 || o.MaxPages != 10000 ||
		o.HTTPClient == nil || o.Logger == nil || o.SilenceBudget != 90*time.Second || o.StallAfter != 75*time.Second {
		t.Errorf("defaults %v", o)
	}
	// A longer attempt timeout moves both: an attempt answered in time never spends them.
	o2 := validOptions()
	o2.AttemptTimeout = 5 * time.Minute
	if c, err := New(o2); err != nil || c.o.SilenceBudget != 5*time.Minute+30*time.Second || c.o.StallAfter != 5*time.Minute+15*time.Second {
		t.Errorf("with AttemptTimeout 5m: %v, %v", c, err)
	}
	if r := c.Stats().Rate; r != 20 {
		t.Errorf("limiter rate %g, want 20", r)
	}
}

func TestOptionsNeverPrintKey(t *testing.T) {
	o := validOptions()
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("options", "o", o)
	for _, s := range []string{fmt.Sprint(o), fmt.Sprintf("%+v", o), fmt.Sprintf("%#v", o), fmt.Sprintf("%s", o), logs.String()} {
		if strings.Contains(s, testKey) {
			t.Errorf("key in %q", s)
		}
		if !strings.Contains(s, "[REDACTED]") || !strings.Contains(s, "0123456789abcdef") {
			t.Errorf("%q does not describe the options", s)
		}
	}
}

func TestParseSelector(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Selector
		wantErr string // in the error; "" means valid
	}{
		{"feedback=1", Selector{"feedback", "1"}, ""},
		{"user.channel=whatsapp", Selector{"user.channel", "whatsapp"}, ""},
		{"expr=a=b", Selector{"expr", "a=b"}, ""},
		{"name=Zoë 🙂", Selector{"name", "Zoë 🙂"}, ""},
		{"empty=", Selector{}, "empty attribute value"},
		{"blank= ", Selector{}, "blank attribute value"},
		{"noequals", Selector{}, "want NAME=VALUE"},
		{"=value", Selector{}, "empty attribute name"},
		{" =value", Selector{}, "blank attribute name"},
		{"=", Selector{}, "empty attribute name"},
		{"", Selector{}, "want NAME=VALUE"},
		{"a=b\nc", Selector{}, "control character"},
		{"a\x00=b", Selector{}, "control character"},
		{"a=\xff", Selector{}, "not valid UTF-8"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSelector(tc.in)
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Fatalf("ParseSelector(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
				}
				return
			}
			var ie *InputError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInvalidInput) || got != (Selector{}) {
				t.Fatalf("ParseSelector(%q) = %v, %v; want an *InputError", tc.in, got, err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.in)) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not name the input %q and say %q", err, tc.in, tc.wantErr)
			}
		})
	}
}

func TestWindowValidate(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name    string
		w       Window
		wantErr string // "" means valid
	}{
		{"a day", Window{day(2024, 5, 1), day(2024, 5, 2)}, ""},
		{"zero bounds", Window{}, ""},
		{"open end", Window{Start: day(2024, 5, 1)}, ""},
		{"open start", Window{End: day(2024, 5, 1)}, ""},
		{"from the epoch", Window{time.Unix(0, 0), day(1970, 1, 2)}, ""},
		{"to the last ms of 9999", Window{day(9999, 12, 31), day(10000, 1, 1).Add(-time.Millisecond)}, ""},
		{"start before 1970", Window{day(1969, 12, 31), day(2024, 1, 1)}, "start 1969-12-31"},
		{"a ms before the epoch", Window{time.Unix(0, 0).Add(-time.Millisecond), day(2024, 1, 1)}, "start 1969-12-31T23:59:59.999Z"},
		{"end before 1970", Window{End: day(1960, 1, 1)}, "end 1960-01-01"},
		{"end in year 10000", Window{day(2024, 1, 1), day(10000, 1, 1)}, "end 10000-01-01"},
		{"start in year 10000", Window{Start: day(10000, 1, 2)}, "start 10000-01-02"},
		{"reversed", Window{day(2024, 5, 2), day(2024, 5, 1)}, "end is not after start"},
		{"empty", Window{day(2024, 5, 2), day(2024, 5, 2)}, "end is not after start"},
		{"other zone, same instant", Window{day(2024, 5, 2).In(time.FixedZone("x", 3600)), day(2024, 5, 2)}, "end is not after start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.w.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ie *InputError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInvalidInput) || !errors.Is(err, ErrInvalidDate) {
				t.Fatalf("Validate: %v, want an *InputError matching ErrInvalidInput and ErrInvalidDate", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), tc.w.String()) {
				t.Errorf("error %q does not name the window and say %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 5, 2, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"1", time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"1.5", 0},
		{"99999999999", maxHold},
		{"Thu, 02 May 2024 10:00:30 GMT", 30 * time.Second},
		{"Thu, 02 May 2024 09:00:00 GMT", 0},
		{"Fri, 03 May 2024 10:00:00 GMT", maxHold},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := parseRetryAfter(tc.in, now); got != tc.want {
				t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestBackoffBounds(t *testing.T) {
	minB, maxB := 250*time.Millisecond, 30*time.Second
	for n := 1; n <= 12; n++ {
		hi := min(maxB, minB<<(n-1))
		seenAbove := false
		for range 200 {
			d := backoff(n, minB, maxB)
			if d < minB || d > hi {
				t.Fatalf("backoff(%d) = %s, outside [%s, %s]", n, d, minB, hi)
			}
			seenAbove = seenAbove || d > minB
		}
		if n > 1 && !seenAbove {
			t.Errorf("backoff(%d) never above the minimum: no jitter", n)
		}
	}
}
