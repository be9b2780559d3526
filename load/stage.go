package load

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/chatlake/chatlake/schema"
)

// spillBufferSize is the write buffer of one day's spill file of a Stage.
const spillBufferSize = 32 << 10

// Stage is a local spill area for the rows of one unit of work, routed by day. Rows go to disk
// as they are added (one Arrow IPC stream per day, codec.go), so a Stage holds few rows in
// memory: per day staged, up to spillBatchRows rows or about spillBatchBytes (256 KiB) of
// values in Arrow builders, and a 32 KiB write buffer. It also keeps one open file per staged day.
//
// Add is safe for concurrent use. Publish reads the stage and must not run concurrently with
// Add or Close. Close removes every spill file.
type Stage struct {
	dir string
	mem memory.Allocator

	mu     sync.Mutex
	days   map[string]*spillFile
	closed bool
	err    error // sticky: a failed write leaves the stage unusable
}

type spillFile struct {
	f    *os.File
	w    *spillWriter
	rows int64
}

// NewStage creates an empty stage in a new directory under Options.TempDir.
func (l *Lake) NewStage() (*Stage, error) {
	dir, err := os.MkdirTemp(l.opts.TempDir, spillPrefix("stage"))
	if err != nil {
		return nil, fmt.Errorf("new stage: %w", err)
	}
	return &Stage{dir: dir, mem: l.opts.Allocator, days: make(map[string]*spillFile)}, nil
}

// Dir is the stage's local directory.
func (s *Stage) Dir() string { return s.dir }

// Add stages rows, each under the UTC date of its SentAt.
func (s *Stage) Add(rows []schema.Message) error {
	if len(rows) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrStageClosed
	}
	if s.err != nil {
		return s.err
	}
	var day string
	var sf *spillFile
	var unixDay int64 // of day: rows come in runs of one day, and a day's name costs an allocation
	for i := range rows {
		if d := utcDayNumber(rows[i].SentAt); sf == nil || d != unixDay {
			day = dayOf(rows[i].SentAt)
			var err error
			if sf, err = s.dayFile(day); err != nil {
				s.err = err
				return err
			}
			unixDay = d
		}
		if err := sf.w.add(&rows[i]); err != nil {
			s.err = fmt.Errorf("stage day %s: %w", day, err)
			return s.err
		}
		sf.rows++
	}
	return nil
}

// utcDayNumber is the number of the UTC day of t since 1970-01-01 (negative before).
func utcDayNumber(t time.Time) int64 {
	sec := t.Unix()
	d := sec / 86400
	if sec%86400 < 0 {
		d--
	}
	return d
}

// dayFile returns the open spill file of day, creating it. s.mu is held.
func (s *Stage) dayFile(day string) (*spillFile, error) {
	if sf := s.days[day]; sf != nil {
		return sf, nil
	}
	f, err := os.OpenFile(s.dayPath(day), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("stage day %s: %w", day, err)
	}
	sf := &spillFile{f: f, w: newSpillWriter(f, s.mem)}
	s.days[day] = sf
	return sf, nil
}

func (s *Stage) dayPath(day string) string { return filepath.Join(s.dir, "dt="+day+".arrows") }

// Days returns the number of rows staged per day.
func (s *Stage) Days() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.days))
	for day, sf := range s.days {
		out[day] = sf.rows
	}
	return out
}

// sortedDays returns the staged days in order.
func (s *Stage) sortedDays() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	days := make([]string, 0, len(s.days))
	for day := range s.days {
		days = append(days, day)
	}
	sort.Strings(days)
	return days
}

// flush writes every buffered row to the spill files, so they can be read.
func (s *Stage) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrStageClosed
	}
	if s.err != nil {
		return s.err
	}
	for day, sf := range s.days {
		if err := sf.w.flush(); err != nil {
			s.err = fmt.Errorf("stage day %s: %w", day, err)
			return s.err
		}
	}
	return nil
}

// open opens day's spill file for reading, with its size and row count; ok is false if
// nothing was staged for day. flush must have been called.
func (s *Stage) open(day string) (f *os.File, size, rows int64, ok bool, err error) {
	s.mu.Lock()
	sf := s.days[day]
	s.mu.Unlock()
	if sf == nil {
		return nil, 0, 0, false, nil
	}
	f, err = os.Open(s.dayPath(day))
	if err != nil {
		return nil, 0, 0, false, fmt.Errorf("stage day %s: %w", day, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, 0, false, fmt.Errorf("stage day %s: %w", day, err)
	}
	return f, fi.Size(), sf.rows, true, nil
}

// Close closes and removes every spill file of the stage. It is safe to call more than once.
func (s *Stage) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for _, sf := range s.days {
		sf.w.release()
		if err := sf.f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.days = nil
	if err := os.RemoveAll(s.dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close stage: %w", err)
	}
	return nil
}

// Filter returns a new stage, beside s, holding the rows of s that keep accepts; s is left as
// it is. Filter must not run concurrently with Add or Close of s.
func (s *Stage) Filter(keep func(*schema.Message) bool) (*Stage, error) {
	if err := s.flush(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(filepath.Dir(s.dir), spillPrefix("stage"))
	if err != nil {
		return nil, fmt.Errorf("filter stage: %w", err)
	}
	out := &Stage{dir: dir, mem: s.mem, days: make(map[string]*spillFile)}
	for _, day := range s.sortedDays() {
		f, _, _, ok, err := s.open(day)
		if err != nil || !ok {
			if err != nil {
				out.Close()
				return nil, err
			}
			continue
		}
		r := newSpillReader(f)
		var rows []schema.Message
		for {
			var m schema.Message
			err := r.next(&m)
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				out.Close()
				return nil, fmt.Errorf("filter stage day %s: %w", day, err)
			}
			if keep(&m) {
				rows = append(rows, m)
			}
			if len(rows) == 4096 {
				if err := out.Add(rows); err != nil {
					f.Close()
					out.Close()
					return nil, err
				}
				rows = rows[:0]
			}
		}
		f.Close()
		if err := out.Add(rows); err != nil {
			out.Close()
			return nil, err
		}
	}
	return out, nil
}
