package sim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Defaults of Options.
const (
	DefaultCustomerID  = "1001"
	DefaultBotKey      = "0123456789abcdef"
	DefaultAPIKey      = "5f0c7e2a-1b3d-4c5e-8f9a-0b1c2d3e4f50-simkey"
	DefaultUsers       = 60
	DefaultMaxPageSize = 500
	DefaultRetryAfter  = time.Second
)

// maxUsers bounds Options.Users so that a typo cannot exhaust memory.
const maxUsers = 1_000_000

// maxRateLimit bounds Faults.RateLimit (requests per second), so that its default burst fits.
const maxRateLimit = 1e9

// Selector is one User API attribute selector: attribute_name=Name, attribute_value=Value.
type Selector struct{ Name, Value string }

func (s Selector) String() string { return s.Name + "=" + s.Value }

// Options configure a Server. The zero value of a field means its default (see DefaultOptions),
// so New(Options{Seed: 7}) is a valid canonical server.
type Options struct {
	Seed        int64
	Users       int              // number of users, default 60
	From, To    time.Time        // data range [From, To), default 2024-05-01T00:00Z .. 2024-05-15T00:00Z
	Clock       func() time.Time // server's now; messages with ArrivesAt > now are not served yet; default time.Now
	CustomerID  string           // default DefaultCustomerID
	BotKey      string           // default DefaultBotKey (16 hex characters)
	APIKey      string           // default DefaultAPIKey
	MaxPageSize int              // cap on page_size for both endpoints, default 500
	// UserMessages, when set, makes a regular user (not one of the fixtures with hundreds of
	// messages) have 1 to UserMessages messages instead of the default 5 to 80: a way to many
	// users with few messages (memory benchmarks of 1M users).
	UserMessages int
	Variant      Variant // response shape, default VariantCanonical
	Faults       Faults
}

// Faults are injected misbehaviours. The zero value injects none.
type Faults struct {
	P429       float64       // probability of a random 429 with Retry-After
	RetryAfter time.Duration // Retry-After of random 429s, sent as whole seconds (at least 1); default 1s
	P5xx       float64       // probability of a random 500/502/503/504 with an HTML body
	PCutOff    float64       // probability of a 200 JSON answer whose body is cut off part-way
	Latency    time.Duration // added to every response
	PSpike     float64       // probability of an extra Spike of latency
	Spike      time.Duration
	RateLimit  float64 // server-side token bucket in requests/s; 0 = none; over it -> 429 + Retry-After
	RateBurst  int     // bucket size; default ceil(RateLimit)
	// InclusiveEnd treats end_date as inclusive: messages exactly at end_date are returned.
	InclusiveEnd bool
	// UsersIgnorePaging makes the users endpoint return the full list on every page.
	UsersIgnorePaging bool
	// InvalidUsers are listed by the User API but their conversations answer 400 1002.
	InvalidUsers []string
	// Forbidden makes every authenticated call answer 403.
	Forbidden bool
	// RejectConversations, 1003 or 1004, makes every conversations request for the right
	// customer and bot answer 400 with that status code (INVALID_INPUT_DATE_VALUE,
	// INVALID_PAGE_NUMBER), as a deployment would that rejects what the client sends; 0: none.
	RejectConversations int
}

