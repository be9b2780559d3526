package main

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatlake/chatlake/sim"
)

// TestSimFlags: sim's table sets every field of sim.Options it names, its help shows no key,
// and a value sim refuses is exit 2 naming the flag, before anything listens.
func TestSimFlags(t *testing.T) {
	o := sim.DefaultOptions()
	var addr string
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	register(fs, simOptions(&addr, &o))
	_, err := parseFlags(fs, []string{
		"--addr", "127.0.0.1:0", "--seed", "42", "--users", "7", "--from", "2024-06-01", "--to", "2024-06-03", "--now", "2024-06-10T00:00:00Z",
		"--customer", "77", "--bot", "fedcba9876543210", "--api-key", "k-1", "--max-page-size", "9", "--user-messages", "3",
		"--variant", "no-paging", "--p429", "0.1", "--retry-after", "3s", "--p5xx", "0.2", "--pcutoff", "0.3",
		"--latency", "5ms", "--pspike", "0.4", "--spike", "1s", "--rate-limit", "20", "--rate-burst", "5",
		"--inclusive-end", "--users-ignore-paging", "--invalid-users", "a, b", "--invalid-users", "c", "--forbidden", "--reject-conversations", "1004",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	f := o.Faults
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	if addr != "127.0.0.1:0" || o.Seed != 42 || o.Users != 7 || !o.From.Equal(day("2024-06-01")) || !o.To.Equal(day("2024-06-04")) ||
		!o.Clock().Equal(time.Date(2024, 6, 10, 0, 0, 0, 0, time.UTC)) || o.CustomerID != "77" ||
		o.BotKey != "fedcba9876543210" || o.APIKey != "k-1" || o.MaxPageSize != 9 || o.UserMessages != 3 || o.Variant != sim.VariantNoPaging {
		t.Errorf("options %+v", o)
	}
	if f.P429 != 0.1 || f.RetryAfter != 3*time.Second || f.P5xx != 0.2 || f.PCutOff != 0.3 || f.Latency != 5*time.Millisecond ||
		f.PSpike != 0.4 || f.Spike != time.Second || f.RateLimit != 20 || f.RateBurst != 5 || !f.InclusiveEnd ||
		!f.UsersIgnorePaging || !slices.Equal(f.InvalidUsers, []string{"a", "b", "c"}) || !f.Forbidden ||
		f.RejectConversations != 1004 {
		t.Errorf("faults %+v", f)
	}
	_, help, _ := runCmd(t, "help", "sim")
	if strings.Contains(help, sim.DefaultAPIKey) || !strings.Contains(help, "(default 2024-05-01)") ||
		!strings.Contains(help, "(default 2024-05-14)") || !strings.Contains(help, "mixed") {
		t.Errorf("sim's help shows the key, or lacks the days' defaults or the variants:\n%s", help)
	}
	for _, tc := range []struct{ args []string }{
		{[]string{"--variant", "xml"}}, {[]string{"--from", "May 1"}}, {[]string{"--now", "yesterday"}},
		{[]string{"--users", "-1"}}, {[]string{"--p5xx", "2"}},
	} {
		code, stdout, stderr := runCmd(t, append([]string{"sim", "--addr", "127.0.0.1:0"}, tc.args...)...)
		if code != exitBadInput || stdout != "" || !strings.Contains(lastLine(stderr), tc.args[0]) {
			t.Errorf("%v: exit %d, want 2 naming the flag; stdout %q, stderr %q", tc.args, code, stdout, stderr)
		}
	}
}
