package metrics

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/push"
)

// DefaultPushTimeout bounds Push when PushOptions.Timeout is zero.
const DefaultPushTimeout = 10 * time.Second

// PushOptions configures Push. The zero value and nil are the defaults.
type PushOptions struct {
	// Job is the Pushgateway's job label; default "chatlake".
	Job string
	// Timeout bounds the push, connection included; default DefaultPushTimeout.
	Timeout time.Duration
	// Client sends the request; default a new http.Client.
	Client *http.Client
}

// Push sends r's metrics to the Pushgateway at url ("http://pushgateway:9091") with PUT, so
// they replace every metric of the run's group: job, bot, customer, kind (and shard, so that
// the shards of one run do not overwrite each other). It gives up after the timeout.
func Push(ctx context.Context, url string, r Run, o *PushOptions) error {
	var opts PushOptions
	if o != nil {
		opts = *o
	}
	if opts.Timeout < 0 {
		return fmt.Errorf("metrics: PushOptions.Timeout is %s, want 0 (the default) or more", opts.Timeout)
	}
	if opts.Job == "" {
		opts.Job = "chatlake"
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultPushTimeout
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	g, err := gather(r, nil)
	if err != nil {
		return err
	}
	p := push.New(url, opts.Job).Gatherer(g).Client(opts.Client)
	for k, v := range r.labels() {
		p = p.Grouping(k, v)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if err := p.PushContext(ctx); err != nil {
		return fmt.Errorf("metrics: push to %s: %w", url, err)
	}
	return nil
}
