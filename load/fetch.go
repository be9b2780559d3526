package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sync/errgroup"
)

// StagedFetch holds, in local files, the staged rows of a window of days of a plan, read from a
// cloud store with one ranged read per staged part: a part's days are stored in day order, so
// a window's segments of one part are adjacent and read as one range. Merge reads a day's
// segments from it (MergeInput.Fetched) instead of making a ranged read per segment, so
// publishing a plan makes about parts x windows reads rather than parts x days: 80 batches
// over 120 days in windows of 16 days, 640 rather than 9,600.
//
// A StagedFetch is safe for concurrent use by the merges of its days. Close removes its files;
// Merge must not read from it afterwards.
type StagedFetch struct {
	dir    string
	parts  map[string]fetchedPart // by staged part name
	once   sync.Once
	frames *frameReaders // its Lake's
}

// fetchedPart is the range [start, end) of a staged part, in the local file path.
type fetchedPart struct {
	path       string
	start, end int64
}

// FetchStaged reads the segments of days (a window of consecutive days) of the staged batches,
// a ranged read per staged part (stagedReadConcurrency at once), into local files under
// Options.TempDir; a part this process staged is read from its local copy (stagedCopies). On a store whose objects are local files it reads nothing and returns nil:
// Merge reads those in place (a nil *StagedFetch is valid and holds nothing).
func (l *Lake) FetchStaged(ctx context.Context, staged []*StagedBatch, days []string) (*StagedFetch, error) {
	if _, local := l.store.(localFiles); local {
		return nil, nil
	}
	want := make(map[string]bool, len(days))
	for _, d := range days {
		want[d] = true
	}
	type span struct {
		part       StagedPart
		start, end int64
	}
	var spans []span
	for _, b := range staged {
		if b == nil {
			continue
		}
		for _, p := range b.Parts {
			s := span{part: p, start: -1}
			for _, d := range p.Days {
				if !want[d.Day] {
					continue
				}
				if s.start < 0 || d.Offset < s.start {
					s.start = d.Offset
				}
				s.end = max(s.end, d.Offset+d.Length)
			}
			if s.start >= 0 {
				spans = append(spans, s)
			}
		}
	}
	f := &StagedFetch{parts: make(map[string]fetchedPart, len(spans)), frames: &l.frames}
	if len(spans) == 0 {
		return f, nil
	}
	dir, err := os.MkdirTemp(l.opts.TempDir, spillPrefix("fetch"))
	if err != nil {
		return nil, fmt.Errorf("fetch staged rows: %w", err)
	}
	f.dir = dir
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(stagedReadConcurrency)
	var mu sync.Mutex
	for i, s := range spans {
		if l.copies != nil {
			// A part this process staged is read from its local copy, not downloaded again.
			if p, ok := l.copies.path(s.part.Name, s.part.Bytes); ok {
				if _, known := l.headers.Load(s.part.Name); !known {
					if err := l.cacheHeader(s.part, p); err != nil {
						_ = g.Wait()
						f.Close()
						return nil, fmt.Errorf("fetch staged rows: %w", err)
					}
				}
				mu.Lock()
				f.parts[s.part.Name] = fetchedPart{path: p, start: 0, end: s.part.Bytes}
				mu.Unlock()
				continue
			}
		}
		path := filepath.Join(dir, fmt.Sprintf("part-%d.arrows", i))
		// A part whose header is not known yet and whose window starts near it is read from
		// its start: the header comes with the window's rows, not in a request of its own.
		_, known := l.headers.Load(s.part.Name)
		withHeader := !known && s.start-s.part.Header <= fetchHeaderGap
		if withHeader {
			s.start = 0
		}
		g.Go(func() error {
			rc, err := l.store.OpenRange(gctx, s.part.Name, s.start, s.end-s.start)
			if err != nil {
				return fmt.Errorf("read %s: %w", s.part.Name, err)
			}
			n, err := copyToFile(path, rc)
			if cerr := rc.Close(); err == nil {
				err = cerr
			}
			if err == nil && n != s.end-s.start {
				err = fmt.Errorf("%w: %d bytes in [%d, %d), the index says %d", errCorruptStaged, n, s.start, s.end, s.end-s.start)
			}
			if err == nil && withHeader {
				err = l.cacheHeader(s.part, path)
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", s.part.Name, err)
			}
			mu.Lock()
			f.parts[s.part.Name] = fetchedPart{path: path, start: s.start, end: s.end}
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		f.Close()
		return nil, fmt.Errorf("fetch staged rows of %s..%s: %w", days[0], days[len(days)-1], err)
	}
	return f, nil
}

// fetchHeaderGap is how far after a staged part's header a window may start and still be read
// from the part's start, header included: the bytes between cost less than a request.
const fetchHeaderGap = 1 << 20

// cacheHeader keeps the header of part p from the first p.Header bytes of the local file path
// (a fetch from the part's start), as stagedHeader would have read it.
func (l *Lake) cacheHeader(p StagedPart, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := make([]byte, p.Header)
	if _, err := io.ReadFull(f, h); err != nil || !bytes.HasPrefix(h, []byte("ARROW1")) {
		return fmt.Errorf("%w: %s: no Arrow file header of %d bytes", errCorruptStaged, p.Name, p.Header)
	}
	l.headers.Store(p.Name, h)
	return nil
}

// Close removes the fetched files. It is safe to call more than once, and on nil.
func (f *StagedFetch) Close() error {
	if f == nil {
		return nil
	}
	var err error
	f.once.Do(func() {
		if f.dir != "" {
			err = os.RemoveAll(f.dir)
		}
	})
	return err
}

// holds reports whether f holds seg's record batches.
func (f *StagedFetch) holds(seg stagedSegment) bool {
	if f == nil {
		return false
	}
	fp, ok := f.parts[seg.part.Name]
	return ok && seg.day.Offset >= fp.start && seg.day.Offset+seg.day.Length <= fp.end
}

// segment returns a reader of seg's stream, which f holds: the part's header, the segment's
// record batches from the fetched file, an end-of-stream marker.
func (f *StagedFetch) segment(header []byte, seg stagedSegment) (io.ReadCloser, error) {
	fp := f.parts[seg.part.Name]
	file, err := os.Open(fp.path)
	if err != nil {
		return nil, err
	}
	body := struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(file, seg.day.Offset-fp.start, seg.day.Length), file}
	return segmentStreamOf(header, body, seg.part.Format, f.frames), nil
}