// DefaultOptions returns the defaults, with Seed 1.
func DefaultOptions() Options {
	return Options{
		Seed:        1,
		Users:       DefaultUsers,
		From:        time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
		To:          time.Date(2024, 5, 15, 0, 0, 0, 0, time.UTC),
		Clock:       time.Now,
		CustomerID:  DefaultCustomerID,
		BotKey:      DefaultBotKey,
		APIKey:      DefaultAPIKey,
		MaxPageSize: DefaultMaxPageSize,
		Variant:     VariantCanonical,
		Faults:      Faults{RetryAfter: DefaultRetryAfter},
	}
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

func isBotKey(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return len(s) == 16
}

// withDefaults returns o with zero fields set to their defaults, or an *OptionError naming
// the first invalid field.
func (o Options) withDefaults() (Options, error) {
	d := DefaultOptions()
	if o.Users == 0 {
		o.Users = d.Users
	}
	if o.From.IsZero() {
		o.From = d.From
	}
	if o.To.IsZero() {
		o.To = d.To
	}
	if o.Clock == nil {
		o.Clock = d.Clock
	}
	if o.CustomerID == "" {
		o.CustomerID = d.CustomerID
	}
	if o.BotKey == "" {
		o.BotKey = d.BotKey
	}
	if o.APIKey == "" {
		o.APIKey = d.APIKey
	}
	if o.MaxPageSize == 0 {
		o.MaxPageSize = d.MaxPageSize
	}
	if o.Variant == "" {
		o.Variant = d.Variant
	}
	f := &o.Faults
	if f.RetryAfter == 0 {
		f.RetryAfter = DefaultRetryAfter
	}
	if f.RateBurst == 0 && f.RateLimit > 0 && f.RateLimit <= maxRateLimit {
		f.RateBurst = int(math.Ceil(f.RateLimit))
	}
	o.From, o.To = o.From.UTC(), o.To.UTC()

	switch {
	case o.Users < 1 || o.Users > maxUsers:
		return o, optErr("Users", "must be in [1, %d], got %d", maxUsers, o.Users)
	case !o.From.Equal(o.From.Truncate(time.Millisecond)):
		return o, optErr("From", "must be a whole millisecond, got %s", o.From.Format(time.RFC3339Nano))
	case !o.To.Equal(o.To.Truncate(time.Millisecond)):
		return o, optErr("To", "must be a whole millisecond, got %s", o.To.Format(time.RFC3339Nano))
	case !o.To.After(o.From.Add(time.Hour)):
		return o, optErr("To", "must be at least an hour after From (%s), got %s", o.From.Format(time.RFC3339), o.To.Format(time.RFC3339))
	case o.From.Year() < 1971:
		return o, optErr("From", "must lie within years 1971..9999, got %s", o.From.Format(time.RFC3339))
	case o.To.Year() > 9999:
		return o, optErr("To", "must lie within years 1971..9999, got %s", o.To.Format(time.RFC3339))
	case !isDigits(o.CustomerID):
		return o, optErr("CustomerID", "must be digits, got %q", o.CustomerID)
	case !isBotKey(o.BotKey):
		return o, optErr("BotKey", "must be 16 hex characters, got %q", o.BotKey)
	case strings.ContainsAny(o.APIKey, " \t\r\n"):
		return o, optErr("APIKey", "must not contain white space")
	case o.MaxPageSize < 1:
		return o, optErr("MaxPageSize", "must be positive, got %d", o.MaxPageSize)
	case o.UserMessages < 0:
		return o, optErr("UserMessages", "must not be negative, got %d", o.UserMessages)
	}
	if _, err := ParseVariant(string(o.Variant)); err != nil {
		return o, optErr("Variant", "%v", err)
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"Faults.P429", f.P429}, {"Faults.P5xx", f.P5xx}, {"Faults.PCutOff", f.PCutOff}, {"Faults.PSpike", f.PSpike}} {
		if !(p.v >= 0 && p.v <= 1) {
			return o, optErr(p.name, "must be a probability in [0, 1], got %v", p.v)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Faults.RetryAfter", f.RetryAfter}, {"Faults.Latency", f.Latency}, {"Faults.Spike", f.Spike}} {
		if d.v < 0 {
			return o, optErr(d.name, "must not be negative, got %s", d.v)
		}
	}
	if !(f.RateLimit >= 0 && f.RateLimit <= maxRateLimit) {
		return o, optErr("Faults.RateLimit", "must be a number in [0, %g], got %v", float64(maxRateLimit), f.RateLimit)
	}
	if f.RateBurst < 0 {
		return o, optErr("Faults.RateBurst", "must not be negative, got %d", f.RateBurst)
	}
	if c := f.RejectConversations; c != 0 && c != codeInvalidDate && c != codeInvalidPage {
		return o, optErr("Faults.RejectConversations", "must be 0, %d or %d, got %d", codeInvalidDate, codeInvalidPage, c)
	}
	return o, nil
}

// Variant is a response shape of the contract.
type Variant string

// Variants. VariantMixed picks one of the others for each response, deterministically from the
// seed and the request sequence.
const (
	VariantCanonical        Variant = "canonical"         // exactly the canonical bodies
	VariantTopLevel         Variant = "toplevel"          // list and paging at the top level, with status
	VariantTopLevelNoStatus Variant = "toplevel-nostatus" // list and paging at the top level, no status
	VariantMessagesKey      Variant = "messages-key"      // conversations under "messages"
	VariantNoPaging         Variant = "no-paging"         // no page_number/page_size/total_elements
	VariantFlatUsers        Variant = "flat-users"        // user attributes flat beside the id
	VariantUserID           Variant = "user_id"           // a user's id under "user_id"
	VariantUserIDCamel      Variant = "userId"            // a user's id under "userId"
	VariantMixed            Variant = "mixed"             // one of the above per response
)

// fixedVariants are the variants VariantMixed picks from, in a fixed order.
func fixedVariants() []Variant {
	return []Variant{VariantCanonical, VariantTopLevel, VariantTopLevelNoStatus, VariantMessagesKey,
		VariantNoPaging, VariantFlatUsers, VariantUserID, VariantUserIDCamel}
}

// VariantNames are the names of every variant, VariantMixed last.
func VariantNames() []string {
	var names []string
	for _, v := range append(fixedVariants(), VariantMixed) {
		names = append(names, string(v))
	}
	return names
}

// ParseVariant returns the Variant named s; "" is VariantCanonical.
func ParseVariant(s string) (Variant, error) {
	if s == "" {
		return VariantCanonical, nil
	}
	for _, v := range append(fixedVariants(), VariantMixed) {
		if string(v) == s {
			return v, nil
		}
	}
	return "", fmt.Errorf("unknown variant %s, want one of %s", strconv.Quote(s), strings.Join(VariantNames(), ", "))
}
