package extract

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
)

// usersOf pages the User API for one selector and hands each page's users to add, until add
// returns false.
func (c *Client) usersOf(ctx context.Context, sel Selector, add func([]User) bool) error {
	path := "/bot-api/v1.0/customer/" + url.PathEscape(c.o.CustomerID) + "/bot/" + url.PathEscape(c.o.BotKey) + "/users"
	var prev [sha256.Size]byte
	seen, confirming := 0, false
	for n := 1; ; n++ {
		op := c.red.clean(fmt.Sprintf("users for selector %q, page %d", sel.String(), n), 0)
		if n > c.o.MaxPages {
			return fmt.Errorf("extract: %s: %w (%d pages)", op, ErrTooManyPages, c.o.MaxPages)
		}
		q := url.Values{
			"attribute_name":  {sel.Name},
			"attribute_value": {sel.Value},
			"page_number":     {strconv.Itoa(n)},
			"page_size":       {strconv.Itoa(c.o.PageSize)},
		}
		type usersPage struct {
			p     listPage
			users []User
		}
		up, err := get(ctx, c, call{op: op, endpoint: endpointUsers, path: path, query: q},
			func(r io.Reader) (usersPage, error) {
				p, us, err := decodeUsers(r)
				return usersPage{p, us}, err
			})
		if err != nil {
			return err
		}
		if len(up.users) == 0 {
			c.confirmed(confirming)
			return nil
		}
		h := hashItems(up.p.items)
		if n > 1 && h == prev {
			c.confirmed(confirming)
			c.log.Warn("extract: page repeats the previous one; the deployment ignores paging", "op", op)
			return nil
		}
		prev = h
		if !add(up.users) {
			return nil
		}
		seen += len(up.users)
		var more bool
		if more, confirming = c.morePages(endpointUsers, up.p, seen, op); !more {
			return nil
		}
	}
}

// Conversations pages the messages of one user in window w with one query (start_date and
// end_date in epoch milliseconds; a zero Start or End leaves that bound out) and calls fn once
// per non-empty page, in order, with the messages exactly as sent. Paging stops after an empty
// page, when total_elements are all seen, or after a page shorter than the deployment's real
// page size: the smaller page_size the page reports, or without paging metadata the largest
// page this Client has seen (a deployment may cap page_size below Options.PageSize without
// saying so). A short page without metadata that is as long as any seen so far could be such a
// cap: the next page is asked for to confirm the end (Stats.Confirmations counts those that
// found it). A page identical to the previous one ends paging without being delivered (a
// deployment ignoring paging); more than MaxPages pages is ErrTooManyPages. An error of fn stops
// paging and is returned wrapped.
//
// A retried request never calls fn twice for the same page: a page is decoded in full before fn
// sees it. A Page's Messages are valid only until fn returns: they are slices of a body buffer
// that the Client reuses; fn copies what it keeps (transform.FlattenPage does).
func (c *Client) Conversations(ctx context.Context, userID string, w Window, fn func(Page) error) error {
	what := c.red.clean(fmt.Sprintf("conversations of user %q in window %s", userID, w), 0)
	switch {
	case ctx == nil:
		return &InputError{Input: "context", Reason: "nil", noValue: true}
	case fn == nil:
		return &InputError{Input: "page callback", Reason: "nil", noValue: true}
	case userID == "":
		return &InputError{Input: "user id", Reason: "empty", noValue: true}
	}
	if err := w.Validate(); err != nil {
		return err
	}
	path := "/bot-api/v1.0/customer/" + url.PathEscape(c.o.CustomerID) + "/bot/" + url.PathEscape(c.o.BotKey) +
		"/channel-user/" + url.PathEscape(userID) + "/conversations"
	var prev [sha256.Size]byte
	seen, confirming := 0, false
	for n := 1; ; n++ {
		if n > c.o.MaxPages {
			return fmt.Errorf("extract: %s: %w (%d pages)", what, ErrTooManyPages, c.o.MaxPages)
		}
		q := url.Values{
			"page_number": {strconv.Itoa(n)},
			"page_size":   {strconv.Itoa(c.o.PageSize)},
		}
		if !w.Start.IsZero() {
			q.Set("start_date", strconv.FormatInt(w.Start.UnixMilli(), 10))
		}
		if !w.End.IsZero() {
			q.Set("end_date", strconv.FormatInt(w.End.UnixMilli(), 10))
		}
		op := fmt.Sprintf("%s, page %d", what, n)
		more, err := c.conversationsPage(ctx, call{op: op, endpoint: endpointConversations, path: path, query: q},
			func(p listPage) (bool, error) {
				if len(p.items) == 0 {
					c.confirmed(confirming)
					return false, nil
				}
				// A page's digest is taken only when there is a page before it to compare
				// with, or one after it that will be compared with it: most users have one
				// page, and hashing every body was 1.6% of an export's CPU.
				if n > 1 {
					h := hashItems(p.items)
					if h == prev {
						c.confirmed(confirming)
						c.log.Warn("extract: page repeats the previous one; the deployment ignores paging", "op", op)
						return false, nil
					}
					prev = h
				}
				seen += len(p.items)
				var more bool
				if more, confirming = c.morePages(endpointConversations, p, seen, op); more && n == 1 {
					prev = hashItems(p.items)
				}
				if err := fn(Page{Number: n, Messages: p.items, Total: p.total}); err != nil {
					return false, fmt.Errorf("extract: %s: %w", op, err)
				}
				return more, nil
			})
		if err != nil || !more {
			return err
		}
	}
}

