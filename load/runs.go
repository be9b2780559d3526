package load

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/chatlake/chatlake/load/storage"
)

// A run plan is the durable description of one run (pipelines decides its content; this file
// only stores it): plan.json, the users of each batch, a done record per finished batch, and
// the finished batches' rows staged per day (staged.go), all under _chatlake/runs/<plan>/.
// Every object is written whole; plan.json and the done records are create-only, so of two
// processes racing to write one, exactly one wins and both then agree on its content.

// CreatePlan writes data as plan's plan.json unless one exists. It returns the stored plan
// (data, or what another process wrote first) and whether this call created it.
func (l *Lake) CreatePlan(ctx context.Context, plan string, data []byte) (stored []byte, created bool, err error) {
	if err := checkID("plan", plan); err != nil {
		return nil, false, err
	}
	_, err = l.store.PutIf(ctx, planPath(plan), data, "")
	if err == nil {
		return data, true, nil
	}
	if !errors.Is(err, storage.ErrPrecondition) {
		return nil, false, fmt.Errorf("write plan %s: %w", plan, err)
	}
	stored, err = l.ReadPlan(ctx, plan)
	return stored, false, err
}

// ReadPlan reads plan's plan.json; a missing plan is an error matching ErrNoPlan.
func (l *Lake) ReadPlan(ctx context.Context, plan string) ([]byte, error) {
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
	return data, nil
}

// Plans lists the ids of the plans in the lake (runs not finished, or whose cleanup was cut).
func (l *Lake) Plans(ctx context.Context) ([]string, error) {
	objs, err := l.store.List(ctx, runsPrefix)
	if err != nil {
		return nil, fmt.Errorf("list plans: %w", err)
	}
	var plans []string
	for _, o := range objs {
		id, rest, ok := strings.Cut(strings.TrimPrefix(o.Name, runsPrefix), "/")
		if ok && rest == "plan.json" {
			plans = append(plans, id)
		}
	}
	sort.Strings(plans)
	return plans, nil
}

// WriteBatchUsers stores the users of one batch of plan, as written by the planner attempt.
func (l *Lake) WriteBatchUsers(ctx context.Context, plan, attempt string, batch int, data []byte) error {
	if err := errors.Join(checkID("plan", plan), checkID("attempt", attempt), checkBatch(batch)); err != nil {
		return err
	}
	name := batchUsersPath(plan, attempt, batch)
	if err := l.put(ctx, name, data); err != nil {
		return fmt.Errorf("write the users of batch %d: %w", batch, err)
	}
	return nil
}

