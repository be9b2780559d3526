package pipelines

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/schema"
	"github.com/chatlake/chatlake/transform"
)

// Pseudonymisation (Options.Pseudonymizer) and text redaction (Options.RedactText).
//
// In a pseudonymised lake the pipeline knows a user by its pseudonym everywhere: the plan's
// batch files, the batch done records, the state's owed users, the staged and published rows,
// the logs, the summary and the exit's errors. Only the API needs the raw id. The raw ids of a
// run's users are kept in the lake only encrypted with AES-256-GCM under a key derived from the
// pseudonym key (transform.Pseudonymizer.SealingKey), with a random nonce per object and the
// object's place as additional data: in each batch file (the list of raw ids, in the order of
// its users) and in each owed user's entry of the state (sealed_id). A run reads them back into
// memory (pseudonym -> raw id: one map entry per user of the plans it works on), and
// pseudoSource (pseudosource.go) turns pseudonyms back into raw ids for the Conversations API
// and rewrites each message (user ids hashed, text redacted) before Flatten sees it, so that
// message keys derive from the pseudonym. lakemode.go checks and records the lake's mode.

// pseudo is a pipeline's pseudonymisation and redaction; nil when neither is on.
type pseudo struct {
	ps   *transform.Pseudonymizer // nil: ids as they are
	red  *transform.Redactor      // nil: text as it is
	aead cipher.AEAD              // nil when ps is nil

	mu  sync.Mutex
	raw map[string]string // pseudonym -> raw id
}

