package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"golang.org/x/sync/errgroup"
)

// The users of a plan's batches are written by its planner before plan.json, in a few users
// objects of consecutive batches (usersPartPath), each at most about usersPartBytes: one
// object for a run of some 15,000 users rather than one per batch (on a cloud store every
// object is a request to write and one to read back for each process that reads it). The plan
// records the first batch of each object (Plan.UsersParts). Plans of format 1, of a chatlake
// from before, have one users file per batch (batchUsersPath), read as they are.

// usersPartBytes is about the largest users object: a few batches of the largest size
// (maxBatchUsers in pipelines, 10,000 users of about 80 bytes) each.
const usersPartBytes = 1 << 20

// keptBatchUsersBytes bounds the users objects a Lake keeps in memory, those it wrote and
// those it read: the users of some 400,000 users (about 80 bytes a user). Past it, an object
// is read from the store each time one of its batches is asked for.
const keptBatchUsersBytes = 32 << 20

// usersPart is one users object: the encoded users of its batches, from its first.
type usersPart struct {
	First   int               `json:"first"`
	Batches []json.RawMessage `json:"batches"`
}

func (p *usersPart) size() int64 {
	var n int64
	for _, b := range p.Batches {
		n += int64(len(b))
	}
	return n
}

// WriteBatchUsers stores the users of every batch of the instance attempt of plan, batches[b]
// being batch b's, as that instance's planner, before its plan.json (CreatePlan). It returns
// the first batch of each users object written, for Plan.UsersParts. Each object is written
// whole; a planner that loses the race for plan.json leaves its objects to the plan's removal.
func (l *Lake) WriteBatchUsers(ctx context.Context, plan, attempt string, batches []*BatchUsers) ([]int, error) {
	if err := errors.Join(checkID("plan", plan), checkID("attempt", attempt)); err != nil {
		return nil, err
	}
	var parts []*usersPart
	var size int
	for b, bu := range batches {
		data, err := json.Marshal(bu)
		if err != nil {
			return nil, fmt.Errorf("write the users of batch %d: %w", b, err)
		}
		if len(parts) == 0 || size+len(data) > usersPartBytes {
			parts = append(parts, &usersPart{First: b})
			size = 0
		}
		last := parts[len(parts)-1]
		last.Batches = append(last.Batches, data)
		size += len(data)
	}
	firsts := make([]int, len(parts))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, part := range parts {
		firsts[i] = part.First
		g.Go(func() error {
			data, err := json.Marshal(part)
			if err != nil {
				return err
			}
			name := usersPartPath(plan, attempt, part.First)
			if err := l.put(gctx, name, data); err != nil {
				return fmt.Errorf("write the users of batches %d-%d: %w", part.First, part.First+len(part.Batches)-1, err)
			}
			// Written once, by the attempt it is named after: this process's extraction and
			// publisher read it from here.
			l.keepUsersPart(name, part)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return firsts, nil
}

// keepUsersPart keeps part in memory, if keptBatchUsersBytes allows.
func (l *Lake) keepUsersPart(name string, part *usersPart) {
	n := part.size()
	if l.batchUsersBytes.Add(n) > keptBatchUsersBytes {
		l.batchUsersBytes.Add(-n)
		return
	}
	if old, loaded := l.batchUsers.Swap(name, part); loaded {
		l.batchUsersBytes.Add(-old.(*usersPart).size())
	}
}

// ReadBatchUsers reads the users of batch b of p, as WriteBatchUsers stored them (or, for a
// plan of format 1, its batch's own file).
func (l *Lake) ReadBatchUsers(ctx context.Context, p *Plan, b int) (*BatchUsers, error) {
	if err := errors.Join(checkID("plan", p.ID), checkID("attempt", p.Attempt), checkBatch(b)); err != nil {
		return nil, err
	}
	if b >= len(p.Batches) {
		return nil, fmt.Errorf("read the users of batch %d: the plan has %d batches", b, len(p.Batches))
	}
	data, err := l.batchUsersData(ctx, p, b)
	if err != nil {
		return nil, fmt.Errorf("read the users of batch %d: %w", b, err)
	}
	var bu BatchUsers
	if err := json.Unmarshal(data, &bu); err != nil {
		return nil, fmt.Errorf("read the users of batch %d: %w", b, err)
	}
	if len(bu.Users) != p.Batches[b].Users {
		return nil, fmt.Errorf("read the users of batch %d: %d users, the plan says %d", b, len(bu.Users), p.Batches[b].Users)
	}
	return &bu, nil
}

// batchUsersData is the encoded users of batch b of p.
func (l *Lake) batchUsersData(ctx context.Context, p *Plan, b int) ([]byte, error) {
	if p.Format == planFormatBatchFiles {
		data, _, err := l.store.Get(ctx, batchUsersPath(p.ID, p.Attempt, b))
		return data, err
	}
	i := sort.SearchInts(p.UsersParts, b+1) - 1 // the last part that starts at or before b
	if i < 0 {
		return nil, fmt.Errorf("the plan names no users object for it (%v)", p.UsersParts)
	}
	name := usersPartPath(p.ID, p.Attempt, p.UsersParts[i])
	var part *usersPart
	if v, ok := l.batchUsers.Load(name); ok {
		part = v.(*usersPart)
	} else {
		v, err, _ := l.usersReads.Do(name, func() (any, error) {
			data, _, err := l.store.Get(ctx, name)
			if err != nil {
				return nil, err
			}
			var part usersPart
			if err := json.NewDecoder(bytes.NewReader(data)).Decode(&part); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if part.First != p.UsersParts[i] {
				return nil, fmt.Errorf("%s: its first batch is %d", name, part.First)
			}
			l.keepUsersPart(name, &part)
			return &part, nil
		})
		if err != nil {
			return nil, err
		}
		part = v.(*usersPart)
	}
	if k := b - part.First; k < len(part.Batches) {
		return part.Batches[k], nil
	}
	return nil, fmt.Errorf("%s holds batches %d-%d", name, part.First, part.First+len(part.Batches)-1)
}
