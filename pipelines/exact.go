package pipelines

import (
	"context"
	"fmt"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/schema"
	"github.com/chatlake/chatlake/transform"
)

// keyer turns the pages of one user's query over one window into rows with message keys, each
// message exactly once, whatever the deployment does at window bounds or page bounds.
//
// The API has no message id, so a message is known by its identity (transform.IdentityOf) and
// its occurrence number among identical messages. Within one page the count of an identity is
// what the API holds: a page is one consistent answer. An identity seen on two pages is
// ambiguous: either genuinely identical messages that a page boundary split, or one message the
// deployment repeated across pages. Then the keyer asks the API for that one millisecond of that
// user (a window of 1 ms, one short page) and takes that count as the truth. It never emits more
// copies of an identity than that count, and never more than it received.
//
// Memory: one small entry per distinct identity of the user in the window.
type keyer struct {
	src    transform.Source
	user   *extract.User
	window extract.Window
	count  func(ctx context.Context, at time.Time, id transform.Identity) (int, error)

	page int
	seen map[transform.Identity]*identityState

	outside  int // messages the API sent outside the window (inclusive end bounds)
	repeated int // copies dropped as repeats across pages
	requery  int // 1 ms queries made to settle an identity seen on two pages
}

type identityState struct {
	emitted  int
	lastPage int
	settled  bool
	total    int // the API's count, once settled
}

func newKeyer(src transform.Source, user *extract.User, w extract.Window,
	count func(ctx context.Context, at time.Time, id transform.Identity) (int, error)) *keyer {
	return &keyer{src: src, user: user, window: w, count: count, seen: make(map[transform.Identity]*identityState)}
}

// add flattens one page and returns its rows that are new, with their keys set.
func (k *keyer) add(ctx context.Context, p extract.Page) ([]schema.Message, error) {
	k.page++
	rows := make([]schema.Message, 0, len(p.Messages))
	ids := make([]transform.Identity, 0, len(p.Messages))
	perPage := make(map[transform.Identity]int, len(p.Messages))
	for i, raw := range p.Messages {
		m, err := transform.Flatten(k.src, k.user, raw)
		if err != nil {
			return nil, fmt.Errorf("page %d, message %d: %w", p.Number, i+1, err)
		}
		if m.SentAt.Before(k.window.Start) || !m.SentAt.Before(k.window.End) {
			k.outside++
			continue
		}
		id := transform.IdentityOf(&m)
		rows = append(rows, m)
		ids = append(ids, id)
		perPage[id]++
	}

	// allowed[id] is how many of this page's copies of id may still be emitted.
	allowed := make(map[transform.Identity]int, len(perPage))
	for id, n := range perPage {
		st := k.seen[id]
		switch {
		case st == nil:
			k.seen[id] = &identityState{lastPage: k.page}
			allowed[id] = n
			continue
		case !st.settled && st.lastPage != k.page:
			total, err := k.count(ctx, rows[indexOf(ids, id)].SentAt, id)
			if err != nil {
				return nil, err
			}
			k.requery++
			st.settled, st.total = true, total
		}
		st.lastPage = k.page
		allowed[id] = min(n, max(0, st.total-st.emitted))
	}

	out := rows[:0]
	for i := range rows {
		id := ids[i]
		if allowed[id] == 0 {
			k.repeated++
			continue
		}
		allowed[id]--
		st := k.seen[id]
		rows[i].MessageKey = transform.MessageKey(id, st.emitted)
		st.emitted++
		out = append(out, rows[i])
	}
	return out, nil
}

func indexOf(ids []transform.Identity, id transform.Identity) int {
	for i := range ids {
		if ids[i] == id {
			return i
		}
	}
	return -1
}

// countAt asks the API for the messages of one user at one millisecond and counts those of
// identity id. A deployment with inclusive end bounds also sends the next millisecond; those
// are not counted.
func countAt(ctx context.Context, src conversationSource, tsrc transform.Source, user *extract.User,
	at time.Time, id transform.Identity) (int, error) {
	w := extract.Window{Start: at, End: at.Add(time.Millisecond)}
	n := 0
	err := src.Conversations(ctx, user.ID, w, func(p extract.Page) error {
		for i, raw := range p.Messages {
			m, err := transform.Flatten(tsrc, user, raw)
			if err != nil {
				return fmt.Errorf("page %d, message %d: %w", p.Number, i+1, err)
			}
			if m.SentAt.Equal(at) && transform.IdentityOf(&m) == id {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("settling identical messages at %s: %w", at.Format(time.RFC3339Nano), err)
	}
	return n, nil
}
