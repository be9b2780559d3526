package pipelines

import (
	"context"
	"errors"

	"github.com/chatlake/chatlake/load"
)

// Rebuilt says what RebuildState did.
type Rebuilt struct {
	Kept       string   // where the state that was replaced now is ("" when the lake had none)
	Days       int      // days recorded (every day with a manifest)
	Watermark  string   // the rebuilt watermark ("" when no day is complete)
	Incomplete []string // days whose manifest is unreadable or not marked complete
}

// RebuildState replaces the lake's state by one rebuilt from the partitions' manifests, for a
// state file that no longer decodes (a *CorruptStateError), or that is missing. The old file
// is kept beside it, under a name with the time (load.Lake.KeepStateAside). A state that reads
// fine is left alone unless force is set.
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
	ctx, _, release, err := p.holdLock(ctx, "state-rebuild", "state-rebuild", "")
	if err != nil {
		return nil, err
	}
	defer release()

	if !force {
		s, err := loadState(ctx, p.lake)
		switch {
		case errors.Is(err, ErrCorruptState): // what it is for
		case err != nil:
			return nil, err
		case s.exists():
			return nil, badInput("%s reads fine: nothing to rebuild (force rebuilds it anyway, and forgets what is owed, the backfills and the erasures)", load.StatePath)
		}
	}
	st, out, err := p.stateFromManifests(ctx)
	if err != nil {
		return nil, err
	}
	kept, version, err := p.lake.KeepStateAside(ctx, p.o.Clock().UTC())
	if err != nil {
		return nil, err
	}
	out.Kept = kept
	s := &stateStore{lake: p.lake, st: load.NewState(), version: version}
	if err := s.update(ctx, func(next *load.State) { *next = st }); err != nil {
		return nil, err
	}
	p.o.Logger.Info("rebuilt the state from the manifests", "days", out.Days, "watermark", out.Watermark,
		"kept", out.Kept, "incomplete_days", len(out.Incomplete))
	return out, context.Cause(ctx)
}

// stateFromManifests is the state that the manifests tell: the days, and the watermark (see
// RebuildState).
func (p *Pipeline) stateFromManifests(ctx context.Context) (load.State, *Rebuilt, error) {
	days, err := p.lake.Days(ctx)
	if err != nil {
		return load.State{}, nil, err
	}
	st := load.State{Days: map[string]load.DayState{}}
	out := &Rebuilt{}
	contiguous := true
	for i, d := range days {
		m, err := p.lake.Manifest(ctx, d)
		complete := err == nil && m.Complete
		switch {
		case err == nil:
			st.Days[d] = load.DayState{RunID: m.RunID, ExportedAt: m.WrittenAt.UTC()}
		case !errors.Is(err, load.ErrCorruptManifest):
			return load.State{}, nil, err
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
