package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// s3PartSize is the size of each part of a multipart upload, and the largest object written
// with one PutObject. A Writer holds one part in memory. S3 takes parts of 5 MiB and more and
// at most 10,000 of them: objects up to about 78 GiB.
const s3PartSize = 8 << 20

// Create starts a write of name: the bytes are buffered up to 8 MiB; an object that stays
// smaller is written by one PutObject at Close, a larger one by a multipart upload whose parts
// are sent as they fill and which Close completes. Each part may take ChunkTimeout, Close
// ChunkTimeout plus OpTimeout; a step that takes longer ends the write with an error matching
// ErrTimeout.
func (s *S3) Create(ctx context.Context, name string) (Writer, error) {
	key, err := s.key(name)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	return &s3Writer{s: s, name: name, key: key, wd: newWatchdog(ctx), buf: make([]byte, 0, s3PartSize)}, nil
}

// s3Writer is one streaming write; see Create.
type s3Writer struct {
	s         *S3
	name, key string
	wd        *watchdog
	buf       []byte // the part being filled
	closed    bool

	uploadID  string // "" until the first part is sent
	parts     []types.CompletedPart
	stopAbort func() bool // unregisters the abort on the end of the context
	abortOnce sync.Once
}

func (w *s3Writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, fmt.Errorf("write %s: writer closed", w.name)
	}
	if err := context.Cause(w.wd.ctx); err != nil {
		return 0, fmt.Errorf("write %s: %w", w.name, err)
	}
	n := 0
	for len(p) > 0 {
		k := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+k]
		n += k
		p = p[k:]
		if len(w.buf) == cap(w.buf) {
			if err := w.sendPart(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// sendPart uploads the buffer as the next part, starting the multipart upload first if needed.
func (w *s3Writer) sendPart() error {
	s := w.s
	if w.uploadID == "" {
		var id string
		err := w.wd.guard(s.opts.OpTimeout, "no answer", func() error {
			out, err := s.client.CreateMultipartUpload(w.wd.ctx, &s3.CreateMultipartUploadInput{
				Bucket: &s.bucket, Key: &w.key, ContentType: aws.String(contentType(w.name)),
			}, s.callOpts)
			if err != nil {
				return err
			}
			id = aws.ToString(out.UploadId)
			return nil
		})
		if err != nil {
			return s3Err("write", w.name, err)
		}
		w.uploadID = id
		// A context that ends (a cancelled run, a watchdog's timeout) aborts the upload,
		// even if its writer is never used again.
		w.stopAbort = context.AfterFunc(w.wd.ctx, w.abortUpload)
	}
	num := int32(len(w.parts) + 1)
	err := w.wd.guard(s.opts.ChunkTimeout, "no upload progress", func() error {
		out, err := s.client.UploadPart(w.wd.ctx, &s3.UploadPartInput{
			Bucket: &s.bucket, Key: &w.key, UploadId: &w.uploadID, PartNumber: &num,
			Body: bytes.NewReader(w.buf), ContentLength: aws.Int64(int64(len(w.buf))),
		}, s.callOpts)
		if err != nil {
			return err
		}
		w.parts = append(w.parts, types.CompletedPart{
			PartNumber: &num, ETag: out.ETag,
			ChecksumCRC32: out.ChecksumCRC32, ChecksumCRC32C: out.ChecksumCRC32C,
			ChecksumCRC64NVME: out.ChecksumCRC64NVME, ChecksumSHA1: out.ChecksumSHA1,
			ChecksumSHA256: out.ChecksumSHA256,
		})
		return nil
	})
	if err != nil {
		w.fail()
		return s3Err("write", w.name, err)
	}
	w.buf = w.buf[:0]
	return nil
}

// Close writes the object: one PutObject, or the last part and CompleteMultipartUpload. Its
// error is the write's; on error nothing was written.
func (w *s3Writer) Close() error {
	if w.closed {
		return fmt.Errorf("close %s: writer already closed", w.name)
	}
	if err := context.Cause(w.wd.ctx); err != nil {
		w.fail()
		return fmt.Errorf("close %s: %w", w.name, err)
	}
	var err error
	if w.uploadID == "" { // at most one part: one PutObject
		in := &s3.PutObjectInput{Bucket: &w.s.bucket, Key: &w.key, ContentType: aws.String(contentType(w.name))}
		_, err = w.s.put(w.wd.ctx, w.s.opts.ChunkTimeout+w.s.opts.OpTimeout, in, w.buf)
	} else {
		err = w.complete()
	}
	if err != nil {
		w.fail()
		return s3Err("close", w.name, err)
	}
	w.closed = true
	w.buf = nil
	w.wd.stop()
	return nil
}

// complete sends what is buffered as the last part and completes the upload.
func (w *s3Writer) complete() error {
	if len(w.buf) > 0 {
		if err := w.sendPart(); err != nil {
			return err
		}
	}
	s := w.s
	return w.wd.guard(s.opts.OpTimeout, "no answer", func() error {
		_, err := s.client.CompleteMultipartUpload(w.wd.ctx, &s3.CompleteMultipartUploadInput{
			Bucket: &s.bucket, Key: &w.key, UploadId: &w.uploadID,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: w.parts},
		}, s.callOpts)
		if err == nil && w.stopAbort != nil {
			w.stopAbort() // completed: the context's end must not abort it now
		}
		return err
	})
}

// Abort abandons the write; nothing becomes visible. It is a no-op after Close.
func (w *s3Writer) Abort() error {
	if w.closed {
		return nil
	}
	w.fail()
	return nil
}

// fail ends the writer: it is closed, and its multipart upload, if any, is aborted.
func (w *s3Writer) fail() {
	w.closed = true
	w.buf = nil
	if w.stopAbort != nil {
		w.stopAbort()
	}
	w.abortUpload()
	w.wd.stop()
}

// abortUpload aborts the multipart upload, once, within OpTimeout, even when the writer's
// context has ended. A failure leaves an incomplete upload, which is never visible and which
// a bucket lifecycle rule (AbortIncompleteMultipartUpload) removes.
func (w *s3Writer) abortUpload() {
	if w.uploadID == "" {
		return
	}
	w.abortOnce.Do(func() {
		s := w.s
		_ = s.call(context.WithoutCancel(w.wd.ctx), func(ctx context.Context) error {
			_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket: &s.bucket, Key: &w.key, UploadId: &w.uploadID,
			}, s.callOpts)
			if err != nil && errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		})
	})
}
