package pipelines

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/chatlake/chatlake/load"
)

// The lake's state is load.State: package load encodes, decodes and conditionally writes it;
// this package decides what it means and when it changes (a run records what it published,
// what is owed, its outcome).

// stateStore holds the state read at the start of a run and writes updates conditionally on
// the version read.
type stateStore struct {
	lake    *load.Lake
	mu      sync.Mutex
	st      *load.State
	version string // "" while the lake has no state
	// beforeWrite, when set, completes a state about to be written (sealing owed users' ids).
	beforeWrite func(*load.State)
}

// CorruptStateError is a state file that does not decode (load.ErrCorruptState). No command
// can go on from it: each stops before writing anything, with this error, which names the way
// out (RebuildState, `chatlake state rebuild`). It matches ErrCorruptState and ErrBadInput (the
// command exits 2).
type CorruptStateError struct {
	Lake string // the lake's URL, for the message
	Err  error  // load's error: why it does not decode
}

func (e *CorruptStateError) Error() string {
	return fmt.Sprintf("%v; nothing was written. "+
		"Rebuild it from the partitions' manifests with: chatlake state rebuild --lake %s (the bad file is kept beside it)",
		e.Err, e.Lake)
}

func (e *CorruptStateError) Unwrap() error { return e.Err }

// Is makes the error match ErrCorruptState and ErrBadInput.
func (e *CorruptStateError) Is(target error) bool {
	return target == ErrCorruptState || target == ErrBadInput
}

// ReadState reads the lake's state (load.Lake.ReadState); a lake without state gives an empty
// State. A state that does not decode is a *CorruptStateError; a state of a format this
// chatlake does not know (a newer one) is another error, matching load.ErrUnknownFormat.
func ReadState(ctx context.Context, lake *load.Lake) (load.State, error) {
	s, err := loadState(ctx, lake)
	if err != nil {
		return load.State{}, err
	}
	return s.get(), nil
}

func loadState(ctx context.Context, lake *load.Lake) (*stateStore, error) {
	st, version, err := lake.ReadState(ctx)
	if errors.Is(err, load.ErrCorruptState) {
		return nil, &CorruptStateError{Lake: lake.URL(), Err: err}
	}
	if err != nil {
		return nil, err
	}
	return &stateStore{lake: lake, st: st, version: version}, nil
}

// exists tells whether the lake had a state when it was read.
func (s *stateStore) exists() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version != ""
}

// get returns a deep copy of the state.
func (s *stateStore) get() load.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.st.Clone()
}

// update applies fn to a copy of the state and writes it if nothing else wrote the state since
// this run read it; otherwise it fails with an error matching load.ErrStateChanged, and the run
// must stop (another run took the lake over).
func (s *stateStore) update(ctx context.Context, fn func(*load.State)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.st.Clone()
	fn(next)
	if s.beforeWrite != nil {
		s.beforeWrite(next)
	}
	version, err := s.lake.WriteState(ctx, next, s.version)
	if errors.Is(err, load.ErrStateChanged) {
		return fmt.Errorf("%w (did another run take over an expired lock?)", err)
	}
	if err != nil {
		return err
	}
	s.st, s.version = next, version
	return nil
}