// conversationsPage gets one page of conversations into a body buffer of the Client's and
// hands it to use; the buffer is reused once use returns.
func (c *Client) conversationsPage(ctx context.Context, cl call, use func(listPage) (bool, error)) (bool, error) {
	pb, _ := c.bodies.Get().(*pageBuffer)
	if pb == nil {
		pb = new(pageBuffer)
	}
	defer func() {
		if pb.body.Cap() <= maxPooledBody {
			clear(pb.items) // no reference to the body outlives the page
			c.bodies.Put(pb)
		}
	}()
	p, err := get(ctx, c, cl, func(r io.Reader) (listPage, error) {
		pb.body.Reset()
		if _, err := pb.body.ReadFrom(r); err != nil {
			return listPage{pageSize: -1, total: -1}, &bodyError{unexpectedEOF(err)}
		}
		return decodeInto(pb.items[:0], pb.body.Bytes(), conversationKeys(), true)
	})
	if err != nil {
		return false, err
	}
	pb.items = p.items[:0]
	return use(p)
}

// pageBuffer is the memory of one Conversations page: the body as read, and its elements.
type pageBuffer struct {
	body  bytes.Buffer
	items []json.RawMessage
}

// maxPooledBody bounds the body buffers a Client keeps for reuse: a rare huge page is not held.
const maxPooledBody = 4 << 20

// conversationKeys are the keys of a Conversations API body's list.
func conversationKeys() []string { return []string{"conversations", "messages"} }

// morePages tells whether paging goes on after page p, with seen elements delivered so far
// (p's included). It ends after an empty page, when total_elements are all seen, or after a
// page shorter than the deployment's real page size: the page_size asked for, or the smaller
// one this page reports, or, without paging metadata, the largest page size this Client has
// seen on ep (a page cannot be longer than the deployment's cap, so a page shorter than one
// already seen was not cut by the cap). A short page without metadata that is not shorter
// than every page seen so far could be cut by a cap the deployment does not report: paging goes
// on to confirm the end (confirm is true), and an empty or repeated next page ends it.
func (c *Client) morePages(ep endpoint, p listPage, seen int, op string) (more, confirm bool) {
	k, asked := len(p.items), c.o.PageSize
	size := asked
	if p.pageSize > 0 {
		size = min(size, p.pageSize)
	}
	// What this page shows of the real page size: its length, or the size it reports.
	shown := min(k, asked)
	if p.pageSize > 0 {
		shown = max(shown, size)
	}
	known := c.learnPageSize(ep, shown)
	switch {
	case k == 0:
		return false, false
	case p.total >= 0:
		return seen < p.total, false
	case k >= size:
		return true, false
	case p.pageSize > 0 || k < known:
		return false, false
	}
	c.log.Debug("extract: short page may be cut by a page-size cap; asking for the next page to confirm the end",
		"op", op, "items", k, "page_size", asked, "largest_page", known)
	return true, true
}

// confirmed counts a request that found the end of a list after a page that may have been cut
// by a cap, when confirming.
func (c *Client) confirmed(confirming bool) {
	if confirming {
		c.confirmations.Add(1)
	}
}

// learnPageSize raises the largest page size seen on ep to n and returns the largest so far.
func (c *Client) learnPageSize(ep endpoint, n int) int {
	v := &c.pageSizes[ep-endpointUsers]
	for {
		cur := v.Load()
		if int64(n) <= cur || v.CompareAndSwap(cur, int64(n)) {
			return int(max(cur, int64(n)))
		}
	}
}

// hashItems is a digest of a page's elements, to notice a page that repeats the previous one.
func hashItems(items []json.RawMessage) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	for _, it := range items {
		binary.BigEndian.PutUint64(n[:], uint64(len(it)))
		h.Write(n[:])
		h.Write(it)
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// DecodeConversations decodes one Conversations API body as Conversations does, for tools and
// benchmarks that read captured pages without a Client. The Page's Number is 0. An error is a
// body that Conversations would retry, or a status other than success.
func DecodeConversations(r io.Reader) (Page, error) {
	p, err := decodeConversations(r)
	if err != nil {
		return Page{}, err
	}
	return Page{Messages: p.items, Total: p.total}, nil
}
