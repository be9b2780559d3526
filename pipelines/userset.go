package pipelines

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/schema"
	"github.com/chatlake/chatlake/transform"
)

// userSet is the union of the users the run's selectors matched, deduplicated by id (the first
// answer's fields kept, as extract.ListUsers keeps them), held compactly: in memory each user
// is its id, its channel (an index into the few channel names) and one bit per selector that
// matched it, a few dozen bytes; the user object itself waits in a local spill file until the
// users table is written. So listing 1M users costs tens of MB, not the GBs of their JSON.
//
// A userSet is used by one goroutine. close removes its spill.
type userSet struct {
	sels  []extract.Selector
	words int // uint64 words of selector bits per user

	// While listing: the index of each id, by a 64-bit hash of it (8 bytes a key instead of the
	// id itself); ids whose hash another id has already are in collided. nil once sealed.
	hash     func(string) uint64
	byHash   map[uint64]int32
	collided map[string]int32
	ids      []string
	channels []uint8
	names    []string // channel names, by index
	bits     []uint64 // words per user
	offsets  []int64  // where each user's object starts in the spill
	matched  []int    // users per selector

	dir  string
	file *os.File
	w    *bufio.Writer
	size int64
}

// maxChannels is the number of distinct channel names a userSet can hold.
const maxChannels = 256

// listUserSet lists the users of sels from src into a new userSet whose spill is under a
// spill directory of the lake.
func (p *Pipeline) listUserSet(ctx context.Context) (set *userSet, err error) {
	dir, err := p.lake.SpillDir("users")
	if err != nil {
		return nil, err
	}
	if set, err = newUserSet(p.o.Selectors, dir); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	defer func() {
		if err != nil {
			set.close()
			set = nil
		}
	}()
	err = p.src.ScanUsers(ctx, p.o.Selectors, func(sel extract.Selector, u *extract.User) error {
		return set.add(sel, u)
	})
	if err != nil {
		return nil, err
	}
	if err := set.seal(); err != nil {
		return nil, err
	}
	return set, nil
}

// newUserSet makes an empty userSet of sels whose spill is in dir (its to remove).
func newUserSet(sels []extract.Selector, dir string) (*userSet, error) {
	s := &userSet{sels: sels, words: (len(sels) + 63) / 64, hash: idHash(maphash.MakeSeed()), byHash: map[uint64]int32{},
		collided: map[string]int32{}, matched: make([]int, len(sels)), dir: dir}
	f, err := os.Create(filepath.Join(dir, "users.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("local spill: %w", err)
	}
	s.file, s.w = f, bufio.NewWriterSize(f, 64<<10)
	return s, nil
}

// add records that sel matched u.
func (s *userSet) add(sel extract.Selector, u *extract.User) error {
	k := slices.Index(s.sels, sel)
	if k < 0 {
		return fmt.Errorf("listing users: a user of selector %s, which the run does not have", sel)
	}
	i, seen := s.index(u.ID)
	if !seen {
		ch := slices.Index(s.names, u.Channel)
		if ch < 0 {
			if len(s.names) == maxChannels {
				return fmt.Errorf("listing users: more than %d channel names", maxChannels)
			}
			ch = len(s.names)
			s.names = append(s.names, u.Channel)
		}
		// The object as sent is all the spill keeps: the user is parsed from it again when the
		// users table is written (extract.ParseUser, as the listing parsed it).
		rec := []byte(u.Raw)
		if len(rec) == 0 {
			return fmt.Errorf("listing users: user %s came without its object as sent", u.ID)
		}
		var n [binary.MaxVarintLen64]byte
		l := binary.PutUvarint(n[:], uint64(len(rec)))
		if _, err := s.w.Write(n[:l]); err != nil {
			return fmt.Errorf("local spill: %w", err)
		}
		if _, err := s.w.Write(rec); err != nil {
			return fmt.Errorf("local spill: %w", err)
		}
		i = int32(len(s.ids))
		if h := s.hash(u.ID); s.hasHash(h) {
			s.collided[u.ID] = i
		} else {
			s.byHash[h] = i
		}
		s.ids = append(s.ids, u.ID)
		s.channels = append(s.channels, uint8(ch))
		s.offsets = append(s.offsets, s.size)
		s.bits = append(s.bits, make([]uint64, s.words)...)
		s.size += int64(l + len(rec))
	}
	word, bit := int(i)*s.words+k/64, uint64(1)<<(k%64)
	if s.bits[word]&bit == 0 {
		s.bits[word] |= bit
		s.matched[k]++
	}
	return nil
}

func idHash(seed maphash.Seed) func(string) uint64 {
	return func(id string) uint64 { return maphash.String(seed, id) }
}

// index finds the user of id.
func (s *userSet) index(id string) (int32, bool) {
	if i, ok := s.byHash[s.hash(id)]; ok && s.ids[i] == id {
		return i, true
	}
	i, ok := s.collided[id]
	return i, ok
}

func (s *userSet) hasHash(h uint64) bool {
	_, ok := s.byHash[h]
	return ok
}

// seal ends the listing: the users are put in id order and the index is dropped.
func (s *userSet) seal() error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("local spill: %w", err)
	}
	s.byHash, s.collided = nil, nil
	order := make([]int32, len(s.ids))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(s.ids[a], s.ids[b]) })
	ids := make([]string, len(order))
	channels := make([]uint8, len(order))
	bits := make([]uint64, len(s.bits))
	offsets := make([]int64, len(order))
	for j, i := range order {
		ids[j], channels[j], offsets[j] = s.ids[i], s.channels[i], s.offsets[i]
		copy(bits[j*s.words:(j+1)*s.words], s.bits[int(i)*s.words:(int(i)+1)*s.words])
	}
	s.ids, s.channels, s.bits, s.offsets = ids, channels, bits, offsets
	return nil
}

