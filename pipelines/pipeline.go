package pipelines

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/schema"
	"github.com/chatlake/chatlake/transform"
)

// conversationSource is what a pipeline needs of the API; *extract.Client has it.
type conversationSource interface {
	ListUsers(ctx context.Context, sels []extract.Selector) ([]extract.User, error)
	Conversations(ctx context.Context, userID string, w extract.Window, fn func(extract.Page) error) error
}

// statsSource is the optional ability of a source to report its request counters.
type statsSource interface {
	Stats() extract.Stats
}

// Options configure a Pipeline. Zero values take the defaults documented on each field.
type Options struct {
	CustomerID string             // required
	BotKey     string             // required
	Selectors  []extract.Selector // required: the union of their users is exported

	Concurrency   int           // users fetched at once within a unit; default 8
	UnitDays      int           // days per unit of work; default 31
	ParallelUnits int           // units extracted at once; default 2
	Settle        time.Duration // a day is closed this long after its end; default 1h
	Lookback      int           // nightly: days already exported that are read again (late messages); 0 = none
	LockLease     time.Duration // lease of the lake's lock, renewed while the run lives; default 2m

	Clock         func() time.Time // default time.Now
	Logger        *slog.Logger     // default: discard
	Progress      io.Writer        // where progress lines go; nil: none
	ProgressEvery time.Duration    // default 10s
	Terminal      bool             // Progress is a terminal: redraw one line
	RunID         string           // default: time-based and random
}

