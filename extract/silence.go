package extract

import (
	"sync"
	"time"
)

// silence measures how long the API has left the Client's requests unanswered: the time during
// which at least one attempt was waiting for its answer, since the last attempt that got one.
// Time with no attempt out (a limiter hold after a 429, the backoff between attempts, a run
// that is not asking anything) does not count, so a throttled or idle Client is not silent.
type silence struct {
	mu      sync.Mutex
	waiting int           // attempts sent and not ended
	since   time.Time     // when waiting or acc last changed
	acc     time.Duration // time with attempts waiting, since the last answer, up to since
}

// advance adds the time since the last change to acc, if attempts were waiting meanwhile.
func (s *silence) advance(now time.Time) {
	if s.waiting > 0 {
		s.acc += now.Sub(s.since)
	}
	s.since = now
}

// sent records an attempt sent.
func (s *silence) sent() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	s.waiting++
}

// ended records the end of an attempt: answered (a response read, of any status) or not (it
// timed out, or the connection failed).
func (s *silence) ended(answered bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	s.waiting--
	if answered {
		s.acc = 0
	}
}

// get is the silence so far.
func (s *silence) get() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.acc
	if s.waiting > 0 {
		d += time.Since(s.since)
	}
	return d
}
