package extract

import (
	"cmp"
	"context"
	"errors"
	"slices"
)

// ScanUsers pages the User API for each selector of sels in turn (a selector given twice is
// paged once) and calls fn for every user of every page, in the order the pages list them, with
// the selector that listed it. A user matched by several selectors, or listed twice by the
// deployment, comes more than once: deduplicating is the caller's (ListUsers does it). u is
// fn's to keep; its Selectors field is nil. Paging is that of ListUsers. An error of fn stops
// the scan and is returned as it is.
//
// ScanUsers holds one page at a time, so a caller that keeps little of each user lists any
// number of users in bounded memory.
func (c *Client) ScanUsers(ctx context.Context, sels []Selector, fn func(sel Selector, u *User) error) error {
	if ctx == nil {
		return &InputError{Input: "context", Reason: "nil", noValue: true}
	}
	if fn == nil {
		return &InputError{Input: "user callback", Reason: "nil", noValue: true}
	}
	if len(sels) == 0 {
		return &InputError{Input: "selectors", Reason: "ListUsers needs at least one", noValue: true}
	}
	for _, sel := range sels {
		if err := sel.Validate(); err != nil {
			var ie *InputError
			if errors.As(err, &ie) {
				ie.Value = c.red.clean(ie.Value, 0)
			}
			return err
		}
	}
	done := map[Selector]bool{}
	for _, sel := range sels {
		if done[sel] {
			continue
		}
		done[sel] = true
		var fnErr error
		err := c.usersOf(ctx, sel, func(us []User) bool {
			for i := range us {
				if fnErr = fn(sel, &us[i]); fnErr != nil {
					return false
				}
			}
			return true
		})
		if fnErr != nil {
			return fnErr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ListUsers returns the union of the users that match any of sels, deduplicated by id and sorted
// by id. Each User's Selectors lists every selector that matched it, once, in the order of sels.
// For each selector the User API is paged from page 1 as Conversations pages (see there): until
// an empty page, total_elements complete, a page shorter than the deployment's real page size,
// or a page that repeats the previous one (a deployment that ignores paging); more than
// MaxPages pages is ErrTooManyPages. When a user comes back more than once, the first answer's
// fields are kept. ListUsers holds every user (its object as sent included); ScanUsers is the
// way to list many users in bounded memory.
func (c *Client) ListUsers(ctx context.Context, sels []Selector) ([]User, error) {
	byID := map[string]*User{}
	err := c.ScanUsers(ctx, sels, func(sel Selector, u *User) error {
		prev, ok := byID[u.ID]
		if !ok {
			u.Selectors = []Selector{sel}
			byID[u.ID] = u
			return nil
		}
		if !slices.Contains(prev.Selectors, sel) {
			prev.Selectors = append(prev.Selectors, sel)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	users := make([]User, 0, len(byID))
	for _, u := range byID {
		users = append(users, *u)
	}
	slices.SortFunc(users, func(a, b User) int { return cmp.Compare(a.ID, b.ID) })
	return users, nil
}
