package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/chatlake/chatlake/sim"
)

// runSim serves the simulator until the context ends (Ctrl-C, SIGTERM).
func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	o := sim.DefaultOptions()
	o.RegisterFlags(fs)
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	srv, ln, hs, err := listenSim(o, *addr)
	if err != nil {
		return usagef("sim: %v", err)
	}
	fmt.Fprintf(stdout, "Technowiz simulator on http://%s  customer %s  bot %s\n", ln.Addr(), o.CustomerID, o.BotKey)
	if o.APIKey == sim.DefaultAPIKey {
		// The simulator's default key is a public test value, not a secret.
		fmt.Fprintf(stdout, "export %s=%s\n", apiKeyEnv, sim.DefaultAPIKey)
	} else {
		fmt.Fprintf(stdout, "It accepts the key given with -api-key; export it as %s.\n", apiKeyEnv)
	}
	fmt.Fprintf(stdout, "Selectors covering every user:")
	for _, s := range srv.Selectors() {
		fmt.Fprintf(stdout, " --users-where %s=%s", s.Name, s.Value)
	}
	fmt.Fprintln(stdout)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return hs.Shutdown(sctx)
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// listenSim makes the simulator and its HTTP server listening on addr; the caller serves it.
func listenSim(o sim.Options, addr string) (*sim.Server, net.Listener, *http.Server, error) {
	srv, err := sim.New(o)
	if err != nil {
		return nil, nil, nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return srv, ln, &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}, nil
}
