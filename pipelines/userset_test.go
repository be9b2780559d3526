package pipelines

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/transform"
)

func testUser(id, channel, name string) *extract.User {
	raw, _ := json.Marshal(map[string]any{"channel_user_id": id, "channel": channel, "attributes": map[string]string{"name": name}})
	return &extract.User{ID: id, Channel: channel, Attributes: map[string]string{"name": name}, Raw: raw}
}

// TestUserSet: the set deduplicates by id keeping the first answer's fields, records every
// selector that matched a user (more than 64 selectors too), lists the users in id order, and
// names the selectors that matched nobody (a selector given twice counts once).
func TestUserSet(t *testing.T) {
	for _, collide := range []bool{false, true} {
		t.Run(fmt.Sprintf("every hash collides=%v", collide), func(t *testing.T) { testUserSet(t, collide) })
	}
}

func testUserSet(t *testing.T, collide bool) {
	var sels []extract.Selector
	for i := range 70 {
		sels = append(sels, extract.Selector{Name: "s", Value: fmt.Sprint(i)})
	}
	sels = append(sels, sels[3]) // given twice
	set, err := newUserSet(sels, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer set.close()
	if collide {
		set.hash = func(string) uint64 { return 7 }
	}
	adds := []struct {
		sel int
		u   *extract.User
	}{
		{0, testUser("u3", "whatsapp", "first")},
		{0, testUser("u1", "web", "one")},
		{0, testUser("u3", "whatsapp", "repeated by the deployment")},
		{3, testUser("u3", "web", "second answer")},
		{66, testUser("u2", "whatsapp", "two")},
		{66, testUser("u1", "web", "one again")},
	}
	for _, a := range adds {
		if err := set.add(sels[a.sel], a.u); err != nil {
			t.Fatal(err)
		}
	}
	if err := set.seal(); err != nil {
		t.Fatal(err)
	}
	if set.len() != 3 {
		t.Fatalf("%d users, want 3", set.len())
	}
	var ids []string
	for i := range set.len() {
		ids = append(ids, set.user(i).ID)
	}
	if !slices.Equal(ids, []string{"u1", "u2", "u3"}) {
		t.Fatalf("users %v, want them in id order", ids)
	}
	if u := set.user(2); u.Channel != "whatsapp" {
		t.Fatalf("u3's channel %q, want the first answer's", u.Channel)
	}
	var want []string
	for i := range 70 {
		if i != 0 && i != 3 && i != 66 {
			want = append(want, sels[i].String())
		}
	}
	if got := set.unmatched(); !slices.Equal(got, want) {
		t.Fatalf("unmatched %v, want %v", got, want)
	}

	tsrc := transform.Source{CustomerID: "1", BotKey: "0123456789abcdef", RunID: "run", ExtractedAt: time.Unix(0, 0).UTC()}
	next := set.usersTable(tsrc, nil)
	wantSels := map[string][]string{"u1": {"s=0", "s=66"}, "u2": {"s=66"}, "u3": {"s=0", "s=3"}}
	wantAttrs := map[string]string{"u1": `{"name":"one"}`, "u2": `{"name":"two"}`, "u3": `{"name":"first"}`}
	for _, id := range ids {
		row, err := next()
		if err != nil {
			t.Fatal(err)
		}
		if row.ChannelUserID != id || !slices.Equal(row.Selectors, wantSels[id]) || row.AttributesJSON != wantAttrs[id] {
			t.Fatalf("row %s: selectors %v attributes %s, want %s %v %s", row.ChannelUserID, row.Selectors, row.AttributesJSON,
				id, wantSels[id], wantAttrs[id])
		}
	}
	if _, err := next(); err != io.EOF {
		t.Fatalf("after the last row: %v, want io.EOF", err)
	}
}

// BenchmarkUserSetMemory measures the memory a userSet holds per user once 1M users (with 5
// selectors, ids like the simulator's, a user matched twice in 10) are listed and sealed.
//
//	go test -run '^$' -bench BenchmarkUserSetMemory -benchtime 1x ./pipelines/
func BenchmarkUserSetMemory(b *testing.B) {
	const users = 1_000_000
	sels := []extract.Selector{{Name: "feedback", Value: "1"}, {Name: "feedback", Value: "2"},
		{Name: "feedback", Value: "3"}, {Name: "feedback", Value: "4"}, {Name: "feedback", Value: "5"}}
	for range b.N {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		set, err := newUserSet(sels, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		var peak uint64
		for i := range users {
			u := testUser(fmt.Sprintf("+91%010d", i*7919%users), "whatsapp", "name")
			if err := set.add(sels[i%5], u); err != nil {
				b.Fatal(err)
			}
			if i%10 == 0 {
				if err := set.add(sels[(i+1)%5], u); err != nil {
					b.Fatal(err)
				}
			}
			if i%100_000 == 0 {
				var m runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapAlloc-before.HeapAlloc)
			}
		}
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		peak = max(peak, m.HeapAlloc-before.HeapAlloc)
		if err := set.seal(); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&m)
		sealed := m.HeapAlloc - before.HeapAlloc
		b.ReportMetric(float64(peak)/users, "B/user-listing")
		b.ReportMetric(float64(sealed)/users, "B/user-sealed")
		runtime.KeepAlive(set)
		set.close()
	}
}
