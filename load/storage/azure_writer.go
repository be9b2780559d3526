package storage

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
)

// Create starts a streaming write of name as a block blob. Each Write that fills a block
// stages it (ChunkTimeout per block), Close stages the rest and commits the block list
// (ChunkTimeout plus OpTimeout); a step that takes longer ends the write with an error
// matching ErrTimeout. Nothing is visible before Close returns nil.
func (a *Azure) Create(ctx context.Context, name string) (Writer, error) {
	b, err := a.blob(name)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("create %s: block id: %w", name, err)
	}
	return &azureWriter{a: a, name: name, b: b, wd: newWatchdog(ctx), idPrefix: hex.EncodeToString(id[:])}, nil
}

// azureWriter buffers one block and stages it when it is full. Its block ids are unique to the
// writer (a random prefix and a sequence number, all of one length, as Azure requires), so
// that two writers of one name never commit each other's blocks.
type azureWriter struct {
	a        *Azure
	name     string
	b        *blockblob.Client
	wd       *watchdog
	idPrefix string
	buf      []byte
	ids      []string
	err      error // the first failure; every later call returns it
	closed   bool
}

func (w *azureWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, fmt.Errorf("write %s: writer closed", w.name)
	}
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		if w.buf == nil {
			w.buf = make([]byte, 0, azureBlockSize)
		}
		k := min(len(p), azureBlockSize-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		n += k
		p = p[k:]
		if len(w.buf) == azureBlockSize {
			if err := w.stage(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// stage stages the buffered block, within ChunkTimeout.
func (w *azureWriter) stage() error {
	id := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%s-%06d", w.idPrefix, len(w.ids)))
	err := w.wd.guard(w.a.opts.ChunkTimeout, "no upload progress", func() error {
		_, err := w.b.StageBlock(w.a.withRetry(w.wd.ctx), id, nopSeekCloser(w.buf), nil)
		return err
	})
	if err != nil {
		w.err = w.a.err("write", w.name, err)
		return w.err
	}
	w.ids = append(w.ids, id)
	w.buf = w.buf[:0]
	return nil
}

// Close commits the write: one Put Blob if it never filled a block, else the last block and
// the block list. Its error is the write's error.
func (w *azureWriter) Close() error {
	if w.closed {
		return fmt.Errorf("close %s: writer already closed", w.name)
	}
	w.closed = true
	defer w.wd.stop()
	if w.err != nil {
		return w.err
	}
	headers := &blob.HTTPHeaders{BlobContentType: ptr(contentType(w.name))}
	err := w.wd.guard(w.a.opts.ChunkTimeout+w.a.opts.OpTimeout, "no upload progress", func() error {
		ctx := w.a.withRetry(w.wd.ctx)
		if len(w.ids) == 0 {
			_, err := w.b.Upload(ctx, nopSeekCloser(w.buf), &blockblob.UploadOptions{HTTPHeaders: headers})
			return err
		}
		if len(w.buf) > 0 {
			id := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%s-%06d", w.idPrefix, len(w.ids)))
			if _, err := w.b.StageBlock(ctx, id, nopSeekCloser(w.buf), nil); err != nil {
				return err
			}
			w.ids = append(w.ids, id)
		}
		_, err := w.b.CommitBlockList(ctx, w.ids, &blockblob.CommitBlockListOptions{HTTPHeaders: headers})
		return err
	})
	w.buf = nil
	if err != nil {
		return w.a.err("close", w.name, err)
	}
	return nil
}

// Abort ends the write; nothing becomes visible (the staged blocks stay uncommitted, and the
// service discards them). It is a no-op after Close.
func (w *azureWriter) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.buf = nil
	w.wd.stop()
	return nil
}
