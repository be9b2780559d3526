package pipelines

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/storage"
)

// corruptSuffix is added, with the time, to the name of a state file put aside by RebuildState.
const corruptSuffix = ".corrupt-"

// Rebuilt says what RebuildState did.
type Rebuilt struct {
	Kept       string   // where the state that was replaced now is ("" when the lake had none)
	Days       int      // days recorded (every day with a manifest)
	Watermark  string   // the rebuilt watermark ("" when no day is complete)
	Incomplete []string // days whose manifest is unreadable or not marked complete
}

// RebuildState replaces the lake's state by one rebuilt from the partitions' manifests, for a
// state file that no longer decodes (a *CorruptStateError), or that is missing. The old file
// is kept beside it, as _chatlake/state.json.corrupt-<UTC time>. A state that reads fine is
// left alone unless force is set.
//
// What the manifests tell is kept: every day with a manifest is a published day (its run and
// time are the manifest's). The watermark is the last day of the run of consecutive complete
// days that starts at the first day: a later day after a gap may have been an export that did
// not move the watermark, and a watermark past a gap would make the nightly run skip the gap
// for ever; a watermark too early only makes the next nightly run export again (one query per
// user, merged: the same rows). What only the state knew is lost: the users owed (rerun the
// exports that failed users, as their logs name them), finished backfills (a rerun redoes
// them), erasure records, the last run, and the lake's customer and bot (the next run records
// them again).
//
// It holds the lake's lock while it works, as any run, and writes the new state conditionally
// on the version of the file it replaces.
func (p *Pipeline) RebuildState(ctx context.Context, force bool) (*Rebuilt, error) {
	store := p.lake.Store()
	ctx, _, release, err := p.holdLock(ctx, "state-rebuild", "state-rebuild", "")
	if err != nil {
		return nil, err
	}
	defer release()

	data, version, err := store.Get(ctx, StateName)
	switch {
	case errors.Is(err, storage.ErrNotExist):
		version = ""
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", StateName, err)
	}
	if version != "" && !force {
		if _, err := loadState(ctx, store); !errors.Is(err, ErrCorruptState) {
			if err != nil {
				return nil, err
			}
			return nil, badInput("%s reads fine: nothing to rebuild (force rebuilds it anyway, and forgets what is owed, the backfills and the erasures)", StateName)
		}
	}
	st, out, err := p.stateFromManifests(ctx)
	if err != nil {
		return nil, err
	}
	if version != "" {
		if out.Kept, err = keepAside(ctx, store, data, p.o.Clock().UTC()); err != nil {
			return nil, err
		}
	}
	s := &stateStore{store: store, version: version}
	if err := s.update(ctx, func(next *State) { *next = st }); err != nil {
		return nil, err
	}
	p.o.Logger.Info("rebuilt the state from the manifests", "days", out.Days, "watermark", out.Watermark,
		"kept", out.Kept, "incomplete_days", len(out.Incomplete))
	return out, context.Cause(ctx)
}

// stateFromManifests is the state that the manifests tell: the days, and the watermark (see
// RebuildState).
func (p *Pipeline) stateFromManifests(ctx context.Context) (State, *Rebuilt, error) {
	days, err := p.lake.Days(ctx)
	if err != nil {
		return State{}, nil, err
	}
	st := State{Format: stateFormat, Days: map[string]DayState{}}
	out := &Rebuilt{}
	contiguous := true
	for i, d := range days {
		m, err := p.lake.Manifest(ctx, d)
		complete := err == nil && m.Complete
		switch {
		case err == nil:
			st.Days[d] = DayState{RunID: m.RunID, ExportedAt: m.WrittenAt.UTC()}
		case !errors.Is(err, load.ErrCorruptManifest):
			return State{}, nil, err
		}
		if !complete {
			out.Incomplete = append(out.Incomplete, d)
		}
		if contiguous && complete && (i == 0 || d == nextDay(days[i-1])) {
			st.Watermark = d
		} else {
			contiguous = false
		}
	}
	if len(st.Days) == 0 {
		st.Days = nil
	}
	out.Days, out.Watermark = len(st.Days), st.Watermark
	return st, out, nil
}

// keepAside writes the replaced state beside it, create-only, under a name no other file has.
func keepAside(ctx context.Context, store storage.Store, data []byte, now time.Time) (string, error) {
	base := StateName + corruptSuffix + now.Format("20060102T150405.000Z")
	for i := 1; i <= 100; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		_, err := store.PutIf(ctx, name, data, "")
		if errors.Is(err, storage.ErrPrecondition) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("keeping the old state as %s: %w", name, err)
		}
		return name, nil
	}
	return "", fmt.Errorf("keeping the old state as %s: 100 names taken", base)
}
