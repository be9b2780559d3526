package sim_test

import (
	"testing"

	"github.com/chatlake/chatlake/sim"
)

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