// len is the number of users.
func (s *userSet) len() int { return len(s.ids) }

// user is the plan's view of user i (in id order).
func (s *userSet) user(i int) load.PlanUser {
	return load.PlanUser{ID: s.ids[i], Channel: s.names[s.channels[i]]}
}

// unmatched are the selectors that matched no user.
func (s *userSet) unmatched() []string {
	var none []string
	for k, n := range s.matched {
		// A selector given twice is listed (and counted) once, under its first place.
		if first := slices.Index(s.sels, s.sels[k]); n == 0 && s.matched[first] == 0 && !slices.Contains(none, s.sels[k].String()) {
			none = append(none, s.sels[k].String())
		}
	}
	return none
}

// rename gives every user the id fn makes of its id (a pseudonym). The order of the set and
// its spill stay those of the listed ids; usersTable still reads each listed object as sent.
func (s *userSet) rename(fn func(string) string) {
	for i, id := range s.ids {
		s.ids[i] = fn(id)
	}
}

// usersTable yields the row of the users table of each user, in the listed ids' order
// (load.UserRows). fix, if not nil, sees each row (or the error of making it) with the user's
// listed id and returns the error to stop with (nil: the row, as fix left it, is yielded).
func (s *userSet) usersTable(tsrc transform.Source, fix func(listedID string, row *schema.User, err error) error) load.UserRows {
	var hdr [binary.MaxVarintLen64]byte
	var buf []byte
	var row schema.User
	i := 0
	return func() (*schema.User, error) {
		if i == len(s.ids) {
			return nil, io.EOF
		}
		// The spill is in listing order, the rows in id order: each record is read at its
		// offset, its length first, with two positioned reads and no read-ahead.
		off := s.offsets[i]
		h, err := s.file.ReadAt(hdr[:min(len(hdr), int(s.size-off))], off)
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("local spill: %w", err)
		}
		n, l := binary.Uvarint(hdr[:h])
		if l <= 0 || off+int64(l)+int64(n) > s.size {
			return nil, fmt.Errorf("local spill: a bad record at offset %d", off)
		}
		buf = slices.Grow(buf[:0], int(n))[:n]
		if _, err := s.file.ReadAt(buf, off+int64(l)); err != nil {
			return nil, fmt.Errorf("local spill: %w", err)
		}
		u, err := extract.ParseUser(bytes.Clone(buf))
		if err != nil {
			return nil, fmt.Errorf("local spill: user %s: %w", s.ids[i], err)
		}
		if u.Attributes == nil {
			u.Attributes = map[string]string{}
		}
		for k, sel := range s.sels {
			if s.bits[i*s.words+k/64]&(uint64(1)<<(k%64)) != 0 {
				u.Selectors = append(u.Selectors, sel)
			}
		}
		id := s.ids[i]
		i++
		row, err = transform.FlattenUser(tsrc, u)
		if fix != nil {
			if err := fix(u.ID, &row, err); err != nil {
				return nil, err
			}
			return &row, nil
		}
		if err != nil {
			return nil, fmt.Errorf("user %s: %w", id, err)
		}
		return &row, nil
	}
}

// close removes the spill and lets go of the users; closing twice is harmless.
func (s *userSet) close() {
	if s == nil {
		return
	}
	if s.file != nil {
		_ = s.file.Close()
		s.file = nil
	}
	_ = os.RemoveAll(s.dir)
	s.ids, s.channels, s.bits, s.offsets, s.byHash, s.collided = nil, nil, nil, nil, nil, nil
}
