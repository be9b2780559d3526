package sim_test

import (
	"bytes"
	"flag"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatlake/chatlake/sim"
)

func TestRegisterFlags(t *testing.T) {
	o := sim.DefaultOptions()
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	o.RegisterFlags(fs)
	err := fs.Parse([]string{
		"-seed", "42", "-users", "7", "-from", "2024-06-01", "-to", "2024-06-03", "-now", "2024-06-10T00:00:00Z",
		"-customer", "77", "-bot", "fedcba9876543210", "-api-key", "k-1", "-max-page-size", "9", "-user-messages", "3",
		"-variant", "no-paging", "-p429", "0.1", "-retry-after", "3s", "-p5xx", "0.2", "-pcutoff", "0.3",
		"-latency", "5ms", "-pspike", "0.4", "-spike", "1s", "-rate-limit", "20", "-rate-burst", "5",
		"-inclusive-end", "-users-ignore-paging", "-invalid-users", "a, b", "-forbidden", "-reject-conversations", "1004",
	})
	if err != nil {
		t.Fatal(err)
	}
	f := o.Faults
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	if o.Seed != 42 || o.Users != 7 || !o.From.Equal(day("2024-06-01")) || !o.To.Equal(day("2024-06-04")) ||
		!o.Clock().Equal(time.Date(2024, 6, 10, 0, 0, 0, 0, time.UTC)) || o.CustomerID != "77" ||
		o.BotKey != "fedcba9876543210" || o.APIKey != "k-1" || o.MaxPageSize != 9 || o.UserMessages != 3 || o.Variant != sim.VariantNoPaging {
		t.Errorf("options %+v", o)
	}
	if f.P429 != 0.1 || f.RetryAfter != 3*time.Second || f.P5xx != 0.2 || f.PCutOff != 0.3 || f.Latency != 5*time.Millisecond ||
		f.PSpike != 0.4 || f.Spike != time.Second || f.RateLimit != 20 || f.RateBurst != 5 || !f.InclusiveEnd ||
		!f.UsersIgnorePaging || !slices.Equal(f.InvalidUsers, []string{"a", "b"}) || !f.Forbidden ||
		f.RejectConversations != 1004 {
		t.Errorf("faults %+v", f)
	}
	fs.PrintDefaults()
	help := usage.String()
	for _, name := range []string{"seed", "users", "from", "to", "now", "variant", "p429", "retry-after", "p5xx", "pcutoff",
		"latency", "pspike", "spike", "rate-limit", "inclusive-end", "users-ignore-paging", "max-page-size", "invalid-users", "reject-conversations"} {
		if !strings.Contains(help, "-"+name+" ") && !strings.Contains(help, "-"+name+"\n") {
			t.Errorf("no flag -%s in\n%s", name, help)
		}
	}
	if strings.Contains(help, sim.DefaultAPIKey) {
		t.Error("help text shows the API key")
	}
	if !strings.Contains(help, "2024-05-01") || !strings.Contains(help, "mixed") {
		t.Errorf("help lacks defaults or variants:\n%s", help)
	}

	for _, bad := range [][]string{{"-variant", "xml"}, {"-from", "May 1"}, {"-now", "yesterday"}} {
		fs := flag.NewFlagSet("sim", flag.ContinueOnError)
		fs.SetOutput(&bytes.Buffer{})
		o := sim.DefaultOptions()
		o.RegisterFlags(fs)
		if err := fs.Parse(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestUserMessages: with UserMessages set, regular users have 1 to UserMessages messages (a
// repeated twin may add one); the fixture users keep theirs.
func TestUserMessages(t *testing.T) {
	o := sim.DefaultOptions()
	o.Users, o.UserMessages = 300, 2
	s, err := sim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, m := range s.Truth(nil, o.From, o.To, o.To.AddDate(1, 0, 0)) {
		per[m.ChannelUserID]++
	}
	many := 0
	for _, n := range per {
		if n > 3 {
			many++
		}
	}
	if many > 5 || len(per) < 200 {
		t.Fatalf("%d of the %d users with messages have more than 3, want only the few fixture users", many, len(per))
	}
}
