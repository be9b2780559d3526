package pipelines_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/pipelines"
	"github.com/chatlake/chatlake/schema"
	"github.com/chatlake/chatlake/sim"
)

// TestPublishesAPlanStagedPerBatchAndDay: a plan whose batches binaries before staged as one
// file per batch and day (JSON done records without an index) or as one staged object each
// (JSON done records with an index) publishes after the upgrade, beside batches whose done
// objects hold their rows, and leaves nothing of the run behind.
func TestPublishesAPlanStagedPerBatchAndDay(t *testing.T) {
	ctx := context.Background()
	h, from, to, opts, objs := extractedNotPublished(t, 41)
	// What binaries before would have left: the even batches staged per day, batch 1 as one
	// staged object of its own with a JSON record, batch 3 as this binary does.
	downgraded := 0
	for _, o := range objs {
		dir, base := path.Split(o.Name)
		var b int
		if !strings.HasSuffix(dir, "/done/") || func() bool { _, err := fmt.Sscanf(base, "batch-%06d.done", &b); return err != nil }() {
			continue
		}
		switch b {
		case 0, 2:
			stageBatchPerDay(t, h.store, o.Name, strings.TrimSuffix(dir, "done/"), b)
		case 1:
			stageBatchApart(t, h.store, o.Name, strings.TrimSuffix(dir, "done/"), b)
		default:
			continue
		}
		downgraded++
	}
	if downgraded != 3 {
		t.Fatalf("%d batches staged as before, want 3", downgraded)
	}

	h.lake = mustLake(t, h.store)
	requests := h.sim.Stats().ByEndpoint[sim.EndpointConversations]
	if _, err := h.pipeline(h.client(nil), opts).Export(ctx, from, to); err != nil {
		t.Fatal(err)
	}
	if n := h.sim.Stats().ByEndpoint[sim.EndpointConversations] - requests; n != 0 {
		t.Errorf("the rerun made %d conversations requests, want 0: every batch was done", n)
	}
	h.check(from, to)
	if objs, err := h.store.List(ctx, "_chatlake/runs/"); err != nil || len(objs) != 0 {
		t.Errorf("objects of the published run left: %v, %v", objs, err)
	}
}

// extractedNotPublished runs an export of 20 users in 4 batches over a week whose publishing
// fails at its first manifest, and returns the harness (its lake without the fault), the
// range, the options and the objects the run left under _chatlake/runs/.
func extractedNotPublished(t *testing.T, seed int64) (h *harness, from, to time.Time, opts func(*pipelines.Options), objs []storage.Object) {
	t.Helper()
	h = newHarness(t, simOptions(seed, 20), nil)
	from, to = day(t, "2024-05-01"), day(t, "2024-05-07")
	fs := &faultyStore{Store: h.store, name: "_chatlake/manifests/messages/dt=2024-05-01.json", after: 0}
	h.lake = mustLake(t, fs)
	opts = func(o *pipelines.Options) { o.BatchSize = 5 } // 4 batches
	if _, err := h.pipeline(h.client(nil), opts).Export(context.Background(), from, to); err == nil {
		t.Fatal("the export whose first manifest fails succeeded")
	}
	objs, err := h.store.List(context.Background(), "_chatlake/runs/")
	if err != nil {
		t.Fatal(err)
	}
	return h, from, to, opts, objs
}

// doneObject splits a batch's done object into its staged rows (empty if they are staged
// apart) and its record.
func doneObject(t *testing.T, data []byte) (staged []byte, rec map[string]json.RawMessage) {
	t.Helper()
	if len(data) < 16 || string(data[len(data)-8:]) != "CLDONE1\n" {
		t.Fatalf("a done object of %d bytes without its trailer", len(data))
	}
	n := int(binary.LittleEndian.Uint64(data[len(data)-16:]))
	end := len(data) - 16
	if err := json.Unmarshal(data[end-n:end], &rec); err != nil {
		t.Fatal(err)
	}
	return data[:end-n], rec
}

// legacyRecord replaces batch b's done object (donePath) with rec as JSON, as the binaries
// before wrote it (done/batch-NNNNNN.json).
func legacyRecord(t *testing.T, s storage.Store, donePath string, rec map[string]json.RawMessage) {
	t.Helper()
	ctx := context.Background()
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutIf(ctx, strings.TrimSuffix(donePath, ".done")+".json", data, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, donePath); err != nil {
		t.Fatal(err)
	}
}

// stageBatchApart rewrites batch b, whose rows its done object holds, as the binary before
// this layout staged it: its rows in staged/batch-NNNNNN-000.arrow and a JSON record whose
// index names that object.
func stageBatchApart(t *testing.T, s storage.Store, donePath, attemptDir string, b int) {
	t.Helper()
	data, _, err := s.Get(context.Background(), donePath)
	if err != nil {
		t.Fatal(err)
	}
	staged, rec := doneObject(t, data)
	var idx load.StagedBatch
	if err := json.Unmarshal(rec["staged"], &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Parts) != 1 || idx.Parts[0].Name != donePath || len(staged) == 0 {
		t.Fatalf("batch %d: its done object does not hold its rows: %+v", b, idx)
	}
	idx.Parts[0].Name = fmt.Sprintf("%sstaged/batch-%06d-000.arrow", attemptDir, b)
	if _, err := s.PutIf(context.Background(), idx.Parts[0].Name, staged, ""); err != nil {
		t.Fatal(err)
	}
	if rec["staged"], err = json.Marshal(idx); err != nil {
		t.Fatal(err)
	}
	legacyRecord(t, s, donePath, rec)
}

