package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// azureBatchSize is the most sub-requests one Blob Batch request takes.
const azureBatchSize = 256

// deleteMany deletes up to ListPageSize blobs with Blob Batch requests of up to 256 deletes
// each (each request within OpTimeout). A service that refuses batches (an emulator or a
// compatible store without them: any answer but success or 403 to the batch as a whole) is
// not asked again: deleteMany returns errors.ErrUnsupported and DeleteAll deletes one by one.
// A missing blob is not an error, as for Delete.
func (a *Azure) deleteMany(ctx context.Context, names []string) error {
	if a.noBatch.Load() {
		return errors.ErrUnsupported
	}
	for _, name := range names {
		if err := checkName(name); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
	}
	for len(names) > 0 {
		n := min(len(names), azureBatchSize)
		if err := a.deleteBatch(ctx, names[:n]); err != nil {
			return err
		}
		names = names[n:]
	}
	return nil
}

// deleteBatch deletes up to azureBatchSize blobs with one Blob Batch request.
func (a *Azure) deleteBatch(ctx context.Context, names []string) error {
	bb, err := a.cont.NewBatchBuilder()
	if err != nil {
		return fmt.Errorf("delete %s and %d more: %w", names[0], len(names)-1, err)
	}
	for _, name := range names {
		if err := bb.Delete(a.prefix+name, nil); err != nil {
			return fmt.Errorf("delete %s: %w", name, err)
		}
	}
	var resp container.SubmitBatchResponse
	err = a.call(ctx, a.opts.OpTimeout, func(ctx context.Context) (err error) {
		resp, err = a.cont.SubmitBatch(ctx, bb, nil)
		return err
	})
	if err != nil {
		if s := statusOf(err); s != 0 && s != 403 {
			a.noBatch.Store(true)
			return errors.ErrUnsupported
		}
		return a.err("delete", fmt.Sprintf("%s and %d more", names[0], len(names)-1), err)
	}
	for i, r := range resp.Responses {
		if r.Error != nil && !isBlobNotFound(r.Error) {
			name := "a blob"
			if i < len(names) {
				name = names[i]
			}
			if r.BlobName != nil {
				name = *r.BlobName
			}
			return a.err("delete", name, r.Error)
		}
	}
	return nil
}
