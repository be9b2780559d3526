package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/chatlake/chatlake/load/storage"
)

// A run plan is the durable description of one run (pipelines decides its content; plan.go
// holds its types and encoding): plan.json, the users of its batches (batchusers.go), a done
// object per finished batch with its rows (done.go; staged.go writes the rows), all under
// _chatlake/runs/<plan>/. Every object is written whole; plan.json and the done objects are
// create-only, so of two processes racing to write one, exactly one wins and both then agree
// on its content.

// CreatePlan writes p as its plan's plan.json unless one exists. It returns the stored plan
// (p, or what another process wrote first) and whether this call created it.
func (l *Lake) CreatePlan(ctx context.Context, p *Plan) (stored *Plan, created bool, err error) {
	if err := checkID("plan", p.ID); err != nil {
		return nil, false, err
	}
	data, err := encodePlan(p)
	if err != nil {
		return nil, false, err
	}
	_, err = l.store.PutIf(ctx, planPath(p.ID), data, "")
	if err == nil {
		return p, true, nil
	}
	if !errors.Is(err, storage.ErrPrecondition) {
		return nil, false, fmt.Errorf("write plan %s: %w", p.ID, err)
	}
	stored, err = l.ReadPlan(ctx, p.ID)
	return stored, false, err
}

// ReadPlan reads and decodes plan's plan.json, checking its format; a missing plan is an
// error matching ErrNoPlan.
func (l *Lake) ReadPlan(ctx context.Context, plan string) (*Plan, error) {
	if err := checkID("plan", plan); err != nil {
		return nil, err
	}
	data, _, err := l.store.Get(ctx, planPath(plan))
	if errors.Is(err, storage.ErrNotExist) {
		return nil, fmt.Errorf("plan %s: %w", plan, ErrNoPlan)
	}
	if err != nil {
		return nil, fmt.Errorf("read plan %s: %w", plan, err)
	}
	return decodePlan(plan, data)
}