// stageBatchPerDay rewrites batch b, staged by this binary, as a binary before staged it: one
// Arrow IPC file per day under staged/dt=DAY/, and a JSON record without index.
func stageBatchPerDay(t *testing.T, s storage.Store, donePath, attemptDir string, b int) {
	t.Helper()
	ctx := context.Background()
	data, _, err := s.Get(ctx, donePath)
	if err != nil {
		t.Fatal(err)
	}
	_, rec := doneObject(t, data)
	var idx load.StagedBatch
	if err := json.Unmarshal(rec["staged"], &idx); err != nil {
		t.Fatal(err)
	}
	for _, p := range idx.Parts {
		obj, _, err := s.Get(ctx, p.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range p.Days {
			recs, err := load.DecodeStagedDay(obj, p, d)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			fw, err := ipc.NewFileWriter(&buf, ipc.WithSchema(schema.Messages()), ipc.WithLZ4(), ipc.WithAllocator(memory.NewGoAllocator()))
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range recs {
				if err := fw.Write(rec); err != nil {
					t.Fatal(err)
				}
				rec.Release()
			}
			if err := fw.Close(); err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("%sstaged/dt=%s/batch-%06d.arrow", attemptDir, d.Day, b)
			if _, err := s.PutIf(ctx, name, buf.Bytes(), ""); err != nil {
				t.Fatal(err)
			}
		}
		if p.Name != donePath {
			if err := s.Delete(ctx, p.Name); err != nil {
				t.Fatal(err)
			}
		}
	}
	delete(rec, "staged")
	legacyRecord(t, s, donePath, rec)
}

// TestResumesAPlanWithBatchUsersFiles: a plan of format 1, whose planner (a binary before the
// users objects) wrote each batch's users to a file of its own, resumes after the upgrade:
// its unfinished batches are extracted with their users read from those files, and the lake
// is exact.
func TestResumesAPlanWithBatchUsersFiles(t *testing.T) {
	ctx := context.Background()
	h, from, to, opts, objs := extractedNotPublished(t, 43)
	var planPath string
	var parts, dones []string
	for _, o := range objs {
		switch base := path.Base(o.Name); {
		case base == "plan.json":
			planPath = o.Name
		case strings.HasPrefix(base, "users-"):
			parts = append(parts, o.Name)
		case strings.HasSuffix(path.Dir(o.Name), "/done"):
			dones = append(dones, o.Name)
		}
	}
	if planPath == "" || len(parts) != 1 || len(dones) != 4 {
		t.Fatalf("the run left plan %q, users objects %v, done records %v: want a plan, 1 and 4", planPath, parts, dones)
	}
	// What a binary before would have written: the plan in format 1, the users a file a batch.
	data, version, err := h.store.Get(ctx, planPath)
	if err != nil {
		t.Fatal(err)
	}
	var plan map[string]json.RawMessage
	if err := json.Unmarshal(data, &plan); err != nil {
		t.Fatal(err)
	}
	plan["format"] = json.RawMessage("1")
	delete(plan, "users_parts")
	if data, err = json.Marshal(plan); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.PutIf(ctx, planPath, data, version); err != nil {
		t.Fatal(err)
	}
	part, _, err := h.store.Get(ctx, parts[0])
	if err != nil {
		t.Fatal(err)
	}
	var users struct{ Batches []json.RawMessage }
	if err := json.Unmarshal(part, &users); err != nil || len(users.Batches) != 4 {
		t.Fatalf("the users object holds %d batches, %v", len(users.Batches), err)
	}
	for b, bu := range users.Batches {
		if _, err := h.store.PutIf(ctx, fmt.Sprintf("%sbatch-%06d.json", path.Dir(parts[0])+"/", b), bu, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.store.Delete(ctx, parts[0]); err != nil {
		t.Fatal(err)
	}
	// Batches 1 and 3 were not finished: their users are read from their files.
	for _, name := range []string{dones[1], dones[3]} {
		if err := h.store.Delete(ctx, name); err != nil {
			t.Fatal(err)
		}
	}

	h.lake = mustLake(t, h.store)
	requests := h.sim.Stats().ByEndpoint[sim.EndpointConversations]
	if _, err := h.pipeline(h.client(nil), opts).Export(ctx, from, to); err != nil {
		t.Fatal(err)
	}
	if n := h.sim.Stats().ByEndpoint[sim.EndpointConversations] - requests; n < 10 {
		t.Errorf("the rerun made %d conversations requests, want at least one for each user of batches 1 and 3", n)
	}
	h.check(from, to)
	if objs, err := h.store.List(ctx, "_chatlake/runs/"); err != nil || len(objs) != 0 {
		t.Errorf("objects of the published run left: %v, %v", objs, err)
	}
}
