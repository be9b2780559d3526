package storage

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"
)

// manyDeleter is a store that deletes many objects with one request (S3's DeleteObjects,
// Azure's Blob Batch).
type manyDeleter interface {
	// deleteMany deletes up to ListPageSize names as Delete does each, or returns
	// errors.ErrUnsupported when the service does not take such requests (DeleteAll then
	// deletes the names one by one: deleting one already gone is harmless).
	deleteMany(ctx context.Context, names []string) error
}

// DeleteAll deletes names as Delete does each (a missing object is not an error): on a store
// that deletes many objects with one request, ListPageSize at a time; on another (or one whose
// service turns out not to), concurrency at a time. The first error is returned; some of the
// other names may be deleted by then.
func DeleteAll(ctx context.Context, s Store, names []string, concurrency int) error {
	if md, ok := s.(manyDeleter); ok {
		for len(names) > 0 {
			n := min(len(names), ListPageSize)
			err := md.deleteMany(ctx, names[:n])
			if errors.Is(err, errors.ErrUnsupported) {
				break
			}
			if err != nil {
				return err
			}
			names = names[n:]
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(concurrency, 1))
	for _, name := range names {
		g.Go(func() error {
			if err := s.Delete(gctx, name); err != nil {
				return fmt.Errorf("delete %s: %w", name, err)
			}
			return nil
		})
	}
	return g.Wait()
}
