package pipelines

import (
	"context"
	"slices"
	"strings"

	"github.com/chatlake/chatlake/load"
)

// The lake's mode (load.LakeMode): a lake is written with or without pseudonymisation (and one
// key), with or without text redaction, from its first run on.

// wantMode is the lake mode this pipeline writes.
func (p *Pipeline) wantMode() load.LakeMode {
	m := load.LakeMode{Created: p.o.Clock().UTC(), RunID: p.o.RunID}
	if f := p.lake.TableFormat(); f != load.TableFormatHive {
		m.TableFormat, m.Catalog = f, p.lake.CatalogIdentity()
	}
	if p.pseudo != nil {
		m.RedactText = p.pseudo.red != nil
	}
	if p.pseudo.pseudonymized() {
		m.Pseudonymized, m.KeyFingerprint = true, p.pseudo.ps.Fingerprint()
		m.PIIAttributes = p.pseudo.ps.PIIAttributes()
	}
	return m
}

// checkMode refuses, before anything is written, a run whose mode is not the lake's: another
// --table-format or --catalog, with or without --pseudonymize, another key, or (exporting) with or without
// --redact-text, or PII attributes that leave out one the lake's record names. A lake
// without a mode record was written with none of them: a run with one of them is refused if
// the lake holds anything (a state or a plan).
func (p *Pipeline) checkMode(ctx context.Context, exporting bool) error {
	have, err := p.lake.ReadMode(ctx)
	if err != nil {
		return err
	}
	want := p.wantMode()
	if have == nil {
		if !want.Pseudonymized && (!exporting || !want.RedactText) && want.TableFormat == "" {
			return nil
		}
		st, err := loadState(ctx, p.lake)
		if err != nil {
			return err
		}
		plans, err := p.lake.Plans(ctx)
		if err != nil {
			return err
		}
		if st.exists() || len(plans) > 0 {
			if want.TableFormat != "" {
				return badInput("--table-format %s: the lake already holds a Hive layout's data: a lake keeps the table format of its first run; export into a new lake", want.TableFormat)
			}
			return badInput("the lake already holds data written without --pseudonymize and --redact-text: a lake is written in one mode only; export into a new lake")
		}
		return nil
	}
	switch {
	case have.Tables() != want.Tables():
		return badInput("--table-format %s: the lake's tables are %s: a lake keeps the table format of its first run (run with --table-format %s, or export into a new lake)",
			want.Tables(), have.Tables(), have.Tables())
	case have.Catalog != "" && have.Catalog != want.Catalog:
		return badInput("--catalog %s: the lake's tables are in the catalog %s: run with that --catalog", want.Catalog, have.Catalog)
	case have.Pseudonymized && !want.Pseudonymized:
		return badInput("the lake is pseudonymised (key fingerprint %s): run with --pseudonymize and its key", have.KeyFingerprint)
	case !have.Pseudonymized && want.Pseudonymized:
		return badInput("the lake is not pseudonymised: --pseudonymize cannot be used on it")
	case have.Pseudonymized && have.KeyFingerprint != want.KeyFingerprint:
		return badInput("--pseudonymize: the key's fingerprint is %s, the lake's is %s: another key", want.KeyFingerprint, have.KeyFingerprint)
	case exporting && have.Pseudonymized && !containsAll(want.PIIAttributes, have.PIIAttributes):
		return badInput("--pii-attributes %s leaves out names the lake hashes (%s): a run may add names, not drop them",
			strings.Join(want.PIIAttributes, ","), strings.Join(have.PIIAttributes, ","))
	case exporting && have.RedactText != want.RedactText:
		if have.RedactText {
			return badInput("the lake's text is redacted: run with --redact-text")
		}
		return badInput("the lake's text is not redacted: --redact-text cannot be used on it")
	}
	return nil
}

func containsAll(set, names []string) bool {
	for _, n := range names {
		if !slices.Contains(set, n) {
			return false
		}
	}
	return true
}

// recordMode writes the lake's mode record when this pipeline has a mode and the lake none yet
// (the first run into a new lake, under the lock). A record another process wrote first must
// agree.
func (p *Pipeline) recordMode(ctx context.Context) error {
	want := p.wantMode()
	if !want.Pseudonymized && !want.RedactText && want.TableFormat == "" {
		return nil
	}
	have, created, err := p.lake.CreateMode(ctx, want)
	if err != nil || created {
		return err
	}
	if have.Pseudonymized != want.Pseudonymized || have.KeyFingerprint != want.KeyFingerprint || have.RedactText != want.RedactText ||
		have.Tables() != want.Tables() || have.Catalog != want.Catalog {
		return badInput("another run wrote the lake's mode meanwhile, and it is not this run's")
	}
	return nil
}
