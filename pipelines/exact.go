package pipelines

import (
	"context"
	"fmt"
	"time"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/schema"
	"github.com/chatlake/chatlake/transform"
)

// exportUser pages one user's conversations over w into the stage and returns the number of
// rows staged.
func (p *Pipeline) exportUser(ctx context.Context, tsrc transform.Source, user *extract.User, w extract.Window,
	stage *load.Stage, sum *Summary) (int, error) {
	if err := p.checkStalled(sum); err != nil {
		return 0, err
	}
	count := func(ctx context.Context, at time.Time, id transform.Identity) (int, error) {
		return countAt(ctx, p.src, tsrc, user, at, id)
	}
	k := newKeyer(tsrc, user, w, count)
	n := 0
	err := p.src.Conversations(ctx, user.ID, w, func(pg extract.Page) error {
		rows, err := k.add(ctx, pg)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		n += len(rows)
		return stage.Add(rows)
	})
	sum.addExactness(k.outside, k.repeated, k.requery)
	return n, err
}

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
// Memory: one small entry per distinct identity of the user in the window, and the scratch of
// the largest page.
type keyer struct {
	src    transform.Source
	user   *extract.User
	window extract.Window
	count  func(ctx context.Context, at time.Time, id transform.Identity) (int, error)

	page int
	seen map[transform.Identity]identityState

	outside  int // messages the API sent outside the window (inclusive end bounds)
	repeated int // copies dropped as repeats across pages
	requery  int // 1 ms queries made to settle an identity seen on two pages

	// Scratch of add, reused from page to page.
	rows    []schema.Message
	ids     []transform.Identity
	perPage map[transform.Identity]int // then how many of this page's copies may still be emitted
	keys    []byte
	keyEnds []int
}

type identityState struct {
	emitted  int
	lastPage int
	settled  bool
	total    int // the API's count, once settled
}

func newKeyer(src transform.Source, user *extract.User, w extract.Window,
	count func(ctx context.Context, at time.Time, id transform.Identity) (int, error)) *keyer {
	return &keyer{src: src, user: user, window: w, count: count}
}

// add flattens one page and returns its rows that are new, with their keys set. The rows are
// valid until the next add: the caller copies what it keeps (load.Stage.Add does).
func (k *keyer) add(ctx context.Context, p extract.Page) ([]schema.Message, error) {
	k.page++
	if k.seen == nil { // sized by the first page: most users' windows have one
		n := len(p.Messages)
		k.seen, k.perPage = make(map[transform.Identity]identityState, n), make(map[transform.Identity]int, n)
		k.ids, k.keys, k.keyEnds = make([]transform.Identity, 0, n), make([]byte, 0, n*36), make([]int, 0, n)
	}
	rows, err := transform.FlattenPage(k.rows[:0], k.src, k.user, p.Messages)
	k.rows = rows[:0]
	if err != nil {
		return nil, fmt.Errorf("page %d, %w", p.Number, err)
	}
	ids := k.ids[:0]
	clear(k.perPage)
	in := rows[:0]
	for i := range rows {
		if rows[i].SentAt.Before(k.window.Start) || !rows[i].SentAt.Before(k.window.End) {
			k.outside++
			continue
		}
		id := transform.IdentityOf(&rows[i])
		in = append(in, rows[i])
		ids = append(ids, id)
		k.perPage[id]++
	}
	rows = in
	k.ids = ids

	// perPage[id] becomes how many of this page's copies of id may still be emitted.
	allowed := k.perPage
	for id, n := range allowed {
		st, ok := k.seen[id]
		switch {
		case !ok:
			k.seen[id] = identityState{lastPage: k.page}
			continue // all n copies
		case !st.settled && st.lastPage != k.page:
			total, err := k.count(ctx, rows[indexOf(ids, id)].SentAt, id)
			if err != nil {
				return nil, err
			}
			k.requery++
			st.settled, st.total = true, total
		}
		st.lastPage = k.page
		k.seen[id] = st
		allowed[id] = min(n, max(0, st.total-st.emitted))
	}

	// The keys of the page share one string.
	k.keys, k.keyEnds = k.keys[:0], k.keyEnds[:0]
	out := rows[:0]
	for i := range rows {
		id := ids[i]
		if allowed[id] == 0 {
			k.repeated++
			continue
		}
		allowed[id]--
		st := k.seen[id]
		k.keys = transform.AppendMessageKey(k.keys, id, st.emitted)
		k.keyEnds = append(k.keyEnds, len(k.keys))
		st.emitted++
		k.seen[id] = st
		out = append(out, rows[i])
	}
	keys, at := string(k.keys), 0
	for i, end := range k.keyEnds {
		out[i].MessageKey = keys[at:end]
		at = end
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
	var rows []schema.Message
	err := src.Conversations(ctx, user.ID, w, func(p extract.Page) error {
		var err error
		if rows, err = transform.FlattenPage(rows[:0], tsrc, user, p.Messages); err != nil {
			return fmt.Errorf("page %d, %w", p.Number, err)
		}
		for i := range rows {
			if rows[i].SentAt.Equal(at) && transform.IdentityOf(&rows[i]) == id {
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
