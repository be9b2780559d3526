package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chatlake/chatlake/schema"
	"github.com/chatlake/chatlake/sim"
)

// defaultSimAddr is where `chatlake sim` listens by default.
const defaultSimAddr = "127.0.0.1:8080"

// simOptions is the table of sim's flags, bound to o (its defaults are o's values: pass
// sim.DefaultOptions()). Package sim checks the values (New returns a *sim.OptionError naming
// the field: the table names its flag).
func simOptions(addr *string, o *sim.Options) []option {
	*addr = defaultSimAddr
	f := &o.Faults
	plain := func(v flag.Value, name, field, help string) option {
		return option{name: name, value: v, help: help, def: v.String(), field: field}
	}
	from, to := &simDay{p: &o.From}, &simDay{p: &o.To, inclusive: true}
	opts := []option{
		stringOpt(addr, "addr", "HOST:PORT", "address to listen on", nil),
		plain((*int64Value)(&o.Seed), "seed", "Seed", "seed of the generated data and of fault randomness (same seed, same data)"),
		plain((*intValue)(&o.Users), "users", "Users", "number of generated users"),
		plain(from, "from", "From", "first day of generated messages, YYYY-MM-DD UTC"),
		plain(to, "to", "To", "last day of generated messages, YYYY-MM-DD UTC, included"),
		plain(&simClock{p: &o.Clock}, "now", "Clock", "fixed server clock, RFC 3339 (e.g. 2024-05-20T00:00:00Z); messages arriving later are not served (default: real time)"),
		plain(&placeheldString{p: &o.CustomerID, ph: "ID"}, "customer", "CustomerID", "customerId the server accepts (digits); export's --customer"),
		plain(&placeheldString{p: &o.BotKey, ph: "KEY"}, "bot", "BotKey", "botKey the server accepts (16 hex characters); export's --bot"),
		plain(&simKey{p: &o.APIKey}, "api-key", "APIKey", "API key clients must send as 'Authorization: Basic <key>' (default: the simulator's public test key, which chatlake sim prints)"),
		plain((*intValue)(&o.MaxPageSize), "max-page-size", "MaxPageSize", "cap on page_size of both endpoints"),
		plain((*intValue)(&o.UserMessages), "user-messages", "UserMessages", "if set, a regular user has 1 to this many messages (0: 5 to 80)"),
		plain(&simVariant{p: &o.Variant}, "variant", "Variant", "response shape, one of "+strings.Join(sim.VariantNames(), ", ")),
		plain((*floatValue)(&f.P429), "p429", "Faults.P429", "probability of a random 429 Too Many Requests with Retry-After"),
		plain((*durationValue)(&f.RetryAfter), "retry-after", "Faults.RetryAfter", "Retry-After of random 429s (sent as whole seconds, at least 1)"),
		plain((*floatValue)(&f.P5xx), "p5xx", "Faults.P5xx", "probability of a random 500/502/503/504 with an HTML body"),
		plain((*floatValue)(&f.PCutOff), "pcutoff", "Faults.PCutOff", "probability of a 200 whose JSON body is cut off part-way"),
		plain((*durationValue)(&f.Latency), "latency", "Faults.Latency", "latency added to every response"),
		plain((*floatValue)(&f.PSpike), "pspike", "Faults.PSpike", "probability of an extra latency spike"),
		plain((*durationValue)(&f.Spike), "spike", "Faults.Spike", "length of a latency spike"),
		plain((*floatValue)(&f.RateLimit), "rate-limit", "Faults.RateLimit", "server-side rate limit in requests/s, 429 above it (0 = none)"),
		plain((*intValue)(&f.RateBurst), "rate-burst", "Faults.RateBurst", "burst of the server-side rate limit (0 = ceil(rate-limit))"),
		plain((*boolValue)(&f.InclusiveEnd), "inclusive-end", "", "treat end_date as inclusive (messages exactly at end_date are returned)"),
		plain((*boolValue)(&f.UsersIgnorePaging), "users-ignore-paging", "", "users endpoint returns the full list on every page"),
		plain(&simUserIDs{p: &f.InvalidUsers}, "invalid-users", "Faults.InvalidUsers", "user ids that the User API lists but whose conversations answer 400 1002; repeat it, or separate them by '"+listSeparator+"'"),
		plain((*boolValue)(&f.Forbidden), "forbidden", "", "every authenticated call answers 403"),
		plain((*intValue)(&f.RejectConversations), "reject-conversations", "Faults.RejectConversations", "every conversations request answers 400 with this status code, 1003 or 1004 (0: none)"),
	}
	opts[0].def = defaultSimAddr
	return opts
}