// ReadBatchUsers reads what WriteBatchUsers stored.
func (l *Lake) ReadBatchUsers(ctx context.Context, plan, attempt string, batch int) ([]byte, error) {
	if err := errors.Join(checkID("plan", plan), checkID("attempt", attempt), checkBatch(batch)); err != nil {
		return nil, err
	}
	data, _, err := l.store.Get(ctx, batchUsersPath(plan, attempt, batch))
	if err != nil {
		return nil, fmt.Errorf("read the users of batch %d: %w", batch, err)
	}
	return data, nil
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

// BatchStats counts what StageBatch wrote.
type BatchStats struct {
	Days  int   // days with rows
	Rows  int64 // rows staged
	Bytes int64 // bytes staged (Arrow IPC files)
}

// StageBatch writes the rows of s, a finished batch of the instance attempt of plan, into the
// lake's storage: one staged file per day (an Arrow IPC file, staged.go) of the record batches
// the stage made. Rerunning it replaces the files it wrote. It must not run
// concurrently with s.Add or s.Close.
func (l *Lake) StageBatch(ctx context.Context, plan, attempt string, batch int, s *Stage, runID string) (BatchStats, error) {
	var st BatchStats
	if err := errors.Join(checkID("plan", plan), checkID("attempt", attempt), checkBatch(batch), checkRunID(runID)); err != nil {
		return st, fmt.Errorf("stage batch: %w", err)
	}
	if s == nil {
		return st, errors.New("stage batch: nil stage")
	}
	if err := s.flush(); err != nil {
		return st, fmt.Errorf("stage batch %d: %w", batch, err)
	}
	for _, day := range s.sortedDays() {
		next, rows, closeDay, ok, err := s.batches(day)
		if err != nil {
			return st, fmt.Errorf("stage batch %d: %w", batch, err)
		}
		if !ok {
			continue
		}
		size, err := l.writeStaged(ctx, next, stagedPath(plan, attempt, day, batch))
		closeDay()
		if err != nil {
			return st, fmt.Errorf("stage batch %d, day %s: %w", batch, day, err)
		}
		if size > 0 {
			st.Days++
			st.Rows += rows
			st.Bytes += size
		}
	}
	return st, nil
}

// MarkBatchDone records that batch of the instance attempt of plan is finished, with data (the
// pipeline's record of it). It is create-only: a batch already marked keeps its first record,
// and that is no error.
func (l *Lake) MarkBatchDone(ctx context.Context, plan, attempt string, batch int, data []byte) error {
	if err := errors.Join(checkID("plan", plan), checkID("attempt", attempt), checkBatch(batch)); err != nil {
		return err
	}
	_, err := l.store.PutIf(ctx, batchDonePath(plan, attempt, batch), data, "")
	if err != nil && !errors.Is(err, storage.ErrPrecondition) {
		return fmt.Errorf("mark batch %d done: %w", batch, err)
	}
	return nil
}

// BatchesDone lists the finished batches of the instance attempt of plan, sorted.
func (l *Lake) BatchesDone(ctx context.Context, plan, attempt string) ([]int, error) {
	if err := errors.Join(checkID("plan", plan), checkID("attempt", attempt)); err != nil {
		return nil, err
	}
	objs, err := l.store.List(ctx, batchDoneDir(plan, attempt))
	if err != nil {
		return nil, fmt.Errorf("list the finished batches: %w", err)
	}
	var done []int
	for _, o := range objs {
		if b, ok := parseBatchDone(plan, attempt, o.Name); ok {
			done = append(done, b)
		}
	}
	sort.Ints(done)
	return done, nil
}

// ReadBatchDone reads the record MarkBatchDone stored for batch.
func (l *Lake) ReadBatchDone(ctx context.Context, plan, attempt string, batch int) ([]byte, error) {
	if err := errors.Join(checkID("plan", plan), checkID("attempt", attempt), checkBatch(batch)); err != nil {
		return nil, err
	}
	data, _, err := l.store.Get(ctx, batchDonePath(plan, attempt, batch))
	if err != nil {
		return nil, fmt.Errorf("read the record of batch %d: %w", batch, err)
	}
	return data, nil
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
	return l.removeTree(ctx, runDir(plan))
}

// RemoveStaged deletes the staged rows of day of the instance attempt of plan, once the day is
// published: a rerun of the plan skips a published day, so they are not needed again, and the
// lake's storage then holds each published day's rows once rather than twice until the whole
// plan is published.
func (l *Lake) RemoveStaged(ctx context.Context, plan, attempt, day string) error {
	if err := errors.Join(checkID("plan", plan), checkID("attempt", attempt), checkDay(day)); err != nil {
		return err
	}
	return l.removeTree(ctx, stagedDir(plan, attempt, day))
}

// SweepRuns deletes the objects of plan directories that have no plan.json (what a cut
// RemoveRun, or a planner that died before writing its plan, left), except those of keep. Only
// a holder of the lake's lock may call it: a planner of another plan could be at work otherwise.
func (l *Lake) SweepRuns(ctx context.Context, keep string) (int, error) {
	objs, err := l.store.List(ctx, runsPrefix)
	if err != nil {
		return 0, fmt.Errorf("list plans: %w", err)
	}
	live := map[string]bool{keep: true}
	for _, o := range objs {
		if id, rest, ok := strings.Cut(strings.TrimPrefix(o.Name, runsPrefix), "/"); ok && rest == "plan.json" {
			live[id] = true
		}
	}
	n := 0
	for _, o := range objs {
		id, _, _ := strings.Cut(strings.TrimPrefix(o.Name, runsPrefix), "/")
		if live[id] {
			continue
		}
		if err := l.store.Delete(ctx, o.Name); err != nil {
			return n, fmt.Errorf("sweep %s: %w", o.Name, err)
		}
		n++
	}
	return n, nil
}

func (l *Lake) removeTree(ctx context.Context, prefix string) error {
	objs, err := l.store.List(ctx, prefix)
	if err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	for _, o := range objs {
		if err := l.store.Delete(ctx, o.Name); err != nil {
			return fmt.Errorf("delete %s: %w", o.Name, err)
		}
	}
	return nil
}

// stagedFiles lists the staged rows of day of the instance attempt of plan: one object per
// batch that had rows, an Arrow IPC file, or a Parquet file if a binary before staged it (a
// plan staged before an upgrade still publishes). A batch staged by a binary before and staged
// again after the upgrade (it had no done record yet) has both, of the same rows: its Arrow
// file alone counts.
func (l *Lake) stagedFiles(ctx context.Context, plan, attempt, day string) ([]storage.Object, error) {
	objs, err := l.store.List(ctx, stagedDir(plan, attempt, day))
	if err != nil {
		return nil, fmt.Errorf("list the staged rows of %s: %w", day, err)
	}
	restaged := map[string]bool{}
	for _, o := range objs {
		if path.Ext(o.Name) == stagedExt {
			restaged[strings.TrimSuffix(o.Name, stagedExt)] = true
		}
	}
	out := objs[:0]
	for _, o := range objs {
		switch path.Ext(o.Name) {
		case stagedExt:
			out = append(out, o)
		case legacyStagedExt:
			if !restaged[strings.TrimSuffix(o.Name, legacyStagedExt)] {
				out = append(out, o)
			}
		}
	}
	return out, nil
}