func (o *Options) setDefaults() error {
	switch {
	case o.CustomerID == "":
		return badInput("the customer id is required")
	case o.BotKey == "":
		return badInput("the bot key is required")
	case len(o.Selectors) == 0:
		return badInput("at least one user selector (NAME=VALUE) is required")
	case o.Concurrency < 0, o.UnitDays < 0, o.ParallelUnits < 0, o.Lookback < 0, o.Settle < 0:
		return badInput("concurrency, unit days, parallel units, lookback and settle must not be negative")
	}
	if o.Concurrency == 0 {
		o.Concurrency = 8
	}
	if o.UnitDays == 0 {
		o.UnitDays = 31
	}
	if o.ParallelUnits == 0 {
		o.ParallelUnits = 2
	}
	if o.Settle == 0 {
		o.Settle = time.Hour
	}
	if o.LockLease == 0 {
		o.LockLease = 2 * time.Minute
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ProgressEvery == 0 {
		o.ProgressEvery = 10 * time.Second
	}
	if o.RunID == "" {
		o.RunID = NewRunID(o.Clock())
	}
	return nil
}

// NewRunID makes a run id that sorts by time: 20240502T101532Z-9f3c1a2b.
func NewRunID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// Pipeline exports from one API source into one lake.
type Pipeline struct {
	src  conversationSource
	lake *load.Lake
	o    Options
}

// New checks the options and returns a Pipeline.
func New(src conversationSource, lake *load.Lake, o Options) (*Pipeline, error) {
	if src == nil || lake == nil {
		return nil, errors.New("pipelines: a source and a lake are required")
	}
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	return &Pipeline{src: src, lake: lake, o: o}, nil
}

// RunID is the id this pipeline's runs write into their rows.
func (p *Pipeline) RunID() string { return p.o.RunID }

// exportUnits extracts and publishes units, at most ParallelUnits at once. A failed unit does
// not stop the others; done is called after each unit is published. The result lists the
// failures.
func (p *Pipeline) exportUnits(ctx context.Context, users []extract.User, units []Unit, sum *Summary,
	done func(ctx context.Context, u Unit) error) error {
	prog := newProgress(p.o, len(units), sum)
	stop := prog.start(ctx)
	defer stop()

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.o.ParallelUnits)
	var mu sync.Mutex
	var failures []error
	for _, u := range units {
		g.Go(func() error {
			err := p.exportUnit(gctx, users, u, sum)
			if err == nil && done != nil {
				err = done(gctx, u)
			}
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err() // interrupted: the run stops
				}
				if fatal(err) {
					return fmt.Errorf("unit %s: %w", u, err) // every unit would fail the same way
				}
				p.o.Logger.Error("unit failed", "unit", u.String(), "error", err.Error())
				sum.unitFailed(u)
				mu.Lock()
				failures = append(failures, fmt.Errorf("unit %s: %w", u, err))
				mu.Unlock()
				return nil
			}
			sum.unitDone(u)
			prog.unitDone()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(failures) > 0 {
		sort.Slice(failures, func(i, j int) bool { return failures[i].Error() < failures[j].Error() })
		return fmt.Errorf("%w: %d of %d units failed; first: %w", ErrIncomplete, len(failures), len(units), failures[0])
	}
	return nil
}

// fatal tells the errors that stop the whole run: the configuration or the client is wrong,
// not one user or one window.
func fatal(err error) bool {
	for _, target := range []error{extract.ErrUnauthorized, extract.ErrForbidden, extract.ErrInvalidBot,
		extract.ErrInvalidDate, extract.ErrInvalidPage} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// exportUnit extracts every user over the unit's window into a local stage and publishes the
// unit's days. If any user fails, nothing of the unit is published.
func (p *Pipeline) exportUnit(ctx context.Context, users []extract.User, u Unit, sum *Summary) error {
	stage, err := p.lake.NewStage()
	if err != nil {
		return err
	}
	defer stage.Close()

	start, end := u.Window()
	w := extract.Window{Start: start, End: end}
	tsrc := transform.Source{CustomerID: p.o.CustomerID, BotKey: p.o.BotKey, RunID: p.o.RunID, ExtractedAt: p.o.Clock().UTC()}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.o.Concurrency)
	for i := range users {
		user := &users[i]
		g.Go(func() error {
			n, err := p.exportUser(gctx, tsrc, user, w, stage, sum)
			if errors.Is(err, extract.ErrInvalidUser) {
				p.o.Logger.Warn("user skipped: the API says the user id is invalid (1002)", "user", user.ID, "unit", u.String())
				sum.userSkipped(user.ID)
				return nil
			}
			if err != nil {
				return fmt.Errorf("conversations of user %s in %s: %w", user.ID, w, err)
			}
			sum.addMessages(n)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	stats, err := p.lake.Publish(ctx, stage, u.Days(), p.o.RunID)
	if err != nil {
		return fmt.Errorf("publishing %s: %w", u, err)
	}
	sum.addPublished(stats)
	p.o.Logger.Info("unit published", "unit", u.String(), "days", stats.Days, "files", stats.Files, "rows", stats.Rows, "bytes", stats.Bytes)
	return nil
}

// exportUser pages one user's conversations over w into the stage and returns the number of
// rows staged.
func (p *Pipeline) exportUser(ctx context.Context, tsrc transform.Source, user *extract.User, w extract.Window,
	stage *load.Stage, sum *Summary) (int, error) {
	count := func(ctx context.Context, at time.Time, id transform.Identity) (int, error) {
		return countAt(ctx, p.src, tsrc, user, at, id)
	}
	k := newKeyer(tsrc, user, w, count)
	n := 0
	err := p.src.Conversations(ctx, user.ID, w, func(pg extract.Page) error {
		rows, err := k.add(ctx, pg)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		n += len(rows)
		return stage.Add(rows)
	})
	sum.addExactness(k.outside, k.repeated, k.requery)
	return n, err
}

// usersTable turns the listed users into rows of the users table.
func (p *Pipeline) usersTable(users []extract.User) ([]schema.User, error) {
	tsrc := transform.Source{CustomerID: p.o.CustomerID, BotKey: p.o.BotKey, RunID: p.o.RunID, ExtractedAt: p.o.Clock().UTC()}
	rows := make([]schema.User, 0, len(users))
	for _, u := range users {
		r, err := transform.FlattenUser(tsrc, u)
		if err != nil {
			return nil, fmt.Errorf("user %s: %w", u.ID, err)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// listUsers lists the users and writes the users table snapshot of today's run.
func (p *Pipeline) listUsers(ctx context.Context, sum *Summary) ([]extract.User, error) {
	users, err := p.src.ListUsers(ctx, p.o.Selectors)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	sum.Users = len(users)
	rows, err := p.usersTable(users)
	if err != nil {
		return nil, err
	}
	snapshot := dayString(p.o.Clock().UTC())
	if err := p.lake.WriteUsers(ctx, snapshot, rows, p.o.RunID); err != nil {
		return nil, fmt.Errorf("writing the users snapshot %s: %w", snapshot, err)
	}
	p.o.Logger.Info("users listed", "users", len(users), "selectors", len(p.o.Selectors), "snapshot_date", snapshot)
	return users, nil
}
