package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chatlake/chatlake/load/storage"
)

// lakeModeFormat is the version of LakeMode's encoding.
const lakeModeFormat = 1

// LakeMode is the lake's record of how its rows were written, at ModePath. It is written once,
// create-only, by the first run that needs it (a run with pseudonymisation, text redaction or
// Iceberg tables), and never changed: every later run must match it. A lake without one was
// written with none of them.
type LakeMode struct {
	Format int `json:"format"`
	// Pseudonymized: user ids are HMAC-SHA256 pseudonyms and PII attributes are hashed.
	Pseudonymized bool `json:"pseudonymized"`
	// KeyFingerprint names the pseudonym key (transform.Pseudonymizer.Fingerprint); never the key.
	KeyFingerprint string `json:"key_fingerprint,omitempty"`
	// PIIAttributes are the attribute names hashed (as given, lower case).
	PIIAttributes []string `json:"pii_attributes,omitempty"`
	// RedactText: e-mail addresses, phone numbers and card numbers in text are replaced by tokens.
	RedactText bool `json:"redact_text"`
	// TableFormat is TableFormatIceberg for a lake of Iceberg tables; "" (or TableFormatHive)
	// for the Hive layout.
	TableFormat string `json:"table_format,omitempty"`
	// Catalog names an Iceberg lake's catalog (icetable.Identity: no password), so that the
	// commands that work on the lake open the same one.
	Catalog string    `json:"catalog,omitempty"`
	Created time.Time `json:"created"`
	RunID   string    `json:"run_id"`
}

// ReadMode reads the lake's mode record; a lake without one gives nil and no error.
func (l *Lake) ReadMode(ctx context.Context) (*LakeMode, error) {
	data, _, err := l.store.Get(ctx, ModePath)
	if errors.Is(err, storage.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ModePath, err)
	}
	var m LakeMode
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("reading %s: %w", ModePath, err)
	}
	if m.Format != lakeModeFormat {
		return nil, fmt.Errorf("reading %s: format %d: %w (it reads %d)", ModePath, m.Format, ErrUnknownFormat, lakeModeFormat)
	}
	return &m, nil
}

// CreateMode writes m as the lake's mode record unless one exists. It returns the stored record
// (m, or what another process wrote first) and whether this call created it.
func (l *Lake) CreateMode(ctx context.Context, m LakeMode) (*LakeMode, bool, error) {
	m.Format = lakeModeFormat
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, false, err
	}
	_, err = l.store.PutIf(ctx, ModePath, append(data, '\n'), "")
	if err == nil {
		return &m, true, nil
	}
	if !errors.Is(err, storage.ErrPrecondition) {
		return nil, false, fmt.Errorf("writing %s: %w", ModePath, err)
	}
	stored, err := l.ReadMode(ctx)
	if err == nil && stored == nil {
		err = fmt.Errorf("writing %s: it exists, then does not", ModePath)
	}
	return stored, false, err
}

// Tables is the table format the record names: TableFormatHive for a record without one.
func (m *LakeMode) Tables() string {
	if m.TableFormat == "" {
		return TableFormatHive
	}
	return m.TableFormat
}
