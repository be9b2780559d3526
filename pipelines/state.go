package pipelines

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// StateName is where the lake keeps its state, beside the data.
const StateName = "_chatlake/state.json"

// State is what the lake knows of its own exports. It is written only after the data it
// describes is published, and only conditionally on the version read, so two runs can never
// overwrite each other's state.
type State struct {
	Format        int                       `json:"format"`
	SchemaVersion string                    `json:"schema_version"`
	CustomerID    string                    `json:"customer_id,omitempty"`
	BotKey        string                    `json:"bot_key,omitempty"`
	Watermark     string                    `json:"watermark,omitempty"` // last day the nightly run exported
	Days          map[string]DayState       `json:"days,omitempty"`      // every published day
	Backfills     map[string]*BackfillState `json:"backfills,omitempty"` // by backfill id
	LastRun       *RunRecord                `json:"last_run,omitempty"`
}

// DayState records the last publish of a day.
type DayState struct {
	RunID      string    `json:"run_id"`
	ExportedAt time.Time `json:"exported_at"`
}

// BackfillState records the finished units of one backfill, so that a rerun skips them.
type BackfillState struct {
	From      string    `json:"from"`
	To        string    `json:"to"`
	UnitDays  int       `json:"unit_days"`
	Selectors []string  `json:"selectors"`
	Done      []string  `json:"done"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished,omitzero"`
}

// RunRecord is the outcome of the last run.
type RunRecord struct {
	RunID    string    `json:"run_id"`
	Kind     string    `json:"kind"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Outcome  string    `json:"outcome"` // ok, failed
	Error    string    `json:"error,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Messages int64     `json:"messages"`
	Requests int64     `json:"requests"`
}

// stateStore holds the state read at the start of a run and writes updates conditionally.
type stateStore struct {
	store   storage.Store
	mu      sync.Mutex
	st      State
	version string
}

// ReadState reads the lake's state; a lake without state gives an empty State.
func ReadState(ctx context.Context, store storage.Store) (State, error) {
	s, err := loadState(ctx, store)
	if err != nil {
		return State{}, err
	}
	return s.st, nil
}

func loadState(ctx context.Context, store storage.Store) (*stateStore, error) {
	s := &stateStore{store: store}
	data, version, err := store.Get(ctx, StateName)
	switch {
	case errors.Is(err, storage.ErrNotExist):
		s.st = State{Format: 1}
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", StateName, err)
	}
	if err := json.Unmarshal(data, &s.st); err != nil {
		return nil, fmt.Errorf("reading %s: not valid state: %w", StateName, err)
	}
	if s.st.Format != 1 {
		return nil, fmt.Errorf("reading %s: state format %d is not known to this chatlake", StateName, s.st.Format)
	}
	s.version = version
	return s, nil
}

// get returns a copy of the state's scalar fields (maps are shared: read them under update only).
func (s *stateStore) get() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// update applies fn to the state and writes it if nothing else wrote it since it was read.
func (s *stateStore) update(ctx context.Context, fn func(*State)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := cloneState(s.st)
	fn(&next)
	next.Format = 1
	next.SchemaVersion = schema.MessagesVersion
	data, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return err
	}
	version, err := s.store.PutIf(ctx, StateName, append(data, '\n'), s.version)
	if errors.Is(err, storage.ErrPrecondition) {
		return fmt.Errorf("writing %s: another run changed it (did it take over an expired lock?): %w", StateName, err)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", StateName, err)
	}
	s.st, s.version = next, version
	return nil
}

func cloneState(st State) State {
	data, _ := json.Marshal(st)
	var c State
	_ = json.Unmarshal(data, &c)
	return c
}
