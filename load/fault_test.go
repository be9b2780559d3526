package load

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"testing"

	"github.com/chatlake/chatlake/schema"
)

// TestPublishFaults injects a failure at each step of a republish and checks what doc.go
// promises: before any Move the partition and manifest are exactly as they were; after some
// Moves every file is a complete old or new shard and no key is in two files; a rerun without
// faults publishes the new content and leaves no staging.
func TestPublishFaults(t *testing.T) {
	const day = "2024-05-02"
	old := testDay(day, 0, 600)
	// The new content: late messages, and some old ones changed (a new run id) so that a new
	// shard file differs from the old one.
	next := testDay(day, 0, 1200)
	for i := range next {
		next[i].RunID = "run-2"
	}

	tests := []struct {
		name         string
		f            faults
		beforeMove   bool // the failure happens before any file moved into place
		incomplete   bool // the manifest is left marked incomplete
		movedAtLeast int
	}{
		{name: "upload fails at start", f: faults{writeAfter: 1, moveAfter: -1, putIfAfter: -1}, beforeMove: true},
		{name: "upload fails midway", f: faults{writeAfter: 2 << 10, moveAfter: -1, putIfAfter: -1}, beforeMove: true},
		{name: "close fails", f: faults{failClose: true, moveAfter: -1, putIfAfter: -1}, beforeMove: true},
		{name: "first manifest write fails", f: faults{moveAfter: -1, putIfAfter: 0}, beforeMove: true},
		{name: "first move fails", f: faults{moveAfter: 0, putIfAfter: -1}, beforeMove: true},
		{name: "second move fails", f: faults{moveAfter: 1, putIfAfter: -1}, incomplete: true, movedAtLeast: 1},
		{name: "third move fails", f: faults{moveAfter: 2, putIfAfter: -1}, incomplete: true, movedAtLeast: 2},
		{name: "final manifest write fails", f: faults{moveAfter: -1, putIfAfter: 1}, incomplete: true, movedAtLeast: 4},
	}
	opts := Options{TargetFileSize: 2 << 10, RowGroupRows: 200}
	for _, b := range cloneableBackends() {
		// The old content, published once per backend and copied for each case.
		base := b.new(t)
		publish(t, newTestLake(t, base, opts), []string{day}, "run-1", old)
		for _, tc := range tests {
			t.Run(b.name+"/"+tc.name, func(t *testing.T) {
				ctx := context.Background()
				store := newFaultStore(b.clone(t, base), noFaults())
				l := newTestLake(t, store, opts)
				m, err := l.Manifest(ctx, day)
				if err != nil {
					t.Fatal(err)
				}
				if m.Shards < 4 {
					t.Fatalf("the test needs at least 4 shards, got %d", m.Shards)
				}
				oldFiles := readPartition(t, store, day)
				beforeFiles := snapshot(t, store, messagesPrefix)
				beforeManifest := snapshot(t, store, manifestsPrefix)

				store.set(tc.f)
				s := stage(t, l, next)
				if _, err := publishStage(l, ctx, s, []string{day}, "run-2"); !errors.Is(err, errInjected) {
					t.Fatalf("publish err = %v, want the injected fault", err)
				}
				store.set(noFaults())

				if tc.beforeMove {
					if got := snapshot(t, store, messagesPrefix); !reflect.DeepEqual(got, beforeFiles) {
						t.Errorf("files changed: before %v, after %v", keys(beforeFiles), keys(got))
					}
					if got := snapshot(t, store, manifestsPrefix); !reflect.DeepEqual(got, beforeManifest) {
						t.Errorf("manifest changed")
					}
					if rep, err := l.Verify(ctx, day, day); err != nil || !rep.OK() {
						t.Errorf("verify of the old content: %+v, %v", rep, err)
					}
				} else {
					newShards := shardsOf(next, m.Shards)
					files := readPartition(t, store, day)
					keysOf(t, files) // fails the test on a key in two files
					moved := 0
					for name, rows := range files {
						switch {
						case reflect.DeepEqual(sortByKey(rows), sortByKey(newShards[name])):
							moved++
						case reflect.DeepEqual(rows, oldFiles[name]):
						default:
							t.Errorf("%s is neither the old nor the new shard", name)
						}
					}
					if moved < tc.movedAtLeast {
						t.Errorf("%d files moved, want at least %d", moved, tc.movedAtLeast)
					}
					rep, err := l.Verify(ctx, day, day)
					if err != nil {
						t.Fatal(err)
					}
					if got := problemKinds(rep); tc.incomplete && !got[ProblemIncompleteManifest] {
						t.Errorf("verify after an interrupted publish: %v, want incomplete-manifest", rep.Problems)
					}
				}

				// A rerun without faults, with the same stage.
				if _, err := publishStage(l, ctx, s, []string{day}, "run-3"); err != nil {
					t.Fatalf("rerun: %v", err)
				}
				var got []schema.Message
				for _, rows := range readPartition(t, store, day) {
					got = append(got, rows...)
				}
				if !reflect.DeepEqual(sortByKey(got), sortByKey(next)) {
					t.Errorf("after rerun %d rows, want %d", len(got), len(next))
				}
				if left := snapshot(t, store, stagingPrefix); len(left) != 0 {
					t.Errorf("staging left after rerun: %v", keys(left))
				}
				if rep, err := l.Verify(ctx, day, day); err != nil || !rep.OK() {
					t.Errorf("verify after rerun: %+v, %v", rep, err)
				}
				if m2, err := l.Manifest(ctx, day); err != nil || m2.Shards != m.Shards {
					t.Errorf("after rerun manifest %+v, %v; want %d shards", m2, err, m.Shards)
				}
			})
		}
	}
}

// shardsOf splits rows into shard files by the documented rule, fnv-1a-64(key) mod p.
func shardsOf(rows []schema.Message, p int) map[string][]schema.Message {
	out := make(map[string][]schema.Message)
	for _, r := range rows {
		h := fnv.New64a()
		h.Write([]byte(r.MessageKey))
		name := fmt.Sprintf("part-%05d-of-%05d.parquet", h.Sum64()%uint64(p), p)
		out[name] = append(out[name], r)
	}
	return out
}

func problemKinds(r *Report) map[string]bool {
	out := make(map[string]bool)
	for _, p := range r.Problems {
		out[p.Kind] = true
	}
	return out
}
