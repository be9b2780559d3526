package load

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/chatlake/chatlake/load/storage"
)

// A finished batch is committed by one create-only object, its done object
// (.../attempts/<attempt>/done/batch-NNNNNN.done, batchDonePath): the batch's staged rows, an
// Arrow IPC file as staged.go writes it, when they fit in memory (its Stage did not spill), then
// the done record (JSON), its length and doneMagic. The staged part is the object itself from
// byte 0, so the index's offsets read it as they read a part of its own. A batch whose Stage
// spilled stages its rows as parts of their own first (stageBatch), and its done object is the
// record alone. So a run writes one object per batch, not two (a staged object and a record):
// on a cloud store, one request. Of two processes that finish a batch at once, exactly one
// writes its done object; the batch is done for good, with that process's rows.
//
// The binaries before wrote the record alone as JSON (done/batch-NNNNNN.json,
// legacyBatchDonePath), beside staged parts; those records are still read.

// doneMagic ends a done object: after the record's length (8 bytes, little-endian).
var doneMagic = [8]byte{'C', 'L', 'D', 'O', 'N', 'E', '1', '\n'}

// doneTrailer is the record's length and doneMagic.
const doneTrailer = 16

// doneTailRead is how much of a done object's end one ranged read takes: its record, unless
// the record is longer (thousands of failed users), then a second read takes the rest.
const doneTailRead = 64 << 10

// BatchDone is the record of a finished batch: who failed or was skipped, and where its rows
// are staged. It is written create-only once the rows are staged, so a batch with a record is
// done for good.
type BatchDone struct {
	RunID    string       `json:"run_id"`
	Finished time.Time    `json:"finished"`
	Messages int64        `json:"messages"`
	Failed   []FailedUser `json:"failed,omitempty"`  // owed: their previous rows stay
	Skipped  []string     `json:"skipped,omitempty"` // the API called their id invalid (1002): their rows stay
	// Staged is the index of the batch's staged rows (FinishBatch). A record
	// without one is of a binary before the one-object-per-batch layout: the batch's rows are
	// staged per day (legacyStagedDir), and MergeInput.Legacy reads them.
	Staged *StagedBatch `json:"staged,omitempty"`
}

// FailedUser is a user whose export failed, with why.
type FailedUser struct {
	ID    string `json:"id"`
	Error string `json:"error"`
}

// errCorruptDone: a done object does not end with a record.
var errCorruptDone = errors.New("corrupt done object")

// markBatchDone records that batch of the instance attempt of plan is finished, its rows
// staged as parts of their own (stageBatch) or not at all. It is create-only: a batch already
// marked keeps its first record, and that is no error.
func (l *Lake) markBatchDone(ctx context.Context, plan, attempt string, batch int, rec *BatchDone) error {
	if err := errors.Join(checkID("plan", plan), checkID("attempt", attempt), checkBatch(batch)); err != nil {
		return err
	}
	return l.putDone(ctx, plan, attempt, batch, &bytes.Buffer{}, rec)
}

// appendRecord appends the record js of a done object and the object's trailer to buf, which
// holds the batch's staged rows or nothing.
func appendRecord(buf *bytes.Buffer, js []byte) {
	buf.Write(js)
	buf.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(js))))
	buf.Write(doneMagic[:])
}

// BatchesDone lists the finished batches of the instance attempt of plan, sorted.
func (l *Lake) BatchesDone(ctx context.Context, plan, attempt string) ([]int, error) {
	if err := errors.Join(checkID("plan", plan), checkID("attempt", attempt)); err != nil {
		return nil, err
	}
	seen := map[int]bool{}
	var done []int
	err := storage.Walk(ctx, l.store, batchDoneDir(plan, attempt), func(objs []storage.Object) error {
		for _, o := range objs {
			b, ok := parseBatchDone(plan, attempt, o.Name)
			if !ok {
				continue
			}
			if o.Name == batchDonePath(plan, attempt, b) {
				l.doneSizes.Store(o.Name, o.Size) // ReadBatchDone reads its end
			}
			if !seen[b] {
				seen[b] = true
				done = append(done, b)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the finished batches: %w", err)
	}
	sort.Ints(done)
	return done, nil
}

// ReadBatchDone reads the record of batch, with its index of staged rows checked against the
// batch's object names: from the batch's done object, or the JSON record of a binary before.
func (l *Lake) ReadBatchDone(ctx context.Context, plan, attempt string, batch int) (*BatchDone, error) {
	if err := errors.Join(checkID("plan", plan), checkID("attempt", attempt), checkBatch(batch)); err != nil {
		return nil, err
	}
	js, err := l.doneRecord(ctx, plan, attempt, batch)
	if err != nil {
		return nil, fmt.Errorf("read the record of batch %d: %w", batch, err)
	}
	var rec BatchDone
	if err := json.Unmarshal(js, &rec); err != nil {
		return nil, fmt.Errorf("the record of batch %d: %w", batch, err)
	}
	if rec.Staged != nil {
		if err := rec.Staged.check(plan, attempt, batch); err != nil {
			return nil, fmt.Errorf("the record of batch %d: %w", batch, err)
		}
	}
	return &rec, nil
}

// doneRecord is the JSON of batch's record: kept in memory, read from the end of its done
// object, or read whole from a binary before's record.
func (l *Lake) doneRecord(ctx context.Context, plan, attempt string, batch int) ([]byte, error) {
	name := batchDonePath(plan, attempt, batch)
	if d, ok := l.doneRecords.Load(name); ok {
		return d.([]byte), nil
	}
	var size int64
	if v, ok := l.doneSizes.Load(name); ok {
		size = v.(int64)
	} else {
		o, err := l.store.Stat(ctx, name)
		if errors.Is(err, storage.ErrNotExist) {
			data, _, err := l.store.Get(ctx, legacyBatchDonePath(plan, attempt, batch))
			return data, err
		}
		if err != nil {
			return nil, err
		}
		size = o.Size
	}
	if size < doneTrailer {
		return nil, fmt.Errorf("%s: %w: %d bytes", name, errCorruptDone, size)
	}
	tail, err := l.readRange(ctx, name, max(0, size-doneTailRead), min(size, doneTailRead))
	if err != nil {
		return nil, err
	}
	if int64(len(tail)) != min(size, doneTailRead) || !bytes.Equal(tail[len(tail)-8:], doneMagic[:]) {
		return nil, fmt.Errorf("%s: %w: no done record at its end", name, errCorruptDone)
	}
	n := int64(binary.LittleEndian.Uint64(tail[len(tail)-doneTrailer:]))
	if n <= 0 || n > size-doneTrailer {
		return nil, fmt.Errorf("%s: %w: a record of %d bytes", name, errCorruptDone, n)
	}
	if end := int64(len(tail)) - doneTrailer; n <= end {
		return tail[end-n : end], nil
	}
	return l.readRange(ctx, name, size-doneTrailer-n, n)
}
