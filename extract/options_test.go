package extract

import (
	"bytes"
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
		field string // the error names it; "" means valid
	}{
		{"valid", func(*Options) {}, ""},
		{"no BaseURL", func(o *Options) { o.BaseURL = "" }, "BaseURL"},
		{"BaseURL without scheme", func(o *Options) { o.BaseURL = "technowiz.example" }, "BaseURL"},
		{"BaseURL ftp", func(o *Options) { o.BaseURL = "ftp://technowiz.example" }, "BaseURL"},
		{"BaseURL with credentials", func(o *Options) { o.BaseURL = "https://u:" + testKey + "@technowiz.example" }, "BaseURL"},
		{"BaseURL with query", func(o *Options) { o.BaseURL = "https://technowiz.example/?a=1" }, "BaseURL"},
		{"BaseURL without host", func(o *Options) { o.BaseURL = "https:///x" }, "BaseURL"},
		{"CustomerID empty", func(o *Options) { o.CustomerID = "" }, "CustomerID"},
		{"CustomerID not digits", func(o *Options) { o.CustomerID = "12a" }, "CustomerID"},
		{"BotKey short", func(o *Options) { o.BotKey = "0123456789abcde" }, "BotKey must be 16 hex characters"},
		{"BotKey not hex", func(o *Options) { o.BotKey = "0123456789abcdeg" }, "BotKey must be 16 hex characters"},
		{"APIKey empty", func(o *Options) { o.APIKey = "" }, "APIKey"},
		{"APIKey with a space", func(o *Options) { o.APIKey = testKey + " x" }, "APIKey"},
		{"APIKey with a newline", func(o *Options) { o.APIKey = testKey + "\r\nX-Evil: 1" }, "APIKey"},
		{"Rate negative", func(o *Options) { o.Rate = -1 }, "Rate"},
		{"Rate NaN", func(o *Options) { o.Rate = math.NaN() }, "Rate"},
		{"MaxAttempts negative", func(o *Options) { o.MaxAttempts = -1 }, "MaxAttempts"},
		{"MaxBackoff below MinBackoff", func(o *Options) { o.MinBackoff, o.MaxBackoff = time.Second, time.Millisecond }, "MaxBackoff"},
		{"negative timeout", func(o *Options) { o.AttemptTimeout = -1 }, "AttemptTimeout"},
		{"PageSize above the cap", func(o *Options) { o.PageSize = 501 }, "PageSize"},
		{"PageSize negative", func(o *Options) { o.PageSize = -5 }, "PageSize"},
		{"MaxPages negative", func(o *Options) { o.MaxPages = -5 }, "MaxPages"},
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
			if err == nil {
				t.Fatal("accepted")
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

func TestNewDefaults(t *testing.T) {
	c, err := New(validOptions())
	if err != nil {
		t.Fatal(err)
	}
	o := c.o
	if o.BaseURL != "https://technowiz.example/api" || o.Rate != 20 || o.MaxAttempts != 8 || o.MinBackoff != 250*time.Millisecond ||
		o.MaxBackoff != 30*time.Second || o.AttemptTimeout != time.Minute || o.PageSize != 500 || o.MaxPages != 10000 ||
		o.HTTPClient == nil || o.Logger == nil {
		t.Errorf("defaults %v", o)
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
		wantErr bool
	}{
		{"feedback=1", Selector{"feedback", "1"}, false},
		{"user.channel=whatsapp", Selector{"user.channel", "whatsapp"}, false},
		{"expr=a=b", Selector{"expr", "a=b"}, false},
		{"empty=", Selector{"empty", ""}, false},
		{"noequals", Selector{}, true},
		{"=value", Selector{}, true},
		{" =value", Selector{}, true},
		{"", Selector{}, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSelector(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("ParseSelector(%q) = %v, %v", tc.in, got, err)
			}
			if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.in)) {
				t.Errorf("error %q does not name the input", err)
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
