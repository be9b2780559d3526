package pipelines

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/transform"
)

// pseudoSource is the API source of a pipeline with pseudonymisation or redaction: the
// pipeline asks for a user's conversations by pseudonym; the API is asked by raw id; every
// message is rewritten (transform.RewriteMessage) before the pipeline sees it; an error names
// the pseudonym, never the raw id.
type pseudoSource struct {
	inner conversationSource
	q     *pseudo
}

func (s *pseudoSource) ScanUsers(ctx context.Context, sels []extract.Selector, fn func(extract.Selector, *extract.User) error) error {
	return s.inner.ScanUsers(ctx, sels, fn)
}

func (s *pseudoSource) Conversations(ctx context.Context, userID string, w extract.Window, fn func(extract.Page) error) error {
	raw := userID
	if s.q.pseudonymized() {
		r, ok := s.q.rawID(userID)
		if !ok {
			return fmt.Errorf("user %s: this run does not know its raw id", userID)
		}
		raw = r
	}
	err := s.inner.Conversations(ctx, raw, w, func(pg extract.Page) error {
		for i := range pg.Messages {
			pg.Messages[i] = transform.RewriteMessage(pg.Messages[i], s.q.ps, s.q.red)
		}
		return fn(pg)
	})
	if err != nil && s.q.pseudonymized() {
		err = scrub(err, raw, userID)
	}
	return err
}

// Stats passes on the inner source's counters.
func (s *pseudoSource) Stats() extract.Stats {
	if st, ok := s.inner.(statsSource); ok {
		return st.Stats()
	}
	return extract.Stats{}
}

// scrubbedError is an error whose text names a pseudonym instead of a raw id; errors.Is and
// errors.As see the original.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrub replaces every written form of raw in err's text (as is, quoted, URL-escaped) by
// pseudonym.
func scrub(err error, raw, pseudonym string) error {
	msg := err.Error()
	forms := []string{raw, url.PathEscape(raw), url.QueryEscape(raw), strings.Trim(strconv.Quote(raw), `"`),
		strings.Trim(strconv.QuoteToASCII(raw), `"`)}
	for _, f := range forms {
		if f != "" {
			msg = strings.ReplaceAll(msg, f, pseudonym)
		}
	}
	return &scrubbedError{msg: msg, err: err}
}