// Plans lists the ids of the plans in the lake (runs not finished, or whose cleanup was cut).
func (l *Lake) Plans(ctx context.Context) ([]string, error) {
	var plans []string
	err := storage.Walk(ctx, l.store, runsPrefix, func(objs []storage.Object) error {
		for _, o := range objs {
			id, rest, ok := strings.Cut(strings.TrimPrefix(o.Name, runsPrefix), "/")
			if ok && rest == "plan.json" {
				plans = append(plans, id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list plans: %w", err)
	}
	sort.Strings(plans)
	return plans, nil
}

// put writes a whole object through a streaming write.
func (l *Lake) put(ctx context.Context, name string, data []byte) error {
	w, err := l.store.Create(ctx, name)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return errors.Join(err, w.Abort())
	}
	return w.Close()
}

// readRange reads n bytes of name from off.
func (l *Lake) readRange(ctx context.Context, name string, off, n int64) ([]byte, error) {
	rc, err := l.store.OpenRange(ctx, name, off, n)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return data, err
}

// BatchStats counts what FinishBatch wrote.
type BatchStats struct {
	Days  int   // days with rows
	Rows  int64 // rows staged
	Bytes int64 // bytes staged (Arrow IPC files)
}

// stageBatch writes the rows of s, a finished batch of the instance attempt of plan, into the
// lake's storage as one staged object (a few past stagedPartBytes: staged.go) holding its rows
// grouped by day, and returns their index, which goes into the batch's done record. Rerunning
// it replaces the objects it wrote. It must not run concurrently with s.Add or s.Close.
func (l *Lake) stageBatch(ctx context.Context, plan, attempt string, batch int, s *Stage) (*StagedBatch, BatchStats, error) {
	if err := errors.Join(checkID("plan", plan), checkID("attempt", attempt), checkBatch(batch)); err != nil {
		return nil, BatchStats{}, fmt.Errorf("stage batch: %w", err)
	}
	if s == nil {
		return nil, BatchStats{}, errors.New("stage batch: nil stage")
	}
	if err := s.flush(); err != nil {
		return nil, BatchStats{}, fmt.Errorf("stage batch %d: %w", batch, err)
	}
	idx, st, err := l.writeStagedBatch(ctx, s, plan, attempt, batch, nil)
	if err != nil {
		return nil, st, fmt.Errorf("stage batch %d: %w", batch, err)
	}
	return &idx, st, nil
}

// RemoveRun deletes everything of plan, plan.json first: once it is gone the plan no longer
// exists for any command, and what a cut removal leaves is swept by SweepRuns.
func (l *Lake) RemoveRun(ctx context.Context, plan string) error {
	if err := checkID("plan", plan); err != nil {
		return err
	}
	if err := l.store.Delete(ctx, planPath(plan)); err != nil {
		return fmt.Errorf("remove plan %s: %w", plan, err)
	}
	l.forgetRun(plan)
	return l.removeTree(ctx, runDir(plan))
}

// forgetRun drops what this process keeps of plan's objects: its staged parts' headers and
// the done records it wrote and the users objects it keeps.
func (l *Lake) forgetRun(plan string) {
	prefix := runDir(plan)
	if l.copies != nil {
		l.copies.forget(prefix)
	}
	for _, m := range []*sync.Map{&l.headers, &l.doneRecords, &l.doneSizes} {
		m.Range(func(k, _ any) bool {
			if strings.HasPrefix(k.(string), prefix) {
				m.Delete(k)
			}
			return true
		})
	}
	l.batchUsers.Range(func(k, _ any) bool {
		if strings.HasPrefix(k.(string), prefix) {
			if d, ok := l.batchUsers.LoadAndDelete(k); ok {
				l.batchUsersBytes.Add(-d.(*usersPart).size())
			}
		}
		return true
	})
}

// RemoveLegacyStaged deletes the rows of day of the instance attempt of plan that binaries
// before staged per day (legacyStagedDir), once the day is published: a rerun of the plan
// skips a published day, so they are not needed again. Staged objects of the current layout
// hold many days and go with the plan (RemoveRun).
func (l *Lake) RemoveLegacyStaged(ctx context.Context, plan, attempt, day string) error {
	if err := errors.Join(checkID("plan", plan), checkID("attempt", attempt), checkDay(day)); err != nil {
		return err
	}
	return l.removeTree(ctx, legacyStagedDir(plan, attempt, day))
}

// SweepRuns deletes the objects of plan directories that have no plan.json (what a cut
// RemoveRun, or a planner that died before writing its plan, left), except those of keep. Only
// a holder of the lake's lock may call it: a planner of another plan could be at work otherwise.
func (l *Lake) SweepRuns(ctx context.Context, keep string) (int, error) {
	plans, err := l.Plans(ctx)
	if err != nil {
		return 0, err
	}
	live := map[string]bool{keep: true}
	for _, id := range plans {
		live[id] = true
	}
	n := 0
	err = storage.Walk(ctx, l.store, runsPrefix, func(objs []storage.Object) error {
		for _, o := range objs {
			id, _, _ := strings.Cut(strings.TrimPrefix(o.Name, runsPrefix), "/")
			if live[id] {
				continue
			}
			if err := l.store.Delete(ctx, o.Name); err != nil {
				return fmt.Errorf("sweep %s: %w", o.Name, err)
			}
			n++
		}
		return nil
	})
	return n, err
}

// removeConcurrency bounds the concurrent deletes of removeTree: on a cloud store each is a
// round trip, and a run's directory holds an object per batch or more.
const removeConcurrency = 16

func (l *Lake) removeTree(ctx context.Context, prefix string) error {
	err := storage.Walk(ctx, l.store, prefix, func(objs []storage.Object) error {
		names := make([]string, len(objs))
		for i, o := range objs {
			names[i] = o.Name
		}
		return storage.DeleteAll(ctx, l.store, names, removeConcurrency)
	})
	if err != nil {
		return fmt.Errorf("remove %s: %w", prefix, err)
	}
	return nil
}

// legacyStagedFiles lists the rows of day of the instance attempt of plan that binaries before
// staged per day (legacyStagedDir) for the given batches (those whose done record has no
// index): one object per batch that had rows, an Arrow IPC file, or a Parquet file if a binary
// before that staged it. A batch staged as Parquet and staged again as Arrow before its done
// record was written has both, of the same rows: its Arrow file alone counts. Files of other
// batches (staged per day, then staged again by this binary) are not its rows.
func (l *Lake) legacyStagedFiles(ctx context.Context, plan, attempt, day string, batches []int) ([]storage.Object, error) {
	objs, err := l.store.List(ctx, legacyStagedDir(plan, attempt, day))
	if err != nil {
		return nil, fmt.Errorf("list the staged rows of %s: %w", day, err)
	}
	byBatch := map[int]storage.Object{}
	for _, o := range objs {
		var b int
		ext := path.Ext(o.Name)
		base := strings.TrimSuffix(path.Base(o.Name), ext)
		if n, err := fmt.Sscanf(base, "batch-%06d", &b); err != nil || n != 1 || fmt.Sprintf("batch-%06d", b) != base {
			continue
		}
		if !slices.Contains(batches, b) {
			continue
		}
		switch ext {
		case stagedExt:
			byBatch[b] = o
		case legacyStagedExt:
			if prev, ok := byBatch[b]; !ok || path.Ext(prev.Name) != stagedExt {
				byBatch[b] = o
			}
		}
	}
	out := make([]storage.Object, 0, len(byBatch))
	for _, o := range byBatch {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b storage.Object) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
