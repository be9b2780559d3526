package pipelines_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/pipelines"
	"github.com/chatlake/chatlake/sim"
	"github.com/chatlake/chatlake/transform"
)

const nightlyKey = "nightly-key-0123456789abcdef"

func hmacHex(key, s string) string {
	h := hmac.New(sha256.New, []byte(key))
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

// TestPseudonymizedNightly: the nightly run of a pseudonymised lake owes a failing user under
// its pseudonym, with its raw id sealed in the state and in no file in clear; the next night
// exports it from the sealed id, and the lake is the truth under pseudonyms.
func TestPseudonymizedNightly(t *testing.T) {
	h := newHarness(t, simOptions(41, 20), nil)
	ps, err := transform.NewPseudonymizer([]byte(nightlyKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := h.sim.UserIDs(nil)
	victim := ids[2]
	h.failing.Store(&victim)
	withKey := func(o *pipelines.Options) { o.Pseudonymizer = ps }
	first := day(t, "2024-05-01")
	_, err = h.pipeline(h.client(nil), withKey).Nightly(context.Background(), first)
	if !errors.Is(err, pipelines.ErrIncomplete) || !strings.Contains(err.Error(), ps.ID(victim)) || strings.Contains(err.Error(), victim) {
		t.Fatalf("first night: %v; want incomplete, naming %s", err, ps.ID(victim))
	}
	st, err := pipelines.ReadState(context.Background(), h.lake)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := st.Owed[ps.ID(victim)]; !ok || o.SealedID == "" || len(st.Owed) != 1 {
		t.Fatalf("owed: %+v", st.Owed)
	}
	err = filepath.WalkDir(h.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".parquet") {
			return err
		}
		data, err := os.ReadFile(path)
		for _, id := range ids {
			if strings.Contains(string(data), id) {
				t.Errorf("raw id %s is in %s", id, path)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	h.failing.Store(nil)
	h.clock.Set(h.clock.Now().AddDate(0, 0, 1))
	if _, err := h.pipeline(h.client(nil), withKey).Nightly(context.Background(), first); err != nil {
		t.Fatalf("second night: %v", err)
	}
	truth := h.truth(first, h.clock.Now())
	victimRows := 0
	for i := range truth {
		if truth[i].ChannelUserID == victim {
			victimRows++
		}
		truth[i].ChannelUserID = hmacHex(nightlyKey, truth[i].ChannelUserID)
	}
	if victimRows == 0 {
		t.Fatal("the victim has no messages")
	}
	if diff := lakecheck.Compare(h.read(), truth); diff != "" {
		t.Fatal(diff)
	}
	if st, _ := pipelines.ReadState(context.Background(), h.lake); len(st.Owed) != 0 {
		t.Fatalf("still owed: %+v", st.Owed)
	}

	// Without the key, or with another, the lake is refused.
	other, _ := transform.NewPseudonymizer([]byte("other-key-0123456789abcdef"), nil)
	for name, mod := range map[string]func(*pipelines.Options){
		"no key":      nil,
		"another key": func(o *pipelines.Options) { o.Pseudonymizer = other },
	} {
		if _, err := h.pipeline(h.client(nil), mod).Nightly(context.Background(), first); !errors.Is(err, pipelines.ErrBadInput) {
			t.Errorf("%s: %v, want bad input", name, err)
		}
	}
}

// BenchmarkExportPseudonymized is BenchmarkExport with --pseudonymize and --redact-text.
func BenchmarkExportPseudonymized(b *testing.B) {
	so := sim.DefaultOptions()
	so.Seed, so.Users = 1, 100
	ps, err := transform.NewPseudonymizer([]byte(nightlyKey), nil)
	if err != nil {
		b.Fatal(err)
	}
	benchExport(b, so, extract.Options{Rate: 100000}, pipelines.Options{Concurrency: 8, Pseudonymizer: ps, RedactText: true})
}