func newPseudo(ps *transform.Pseudonymizer, redact bool) (*pseudo, error) {
	if ps == nil && !redact {
		return nil, nil
	}
	q := &pseudo{ps: ps, raw: map[string]string{}}
	if redact {
		q.red = transform.NewRedactor()
	}
	if ps != nil {
		block, err := aes.NewCipher(ps.SealingKey())
		if err != nil {
			return nil, err
		}
		if q.aead, err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// pseudonymized reports whether ids are pseudonymised.
func (q *pseudo) pseudonymized() bool { return q != nil && q.ps != nil }

// seal encrypts plain for the object named by aad: base64 of nonce || ciphertext.
func (q *pseudo) seal(plain []byte, aad string) (string, error) {
	nonce := make([]byte, q.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(q.aead.Seal(nonce, nonce, plain, []byte(aad))), nil
}

// open decrypts what seal made for aad.
func (q *pseudo) open(sealed, aad string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(b) < q.aead.NonceSize() {
		return nil, errors.New("not a sealed value")
	}
	n := q.aead.NonceSize()
	plain, err := q.aead.Open(nil, b[:n], b[n:], []byte(aad))
	if err != nil {
		return nil, errors.New("it does not decrypt with this key (tampered with, or moved from elsewhere)")
	}
	return plain, nil
}

func (q *pseudo) remember(pseudonym, raw string) {
	q.mu.Lock()
	q.raw[pseudonym] = raw
	q.mu.Unlock()
}

func (q *pseudo) rawID(pseudonym string) (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	r, ok := q.raw[pseudonym]
	return r, ok
}

// Additional data of the sealed values: where each lives.
func batchAAD(plan, attempt string, b int) string {
	return "chatlake batch users " + plan + "/" + attempt + "/" + strconv.Itoa(b)
}

func owedAAD(pseudonym string) string { return "chatlake owed user " + pseudonym }

// pseudonymizeUsers renames the listed users to their pseudonyms, remembering each raw id for
// the API calls and the sealed batch files, and returns the owed users whose raw id the state
// holds sealed (the others cannot be exported: they stay owed, with a warning).
func (p *Pipeline) pseudonymizeUsers(listed *userSet, owed map[string]load.Owed) map[string]load.Owed {
	q := p.pseudo
	listed.rename(func(raw string) string {
		id := q.ps.ID(raw)
		q.remember(id, raw)
		return id
	})
	known := make(map[string]load.Owed, len(owed))
	for id, o := range owed {
		if _, ok := q.rawID(id); ok {
			known[id] = o
			continue
		}
		raw, err := q.openOwed(id, o)
		if err != nil {
			p.o.Logger.Warn("an owed user cannot be exported: its raw id is not in the state; it stays owed", "user", id, "error", err.Error())
			continue
		}
		q.remember(id, raw)
		known[id] = o
	}
	return known
}

func (q *pseudo) openOwed(id string, o load.Owed) (string, error) {
	if o.SealedID == "" {
		return "", errors.New("no sealed_id")
	}
	raw, err := q.open(o.SealedID, owedAAD(id))
	if err != nil {
		return "", err
	}
	if q.ps.ID(string(raw)) != id {
		return "", errors.New("the sealed id is not this user's")
	}
	return string(raw), nil
}

// sealOwed gives every owed user of s that has none its sealed raw id (the state is about to be
// written). A user whose raw id this run does not know keeps none (and a warning).
func (p *Pipeline) sealOwed(s *load.State) {
	q := p.pseudo
	for id, o := range s.Owed {
		if o.SealedID != "" {
			continue
		}
		raw, ok := q.rawID(id)
		if !ok {
			p.o.Logger.Warn("an owed user's raw id is not known to this run: the next run cannot export it unless the User API lists it", "user", id)
			continue
		}
		sealed, err := q.seal([]byte(raw), owedAAD(id))
		if err != nil {
			p.o.Logger.Warn("sealing an owed user's id failed", "user", id, "error", err.Error())
			continue
		}
		o.SealedID = sealed
		s.Owed[id] = o
	}
}

// encodeBatch is a batch's users file: in a pseudonymised lake, the users under their
// pseudonyms plus their raw ids, in the same order, encrypted (BatchUsers.Sealed).
func (p *Pipeline) encodeBatch(plan, attempt string, b int, users []load.PlanUser) (*load.BatchUsers, error) {
	if !p.pseudo.pseudonymized() {
		return &load.BatchUsers{Users: users}, nil
	}
	raw := make([]string, len(users))
	for i, u := range users {
		r, ok := p.pseudo.rawID(u.ID)
		if !ok {
			return nil, fmt.Errorf("batch %d: the raw id of user %s is not known", b, u.ID)
		}
		raw[i] = r
	}
	plain, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	sealed, err := p.pseudo.seal(plain, batchAAD(plan, attempt, b))
	if err != nil {
		return nil, err
	}
	return &load.BatchUsers{Users: users, Sealed: sealed}, nil
}

// loadBatches reads the raw ids of every batch of plan into memory (pseudonymised lakes only),
// checking that each is the raw id of its pseudonym.
func (p *Pipeline) loadBatches(ctx context.Context, plan *load.Plan) error {
	if !p.pseudo.pseudonymized() {
		return nil
	}
	for b := range plan.Batches {
		sb, err := p.lake.ReadBatchUsers(ctx, plan, b)
		if err != nil {
			return err
		}
		if sb.Sealed == "" {
			return fmt.Errorf("reading the users of batch %d: it holds no sealed ids (written without --pseudonymize?)", b)
		}
		plain, err := p.pseudo.open(sb.Sealed, batchAAD(plan.ID, plan.Attempt, b))
		if err != nil {
			return fmt.Errorf("reading the users of batch %d: %w", b, err)
		}
		var raw []string
		if err := json.Unmarshal(plain, &raw); err != nil || len(raw) != len(sb.Users) {
			return fmt.Errorf("reading the users of batch %d: the sealed ids do not match its users", b)
		}
		for i, u := range sb.Users {
			if p.pseudo.ps.ID(raw[i]) != u.ID {
				return fmt.Errorf("reading the users of batch %d: the sealed id of user %s is not its own", b, u.ID)
			}
			p.pseudo.remember(u.ID, raw[i])
		}
	}
	return nil
}

// pseudonymizedUser is what becomes of each row of the users table (userSet.usersTable): in a
// pseudonymised lake it is pseudonymised (transform.Pseudonymizer.User), and an error names
// the pseudonym, never the raw id; otherwise nil (rows as they are).
func (p *Pipeline) pseudonymizedUser() func(raw string, row *schema.User, err error) error {
	if !p.pseudo.pseudonymized() {
		return nil
	}
	return func(raw string, row *schema.User, err error) error {
		if err == nil {
			err = p.pseudo.ps.User(row)
		}
		if err != nil {
			id := p.pseudo.ps.ID(raw)
			return scrub(fmt.Errorf("user %s: %w", id, err), raw, id)
		}
		return nil
	}
}

// forgetIDs are the ids Forget looks for: the pseudonyms of the raw ids in a pseudonymised lake.
func (p *Pipeline) forgetIDs(ids []string) []string {
	if !p.pseudo.pseudonymized() {
		return ids
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = p.pseudo.ps.ID(id)
	}
	return out
}
