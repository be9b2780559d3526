package pipelines

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chatlake/chatlake/schema"
)

// Export exports the whole UTC days [from, to] and replaces them in the lake. It does not
// consult what earlier runs did: every unit is extracted again.
func (p *Pipeline) Export(ctx context.Context, from, to time.Time) (*Summary, error) {
	sum := p.newSummary("export", from, to)
	if err := checkRange(from, to, p.o.Clock(), p.o.Settle); err != nil {
		return sum, err
	}
	err := p.locked(ctx, sum, func(ctx context.Context, st *stateStore) error {
		users, err := p.listUsers(ctx, sum)
		if err != nil {
			return err
		}
		units := Plan(from, to, p.o.UnitDays)
		sum.Units = len(units)
		return p.exportUnits(ctx, users, units, sum, func(ctx context.Context, u Unit) error {
			return st.update(ctx, func(s *State) { p.recordDays(s, u) })
		})
	})
	return sum, err
}

// Backfill exports the days [from, to] as resumable units: a unit finished by an earlier run of
// the same backfill (same range, unit size and selectors) is skipped, unless restart is set.
func (p *Pipeline) Backfill(ctx context.Context, from, to time.Time, restart bool) (*Summary, error) {
	sum := p.newSummary("backfill", from, to)
	if err := checkRange(from, to, p.o.Clock(), p.o.Settle); err != nil {
		return sum, err
	}
	id := p.backfillID(from, to)
	err := p.locked(ctx, sum, func(ctx context.Context, st *stateStore) error {
		var done []string
		err := st.update(ctx, func(s *State) {
			b := s.Backfills[id]
			if b == nil || restart {
				b = &BackfillState{From: dayString(from), To: dayString(to), UnitDays: p.o.UnitDays,
					Selectors: p.selectorStrings(), Started: p.o.Clock().UTC()}
				if s.Backfills == nil {
					s.Backfills = map[string]*BackfillState{}
				}
				s.Backfills[id] = b
			}
			done = slices.Clone(b.Done)
		})
		if err != nil {
			return err
		}
		var todo []Unit
		all := Plan(from, to, p.o.UnitDays)
		for _, u := range all {
			if slices.Contains(done, u.String()) {
				continue
			}
			todo = append(todo, u)
		}
		sum.Units, sum.UnitsSkipped = len(all), len(all)-len(todo)
		if len(todo) == 0 {
			p.o.Logger.Info("backfill already complete", "from", dayString(from), "to", dayString(to))
			return nil
		}
		p.o.Logger.Info("backfill", "units", len(all), "already_done", len(all)-len(todo))
		users, err := p.listUsers(ctx, sum)
		if err != nil {
			return err
		}
		return p.exportUnits(ctx, users, todo, sum, func(ctx context.Context, u Unit) error {
			return st.update(ctx, func(s *State) {
				p.recordDays(s, u)
				b := s.Backfills[id]
				b.Done = append(b.Done, u.String())
				slices.Sort(b.Done)
				if len(b.Done) == len(all) {
					b.Finished = p.o.Clock().UTC()
				}
			})
		})
	})
	return sum, err
}

// Nightly is the scheduled run: from the lake's state it exports every closed day after the
// watermark, and reads the last Lookback exported days again for late messages. A lake without
// state starts at first (required then, ignored afterwards).
func (p *Pipeline) Nightly(ctx context.Context, first time.Time) (*Summary, error) {
	sum := p.newSummary("run", time.Time{}, time.Time{})
	// Refuse bad input before taking the lock: a refused run writes nothing.
	if st, err := ReadState(ctx, p.lake.Store()); err != nil {
		return sum, err
	} else if st.Watermark == "" {
		last := lastClosedDay(p.o.Clock(), p.o.Settle)
		switch {
		case first.IsZero():
			return sum, badInput("the lake has no state yet: the first run needs --from YYYY-MM-DD")
		case first.After(last):
			return sum, badInput("--from %s is not a closed day yet: the last closed day is %s", dayString(first), dayString(last))
		}
	}
	err := p.locked(ctx, sum, func(ctx context.Context, st *stateStore) error {
		last := lastClosedDay(p.o.Clock(), p.o.Settle)
		var from time.Time
		if wm := st.get().Watermark; wm != "" {
			w, err := ParseDay(wm)
			if err != nil {
				return fmt.Errorf("the state's watermark: %w", err)
			}
			from = w.AddDate(0, 0, 1-p.o.Lookback)
			if p.o.Lookback == 0 {
				from = w.AddDate(0, 0, 1)
			}
		} else {
			if first.IsZero() {
				return badInput("the lake has no state yet: the first run needs --from YYYY-MM-DD")
			}
			from = first
		}
		if from.After(last) {
			if st.get().Watermark == "" {
				return badInput("--from %s is not a closed day yet: the last closed day is %s", dayString(from), dayString(last))
			}
			p.o.Logger.Info("nothing to export: no closed day after the watermark and no lookback")
			return nil
		}
		sum.From, sum.To = dayString(from), dayString(last)
		users, err := p.listUsers(ctx, sum)
		if err != nil {
			return err
		}
		units := Plan(from, last, p.o.UnitDays)
		sum.Units = len(units)
		if err := p.exportUnits(ctx, users, units, sum, func(ctx context.Context, u Unit) error {
			return st.update(ctx, func(s *State) { p.recordDays(s, u) })
		}); err != nil {
			return err
		}
		return st.update(ctx, func(s *State) {
			if s.Watermark < dayString(last) {
				s.Watermark = dayString(last)
			}
		})
	})
	return sum, err
}

