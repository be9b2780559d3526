package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/schema"
)

// stateFormat is the version of State's encoding.
const stateFormat = 2

// State is what the lake knows of its own exports, at StatePath. Package pipelines decides what
// goes in it and when; this file encodes, decodes, format-checks and conditionally writes it.
// It is written only after the data it describes is published, and only conditionally on the
// version its writer read (WriteState), so two runs can never overwrite each other's state. Its
// size grows with the days exported and with what is owed, never with the number of users.
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
	// SealedID is the user's raw id, encrypted (package pipelines), in a pseudonymised lake,
	// whose Owed map is by pseudonym.
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
	Outcome  string    `json:"outcome"` // ok, failed, interrupted
	Error    string    `json:"error,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Messages int64     `json:"messages"`
	Requests int64     `json:"requests"`
	Owed     int       `json:"users_owed"`
	// Late messages found in days exported before, by age in days.
	LateMessages int64            `json:"late_messages,omitempty"`
	LateByAge    map[string]int64 `json:"late_messages_by_age_days,omitempty"`
}

// NewState is the state of a lake that has none: empty, of the current format.
func NewState() *State { return &State{Format: stateFormat} }

// Clone returns a deep copy of s.
func (s *State) Clone() *State {
	// A State holds only strings, numbers, times, and maps and slices of them: it always
	// encodes, and decodes back.
	data, _ := json.Marshal(s)
	var c State
	_ = json.Unmarshal(data, &c)
	return &c
}

// decodeState is the one decoder of a stored state. A state that does not decode (cut short,
// empty, not JSON, not an object with a format) matches ErrCorruptState; one of a format this
// chatlake does not know (a newer one) matches ErrUnknownFormat. Format 1 (the same fields, and
// backfills recorded by unit, which are gone) reads as format 2 without its backfills.
func decodeState(data []byte) (*State, error) {
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorruptState, err)
	}
	switch st.Format {
	case 0:
		return nil, fmt.Errorf("%w: no format field", ErrCorruptState)
	case 1:
		st.Format, st.Backfills = stateFormat, nil
	case stateFormat:
	default:
		return nil, fmt.Errorf("state format %d: %w (it reads %d)", st.Format, ErrUnknownFormat, stateFormat)
	}
	return &st, nil
}

// ReadState reads the lake's state and its version. A lake without state gives NewState() and
// version "". Errors: ErrCorruptState (the state does not decode: the way out is rebuilding
// it), ErrUnknownFormat, or the store's, each naming StatePath.
func (l *Lake) ReadState(ctx context.Context) (*State, string, error) {
	data, version, err := l.store.Get(ctx, StatePath)
	switch {
	case errors.Is(err, storage.ErrNotExist):
		return NewState(), "", nil
	case err != nil:
		return nil, "", fmt.Errorf("reading %s: %w", StatePath, err)
	}
	st, err := decodeState(data)
	if err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", StatePath, err)
	}
	return st, version, nil
}

// WriteState writes st as the lake's state if its version is still version ("": only if the
// lake has none), with the current format and messages schema version (set in st), and returns
// the new version. If another writer wrote it since, nothing is written and the error matches
// ErrStateChanged (and storage.ErrPrecondition).
func (l *Lake) WriteState(ctx context.Context, st *State, version string) (string, error) {
	st.Format, st.SchemaVersion = stateFormat, schema.MessagesVersion
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", StatePath, err)
	}
	next, err := l.store.PutIf(ctx, StatePath, append(data, '\n'), version)
	if errors.Is(err, storage.ErrPrecondition) {
		return "", fmt.Errorf("writing %s: %w: %w", StatePath, ErrStateChanged, err)
	}
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", StatePath, err)
	}
	return next, nil
}

// KeepStateAside copies the lake's state file, as it is (it need not decode), to a name of its
// own beside it (stateAsidePath at now), create-only, and returns that name and the version
// of the state it copied, for a WriteState that replaces it. A lake without state gives "", ""
// and no error.
func (l *Lake) KeepStateAside(ctx context.Context, now time.Time) (kept, version string, err error) {
	data, version, err := l.store.Get(ctx, StatePath)
	switch {
	case errors.Is(err, storage.ErrNotExist):
		return "", "", nil
	case err != nil:
		return "", "", fmt.Errorf("reading %s: %w", StatePath, err)
	}
	for i := 1; i <= 100; i++ {
		name := stateAsidePath(now, i)
		_, err := l.store.PutIf(ctx, name, data, "")
		if errors.Is(err, storage.ErrPrecondition) {
			continue
		}
		if err != nil {
			return "", "", fmt.Errorf("keeping the old state as %s: %w", name, err)
		}
		return name, version, nil
	}
	return "", "", fmt.Errorf("keeping the old state as %s: 100 names taken", stateAsidePath(now, 1))
}
