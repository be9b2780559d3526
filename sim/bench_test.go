package sim_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chatlake/chatlake/sim"
)

// BenchmarkConversationsPage serves a full 500-message page of the heaviest user.
func BenchmarkConversationsPage(b *testing.B) {
	s, err := sim.New(sim.Options{Seed: 1, Clock: farFuture})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, convPath(s.Fixtures().StraddleUser)+"?"+window(defFrom(), defTo(), 2, 500).Encode(), nil)
	req.Header.Set("Authorization", "Basic "+sim.DefaultAPIKey)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
		b.SetBytes(int64(w.Body.Len()))
	}
}