// runSim serves the simulator until the context ends (Ctrl-C, SIGTERM).
func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	var addr string
	o := sim.DefaultOptions()
	opts := simOptions(&addr, &o)
	register(fs, opts)
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	srv, ln, hs, err := listenSim(o, addr)
	var oe *sim.OptionError
	if errors.As(err, &oe) {
		for _, opt := range opts {
			if opt.field == oe.Field {
				return usagef("sim: --%s: %s", opt.name, oe.Reason)
			}
		}
	}
	if err != nil {
		return usagef("sim: %v", err)
	}
	fmt.Fprintf(stdout, "Technowiz simulator on http://%s  customer %s  bot %s\n", ln.Addr(), o.CustomerID, o.BotKey)
	if o.APIKey == sim.DefaultAPIKey {
		// The simulator's default key is a public test value, not a secret.
		fmt.Fprintf(stdout, "export %s=%s\n", apiKeyEnv, sim.DefaultAPIKey)
	} else {
		fmt.Fprintf(stdout, "It accepts the key given with --api-key; export it as %s.\n", apiKeyEnv)
	}
	fmt.Fprintf(stdout, "Selectors covering every user:")
	for _, s := range srv.Selectors() {
		fmt.Fprintf(stdout, " --users-where %s=%s", s.Name, s.Value)
	}
	fmt.Fprintln(stdout)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return hs.Shutdown(sctx)
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// listenSim makes the simulator and its HTTP server listening on addr; the caller serves it.
func listenSim(o sim.Options, addr string) (*sim.Server, net.Listener, *http.Server, error) {
	srv, err := sim.New(o)
	if err != nil {
		return nil, nil, nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return srv, ln, &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}, nil
}

// The flag.Values of sim's table that no other command has.

type int64Value int64

func (v *int64Value) String() string      { return strconv.FormatInt(int64(*v), 10) }
func (v *int64Value) placeholder() string { return "N" }
func (v *int64Value) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 0, 64)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	*v = int64Value(n)
	return nil
}

// simDay is a UTC day; an inclusive one (--to) is stored as the next day's start.
type simDay struct {
	p         *time.Time
	inclusive bool
}

func (v *simDay) placeholder() string { return "DAY" }
func (v *simDay) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	d := *v.p
	if v.inclusive {
		d = d.AddDate(0, 0, -1)
	}
	return d.Format(schema.DayLayout)
}
func (v *simDay) Set(s string) error {
	d, err := schema.ParseDay(s)
	if err != nil {
		return err
	}
	if v.inclusive {
		d = d.AddDate(0, 0, 1)
	}
	*v.p = d
	return nil
}

// simClock fixes the server's clock at an RFC 3339 time; unset, it is real time.
type simClock struct{ p *func() time.Time }

func (v *simClock) placeholder() string { return "TIME" }
func (v *simClock) String() string      { return "" }
func (v *simClock) Set(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("%q is not an RFC 3339 time (2024-05-20T00:00:00Z)", s)
	}
	*v.p = func() time.Time { return t }
	return nil
}

// simKey is the simulator's API key; its help shows no default (the key is printed at start).
type simKey struct{ p *string }

func (v *simKey) placeholder() string { return "KEY" }
func (v *simKey) String() string      { return "" }
func (v *simKey) Set(s string) error  { *v.p = s; return nil }

type simVariant struct{ p *sim.Variant }

func (v *simVariant) placeholder() string { return "VARIANT" }
func (v *simVariant) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return string(*v.p)
}
func (v *simVariant) Set(s string) error { *v.p = sim.Variant(s); return nil }

// simUserIDs is a repeatable list of user ids, several in one value separated by listSeparator.
type simUserIDs struct{ p *[]string }

func (v *simUserIDs) placeholder() string { return "ID" }
func (v *simUserIDs) repeatable()         {}
func (v *simUserIDs) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return strings.Join(*v.p, listSeparator)
}
func (v *simUserIDs) Set(s string) error {
	for _, id := range strings.Split(s, listSeparator) {
		if id = strings.TrimSpace(id); id != "" {
			*v.p = append(*v.p, id)
		}
	}
	return nil
}
