package pipelines

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// StateName is where the lake keeps its state, beside the data.
const StateName = load.StatePath

// stateFormat is the version of State's encoding.
const stateFormat = 2

// State is what the lake knows of its own exports. It is written only after the data it
// describes is published, and only conditionally on the version this run read, so two runs can
// never overwrite each other's state: a run that finds it changed stops. Its size grows with
// the days exported and with what is owed, never with the number of users.
type State struct {
	Format        int                       `json:"format"`
	SchemaVersion string                    `json:"schema_version"`
	CustomerID    string                    `json:"customer_id,omitempty"`
	BotKey        string                    `json:"bot_key,omitempty"`
	Watermark     string                    `json:"watermark,omitempty"` // every day up to it was exported (the nightly run continues after it)
	Days          map[string]DayState       `json:"days,omitempty"`      // every published day
	Backfills     map[string]*BackfillState `json:"backfills,omitempty"` // by plan id
	Owed          map[string]Owed           `json:"owed,omitempty"`      // by channel user id: users whose rows of a range are still to export
	Erasures      []Erasure                 `json:"erasures,omitempty"`
	LastUsers     int                       `json:"last_users,omitempty"` // users listed by the last run that listed users
	LastRun       *RunRecord                `json:"last_run,omitempty"`
}

// DayState records the last publish of a day.
type DayState struct {
	RunID      string    `json:"run_id"`
	ExportedAt time.Time `json:"exported_at"`
}

// BackfillState records one backfill (by its plan), so that a rerun of a finished backfill
// does not redo it.
type BackfillState struct {
	From      string    `json:"from"`
	To        string    `json:"to"`
	Selectors []string  `json:"selectors"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished,omitzero"`
}

// Owed is a user whose rows of the days [From, To] are not exported yet: its export failed.
// The next run exports it over that range (with its own range, if it has one) and publishes
// it; until then the user's previous rows stay in the lake.
type Owed struct {
	From     string    `json:"from"`
	To       string    `json:"to"`
	Since    time.Time `json:"since"`
	Attempts int       `json:"attempts"`
	Error    string    `json:"error"`
	// SealedID is the user's raw id, encrypted (pseudonym.go), in a pseudonymised lake, whose
	// Owed map is by pseudonym.
	SealedID string `json:"sealed_id,omitempty"`
}

// Erasure records one `forget`: how many users and rows, not who (the ids are what is erased).
type Erasure struct {
	RunID    string    `json:"run_id"`
	At       time.Time `json:"at"`
	Users    int       `json:"users"`
	Messages int64     `json:"messages"`
}

// RunRecord is the outcome of the last run.
type RunRecord struct {
	RunID    string    `json:"run_id"`
	Kind     string    `json:"kind"`
	Plan     string    `json:"plan,omitempty"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Outcome  string    `json:"outcome"` // ok, failed
	Error    string    `json:"error,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Messages int64     `json:"messages"`
	Requests int64     `json:"requests"`
	Owed     int       `json:"users_owed"`
	// Late messages found in days exported before (see Summary.LateMessages), by age in days.
	LateMessages int64            `json:"late_messages,omitempty"`
	LateByAge    map[string]int64 `json:"late_messages_by_age_days,omitempty"`
}

// stateStore holds the state read at the start of a run and writes updates conditionally.
type stateStore struct {
	store   storage.Store
	mu      sync.Mutex
	st      State
	version string
	// beforeWrite, when set, completes a state about to be written (sealing owed users' ids).
	beforeWrite func(*State)
}

// CorruptStateError is a state file that does not decode (cut short, empty, not JSON, not an
// object with a format). No command can go on from it: each stops before writing anything, with
// this error, which names the way out (RebuildState, `chatlake state rebuild`). It matches
// ErrCorruptState and ErrBadInput (the command exits 2).
type CorruptStateError struct {
	Lake string // the store's URL, for the message
	Err  error  // why it does not decode
}

func (e *CorruptStateError) Error() string {
	return fmt.Sprintf("reading %s: the lake's state is corrupt (%v); nothing was written. "+
		"Rebuild it from the partitions' manifests with: chatlake state rebuild --lake %s (the bad file is kept beside it)",
		StateName, e.Err, e.Lake)
}

func (e *CorruptStateError) Unwrap() error { return e.Err }

// Is makes the error match ErrCorruptState and ErrBadInput.
func (e *CorruptStateError) Is(target error) bool {
	return target == ErrCorruptState || target == ErrBadInput
}

// ReadState reads the lake's state; a lake without state gives an empty State. A state that
// does not decode is a *CorruptStateError; a state of a format this chatlake does not know (a
// newer one) is another error.
func ReadState(ctx context.Context, store storage.Store) (State, error) {
	s, err := loadState(ctx, store)
	if err != nil {
		return State{}, err
	}
	return s.get(), nil
}

func loadState(ctx context.Context, store storage.Store) (*stateStore, error) {
	s := &stateStore{store: store}
	data, version, err := store.Get(ctx, StateName)
	switch {
	case errors.Is(err, storage.ErrNotExist):
		s.st = State{Format: stateFormat}
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", StateName, err)
	}
	if err := json.Unmarshal(data, &s.st); err != nil {
		return nil, &CorruptStateError{Lake: store.URL(), Err: err}
	}
	if s.st.Format == 0 {
		return nil, &CorruptStateError{Lake: store.URL(), Err: errors.New("no format field")}
	}
	if s.st.Format == 1 {
		// The first format: the same fields, and backfills recorded by unit (units are gone).
		s.st.Format, s.st.Backfills = stateFormat, nil
	}
	if s.st.Format != stateFormat {
		return nil, fmt.Errorf("reading %s: state format %d is not known to this chatlake (it reads %d)", StateName, s.st.Format, stateFormat)
	}
	s.version = version
	return s, nil
}

// get returns a deep copy of the state.
func (s *stateStore) get() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneState(s.st)
}

// update applies fn to a copy of the state and writes it if nothing else wrote the state since
// this run read it; otherwise it fails with an error matching storage.ErrPrecondition, and the
// run must stop (another run took the lake over).
func (s *stateStore) update(ctx context.Context, fn func(*State)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := cloneState(s.st)
	fn(&next)
	if s.beforeWrite != nil {
		s.beforeWrite(&next)
	}
	next.Format = stateFormat
	next.SchemaVersion = schema.MessagesVersion
	data, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return err
	}
	version, err := s.store.PutIf(ctx, StateName, append(data, '\n'), s.version)
	if errors.Is(err, storage.ErrPrecondition) {
		return fmt.Errorf("writing %s: another run changed it since this run read it (did it take over an expired lock?): %w", StateName, err)
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
