package storage

import (
	"context"
	"io"
	"sort"
	"time"
)

// Object describes one stored object.
type Object struct {
	Name    string // slash-separated, relative to the store's root
	Size    int64
	Version string // opaque; changes on every write of the object (S3: of different bytes)
	Updated time.Time
}

// Writer streams one object. Nothing is visible until Close returns nil; then the object
// replaces any previous object of the same name at once. Abort, a failed Close, or cancelling
// the context given to Create leaves the previous object (or none) in place.
type Writer interface {
	io.Writer
	Close() error
	Abort() error
}

// Store is one object store rooted at a prefix: a local directory, or a GCS or S3 bucket and
// prefix.
// Every implementation passes storagetest.Run.
type Store interface {
	// Create starts a streaming write of name.
	Create(ctx context.Context, name string) (Writer, error)
	// Open reads name. A missing object gives an error matching ErrNotExist.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// OpenRange reads length bytes of name from offset (a ranged read: one request on a cloud
	// store, whatever the object's size). A range past the object's end is cut at the end; an
	// offset past it reads nothing. A negative offset or length is ErrBadRange; a missing
	// object, ErrNotExist.
	OpenRange(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error)
	// Stat describes name, or an error matching ErrNotExist.
	Stat(ctx context.Context, name string) (Object, error)
	// List returns every object whose name starts with prefix, recursively, sorted by name.
	// Temporary objects of unfinished writes are never listed.
	List(ctx context.Context, prefix string) ([]Object, error)
	// ListPage returns, sorted by name, up to pageSize objects whose name starts with prefix
	// and comes after the name after ("" for the first page), and the after of the next page:
	// the last name returned when the page is full, "" when it is not (there are no more). Listing page by page holds one
	// page of a large prefix in memory, and objects deleted or written between pages are
	// seen as at the moment each page is read. A pageSize below 1 is ErrBadRange.
	ListPage(ctx context.Context, prefix, after string, pageSize int) ([]Object, string, error)
	// Move replaces dst with src's content in one atomic step (readers of dst see the old or the
	// new object, never a mix) and then removes src. It returns dst as Stat would describe it
	// right after (its size and version), so that no request is needed to learn them. Local:
	// rename. GCS, S3 and Azure: server-side copy, then delete of src. A missing src gives an
	// error matching ErrNotExist.
	Move(ctx context.Context, src, dst string) (Object, error)
	// Delete removes name; deleting a missing object is not an error.
	Delete(ctx context.Context, name string) error
	// Get reads a small object whole with its version.
	Get(ctx context.Context, name string) ([]byte, string, error)
	// PutIf writes an object whole (held in memory: up to some megabytes) only if its current
	// version is ifVersion ("" means it must not exist), atomically with respect to other
	// PutIf and DeleteIf calls from any process. It returns the new version, or an error
	// matching ErrPrecondition. It keeps no reference to data once it returns.
	PutIf(ctx context.Context, name string, data []byte, ifVersion string) (string, error)
	// DeleteIf removes name only if its current version is ifVersion, else ErrPrecondition.
	DeleteIf(ctx context.Context, name string, ifVersion string) error
	// URL names the store's root for messages and queries (a directory path, gs://bucket/prefix
	// or s3://bucket/prefix).
	URL() string
}

// ListPageSize is the page size of Walk: the most objects one GCS listing request returns.
const ListPageSize = 1000

// Walk calls fn with the objects under prefix, a page (ListPage) at a time, in name order,
// until fn returns an error or the objects end. fn may delete the objects it is given.
func Walk(ctx context.Context, s Store, prefix string, fn func([]Object) error) error {
	after := ""
	for {
		objs, next, err := s.ListPage(ctx, prefix, after, ListPageSize)
		if err != nil {
			return err
		}
		if len(objs) > 0 {
			if err := fn(objs); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

// pageOf is the page of the sorted objs that ListPage returns.
func pageOf(objs []Object, after string, pageSize int) ([]Object, string) {
	i := sort.Search(len(objs), func(i int) bool { return objs[i].Name > after })
	objs = objs[i:]
	if len(objs) <= pageSize {
		return objs, ""
	}
	objs = objs[:pageSize]
	return objs, objs[len(objs)-1].Name
}