func (p *Pipeline) newSummary(kind string, from, to time.Time) *Summary {
	s := &Summary{RunID: p.o.RunID, Kind: kind, Started: time.Now()}
	if !from.IsZero() {
		s.From, s.To = dayString(from), dayString(to)
	}
	return s
}

// locked runs fn holding the lake's lock, then records the run's outcome in the state.
func (p *Pipeline) locked(ctx context.Context, sum *Summary, fn func(context.Context, *stateStore) error) error {
	store := p.lake.Store()
	lock, err := acquireLock(ctx, store, p.o.RunID, sum.Kind, p.o.LockLease, p.o.Clock)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopKeeping := lock.keep(ctx, func(err error) { cancel(err) })
	defer func() {
		stopKeeping()
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer rcancel()
		if err := lock.release(rctx); err != nil {
			p.o.Logger.Warn("the lake's lock was not released; it expires by itself", "error", err.Error())
		}
	}()

	if sw, ok := store.(temporarySweeper); ok {
		// Files of writes a killed run left unfinished: only a holder of the lock writes, and
		// a holder older than one lease has lost it.
		if n, err := sw.SweepTemporary(ctx, p.o.LockLease); err != nil {
			p.o.Logger.Warn("sweeping temporary files of killed runs failed", "error", err.Error())
		} else if n > 0 {
			p.o.Logger.Info("swept temporary files of killed runs", "files", n)
		}
	}
	if n, err := p.lake.SweepSpill(); err != nil {
		p.o.Logger.Warn("sweeping the local spill of killed runs failed", "error", err.Error())
	} else if n > 0 {
		p.o.Logger.Info("swept the local spill of killed runs", "directories", n)
	}
	st, err := loadState(ctx, store)
	if err != nil {
		return err
	}
	if err := p.checkLakeOwner(st.get()); err != nil {
		return err
	}
	runErr := fn(ctx, st)
	if cause := context.Cause(ctx); runErr != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		runErr = fmt.Errorf("%w (%w)", runErr, cause)
	}
	p.finish(sum)
	if errors.Is(runErr, ErrBadInput) || ctx.Err() != nil {
		return runErr
	}
	rec := &RunRecord{RunID: p.o.RunID, Kind: sum.Kind, From: sum.From, To: sum.To, Outcome: "ok",
		Started: sum.Started.UTC(), Finished: time.Now().UTC(), Messages: sum.Messages, Requests: sum.API.Requests}
	if runErr != nil {
		rec.Outcome, rec.Error = "failed", runErr.Error()
	}
	if err := st.update(ctx, func(s *State) { s.LastRun = rec }); err != nil && runErr == nil {
		return err
	}
	return runErr
}

// temporarySweeper is the optional ability of a store to remove what killed writes left.
type temporarySweeper interface {
	SweepTemporary(ctx context.Context, olderThan time.Duration) (int, error)
}

// finish fills the summary's totals.
func (p *Pipeline) finish(sum *Summary) {
	sum.mu.Lock()
	defer sum.mu.Unlock()
	sum.Duration = time.Since(sum.Started)
	if s, ok := p.src.(statsSource); ok {
		sum.API = s.Stats()
	}
}

// checkLakeOwner refuses to mix two bots in one lake.
func (p *Pipeline) checkLakeOwner(s State) error {
	if s.CustomerID == "" && s.BotKey == "" {
		return nil
	}
	if s.CustomerID != p.o.CustomerID || s.BotKey != p.o.BotKey {
		return badInput("the lake holds customer %s bot %s, not customer %s bot %s", s.CustomerID, s.BotKey, p.o.CustomerID, p.o.BotKey)
	}
	return nil
}

func (p *Pipeline) recordDays(s *State, u Unit) {
	s.CustomerID, s.BotKey = p.o.CustomerID, p.o.BotKey
	if s.Days == nil {
		s.Days = map[string]DayState{}
	}
	now := p.o.Clock().UTC()
	for _, d := range u.Days() {
		s.Days[d] = DayState{RunID: p.o.RunID, ExportedAt: now}
	}
}

func (p *Pipeline) selectorStrings() []string {
	out := make([]string, 0, len(p.o.Selectors))
	for _, s := range p.o.Selectors {
		out = append(out, s.String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// backfillID names a backfill by what decides its units and their content.
func (p *Pipeline) backfillID(from, to time.Time) string {
	h := sha256.Sum256([]byte(strings.Join([]string{dayString(from), dayString(to),
		fmt.Sprint(p.o.UnitDays), strings.Join(p.selectorStrings(), "\x00"), schema.MessagesVersion}, "\x01")))
	return dayString(from) + ".." + dayString(to) + "-" + hex.EncodeToString(h[:4])
}
