package extract

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
)

// ListUsers returns the union of the users that match any of sels, deduplicated by id and sorted
// by id. Each User's Selectors lists every selector that matched it, in the order of sels. For
// each selector the User API is paged from page 1 until a page is shorter than asked, empty,
// completes total_elements, or repeats the previous page (a deployment that ignores paging);
// more than MaxPages pages is ErrTooManyPages. When a user comes back more than once, the first
// answer's fields are kept.
func (c *Client) ListUsers(ctx context.Context, sels []Selector) ([]User, error) {
	if len(sels) == 0 {
		return nil, errors.New("extract: ListUsers needs at least one selector")
	}
	byID := map[string]*User{}
	done := map[Selector]bool{}
	for _, sel := range sels {
		if sel.Name == "" {
			return nil, fmt.Errorf("extract: selector %q has an empty name", sel.String())
		}
		if done[sel] {
			continue
		}
		done[sel] = true
		err := c.usersOf(ctx, sel, func(us []User) {
			for _, u := range us {
				prev, ok := byID[u.ID]
				if !ok {
					u.Selectors = []Selector{sel}
					byID[u.ID] = &u
					continue
				}
				if !slices.Contains(prev.Selectors, sel) {
					prev.Selectors = append(prev.Selectors, sel)
				}
			}
		})
		if err != nil {
			return nil, err
		}
	}
	users := make([]User, 0, len(byID))
	for _, u := range byID {
		users = append(users, *u)
	}
	slices.SortFunc(users, func(a, b User) int { return cmp.Compare(a.ID, b.ID) })
	return users, nil
}

// usersOf pages the User API for one selector and hands each page's users to add.
func (c *Client) usersOf(ctx context.Context, sel Selector, add func([]User)) error {
	path := "/bot-api/v1.0/customer/" + url.PathEscape(c.o.CustomerID) + "/bot/" + url.PathEscape(c.o.BotKey) + "/users"
	var prev [sha256.Size]byte
	seen := 0
	for n := 1; ; n++ {
		op := fmt.Sprintf("users for selector %q, page %d", sel.String(), n)
		if n > c.o.MaxPages {
			return fmt.Errorf("extract: users for selector %q: %w (%d pages)", sel.String(), ErrTooManyPages, c.o.MaxPages)
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
			return nil
		}
		h := hashItems(up.p.items)
		if n > 1 && h == prev {
			c.log.Warn("extract: page repeats the previous one; the deployment ignores paging", "op", op)
			return nil
		}
		prev = h
		add(up.users)
		seen += len(up.users)
		if c.lastPage(up.p, seen) {
			return nil
		}
	}
}

// Conversations pages the messages of one user in window w with one query (start_date and
// end_date in epoch milliseconds; a zero Start or End leaves that bound out) and calls fn once
// per non-empty page, in order, with the messages exactly as sent. Paging stops after a page
// shorter than asked, an empty page, or when total_elements are all seen; a page identical to
// the previous one ends paging without being delivered (a deployment ignoring paging); more than
// MaxPages pages is ErrTooManyPages. An error of fn stops paging and is returned wrapped.
//
// A retried request never calls fn twice for the same page: a page is decoded in full before fn
// sees it.
func (c *Client) Conversations(ctx context.Context, userID string, w Window, fn func(Page) error) error {
	what := fmt.Sprintf("conversations of user %q in window %s", userID, w)
	if userID == "" {
		return errors.New("extract: conversations of an empty user id")
	}
	if !w.Start.IsZero() && !w.End.IsZero() && !w.End.After(w.Start) {
		return fmt.Errorf("extract: %s: end is not after start: %w", what, ErrInvalidDate)
	}
	path := "/bot-api/v1.0/customer/" + url.PathEscape(c.o.CustomerID) + "/bot/" + url.PathEscape(c.o.BotKey) +
		"/channel-user/" + url.PathEscape(userID) + "/conversations"
	var prev [sha256.Size]byte
	seen := 0
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
		p, err := get(ctx, c, call{op: op, endpoint: endpointConversations, path: path, query: q}, decodeConversations)
		if err != nil {
			return err
		}
		if len(p.items) == 0 {
			return nil
		}
		h := hashItems(p.items)
		if n > 1 && h == prev {
			c.log.Warn("extract: page repeats the previous one; the deployment ignores paging", "op", op)
			return nil
		}
		prev = h
		seen += len(p.items)
		if err := fn(Page{Number: n, Messages: p.items, Total: p.total}); err != nil {
			return fmt.Errorf("extract: %s: %w", op, err)
		}
		if c.lastPage(p, seen) {
			return nil
		}
	}
}

// lastPage tells whether paging ends after page p, with seen elements delivered so far: all of
// total_elements seen, or a page shorter than the page size (the one asked for, or the smaller
// one the deployment says it used).
func (c *Client) lastPage(p listPage, seen int) bool {
	if p.total >= 0 && seen >= p.total {
		return true
	}
	size := c.o.PageSize
	if p.pageSize > 0 && p.pageSize < size {
		size = p.pageSize
	}
	return len(p.items) < size
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
