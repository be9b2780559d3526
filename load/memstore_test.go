package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatlake/chatlake/load/storage"
)

// memStore is an in-memory storage.Store with the contract's semantics: a Create'd object
// appears at Close, Move is atomic, PutIf and DeleteIf check versions.
type memStore struct {
	mu      sync.Mutex
	objs    map[string]memObject
	counter int
}

type memObject struct {
	data    []byte
	version string
	updated time.Time
}

func newMemStore() *memStore { return &memStore{objs: make(map[string]memObject)} }

func (s *memStore) URL() string { return "mem://" }

// put stores data under name with a new version; s.mu is held.
func (s *memStore) put(name string, data []byte) string {
	s.counter++
	v := strconv.Itoa(s.counter)
	s.objs[name] = memObject{data: data, version: v, updated: time.Now()}
	return v
}

func checkMemName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "//") {
		return fmt.Errorf("bad name %q", name)
	}
	return nil
}

type memWriter struct {
	s    *memStore
	ctx  context.Context
	name string
	buf  bytes.Buffer
	done bool
}

func (s *memStore) Create(ctx context.Context, name string) (storage.Writer, error) {
	if err := checkMemName(name); err != nil {
		return nil, err
	}
	return &memWriter{s: s, ctx: ctx, name: name}, nil
}

func (w *memWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("write after close")
	}
	return w.buf.Write(p)
}

func (w *memWriter) Close() error {
	if w.done {
		return errors.New("close twice")
	}
	w.done = true
	if err := w.ctx.Err(); err != nil {
		return err
	}
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.s.put(w.name, bytes.Clone(w.buf.Bytes()))
	return nil
}

func (w *memWriter) Abort() error {
	w.done = true
	return nil
}

func (s *memStore) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objs[name]
	if !ok {
		return nil, fmt.Errorf("open %s: %w", name, storage.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(o.data)), nil
}

func (s *memStore) OpenRange(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 || length < 0 {
		return nil, fmt.Errorf("open %s: %w", name, storage.ErrBadRange)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objs[name]
	if !ok {
		return nil, fmt.Errorf("open %s: %w", name, storage.ErrNotExist)
	}
	return io.NopCloser(io.NewSectionReader(bytes.NewReader(o.data), offset, length)), nil
}

func (s *memStore) Stat(ctx context.Context, name string) (storage.Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objs[name]
	if !ok {
		return storage.Object{}, fmt.Errorf("stat %s: %w", name, storage.ErrNotExist)
	}
	return storage.Object{Name: name, Size: int64(len(o.data)), Version: o.version, Updated: o.updated}, nil
}

func (s *memStore) List(ctx context.Context, prefix string) ([]storage.Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []storage.Object
	for name, o := range s.objs {
		if strings.HasPrefix(name, prefix) {
			out = append(out, storage.Object{Name: name, Size: int64(len(o.data)), Version: o.version, Updated: o.updated})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *memStore) ListPage(ctx context.Context, prefix, after string, pageSize int) ([]storage.Object, string, error) {
	if pageSize < 1 {
		return nil, "", storage.ErrBadRange
	}
	objs, _ := s.List(ctx, prefix)
	var out []storage.Object
	for _, o := range objs {
		if o.Name > after {
			out = append(out, o)
		}
		if len(out) == pageSize {
			return out, o.Name, nil
		}
	}
	return out, "", nil
}

func (s *memStore) Move(ctx context.Context, src, dst string) (storage.Object, error) {
	if err := checkMemName(dst); err != nil {
		return storage.Object{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objs[src]
	if !ok {
		return storage.Object{}, fmt.Errorf("move %s: %w", src, storage.ErrNotExist)
	}
	delete(s.objs, src)
	s.put(dst, o.data)
	m := s.objs[dst]
	return storage.Object{Name: dst, Size: int64(len(m.data)), Version: m.version, Updated: m.updated}, nil
}

func (s *memStore) Delete(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objs, name)
	return nil
}

func (s *memStore) Get(ctx context.Context, name string) ([]byte, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objs[name]
	if !ok {
		return nil, "", fmt.Errorf("get %s: %w", name, storage.ErrNotExist)
	}
	return bytes.Clone(o.data), o.version, nil
}

func (s *memStore) PutIf(ctx context.Context, name string, data []byte, ifVersion string) (string, error) {
	if err := checkMemName(name); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.objs[name].version != ifVersion {
		return "", fmt.Errorf("put %s: %w", name, storage.ErrPrecondition)
	}
	return s.put(name, bytes.Clone(data)), nil
}

func (s *memStore) DeleteIf(ctx context.Context, name string, ifVersion string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objs[name]
	if !ok {
		return fmt.Errorf("delete %s: %w", name, storage.ErrNotExist)
	}
	if o.version != ifVersion {
		return fmt.Errorf("delete %s: %w", name, storage.ErrPrecondition)
	}
	delete(s.objs, name)
	return nil
}
