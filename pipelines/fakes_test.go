package pipelines_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
)

type rawMessage = json.RawMessage

func pathEscape(s string) string { return url.PathEscape(s) }

// fetchPage asks the wrapped handler for one page of the same conversations query.
func fetchPage(next http.Handler, r *http.Request, page, size int) []rawMessage {
	q := r.URL.Query()
	q.Set("page_number", fmt.Sprint(page))
	q.Set("page_size", fmt.Sprint(size))
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = q.Encode()
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r2)
	var body struct {
		ResponseObject struct {
			Conversations []rawMessage `json:"conversations"`
		} `json:"responseObject"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
		return nil
	}
	return body.ResponseObject.Conversations
}

// writeCanonical answers with the canonical body, without total_elements.
func writeCanonical(w http.ResponseWriter, msgs []rawMessage, page, size int) {
	if msgs == nil {
		msgs = []rawMessage{}
	}
	body := map[string]any{
		"status":         map[string]any{"code": 1000, "desc": "SUCCESS"},
		"responseObject": map[string]any{"conversations": msgs, "page_number": page, "page_size": size},
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}
