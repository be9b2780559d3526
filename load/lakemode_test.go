package load

import (
	"context"
	"testing"
	"time"
)

// TestLakeModeCreateOnce: the first record stays; a second CreateMode gets it back, not its own.
func TestLakeModeCreateOnce(t *testing.T) {
	ctx := context.Background()
	l := newTestLake(t, newMemStore(), Options{})
	if m, err := l.ReadMode(ctx); err != nil || m != nil {
		t.Fatalf("a new lake's mode: %v, %v", m, err)
	}
	first := LakeMode{Pseudonymized: true, KeyFingerprint: "0123456789abcdef", Created: time.Unix(0, 0).UTC(), RunID: "r1"}
	if _, created, err := l.CreateMode(ctx, first); err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	stored, created, err := l.CreateMode(ctx, LakeMode{Pseudonymized: false, RunID: "r2"})
	if err != nil || created || !stored.Pseudonymized || stored.KeyFingerprint != first.KeyFingerprint || stored.RunID != "r1" {
		t.Fatalf("second create: %+v %v %v", stored, created, err)
	}
	got, err := l.ReadMode(ctx)
	if err != nil || got.KeyFingerprint != first.KeyFingerprint || got.Format != lakeModeFormat {
		t.Fatalf("read: %+v %v", got, err)
	}
}
