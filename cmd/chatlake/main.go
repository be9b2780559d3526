// Command chatlake exports Technowiz chatbot conversations into a Parquet data lake.
// Run `chatlake help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		cancel(&signalError{sig: s.(syscall.Signal)})
		<-sigs // a second signal does not wait for the cleanup
		os.Exit(signalExit(s.(syscall.Signal)))
	}()
	setMemoryLimit(os.Getenv, os.Args[1:])
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	signal.Stop(sigs)
	os.Exit(exitCode(err, os.Stderr))
}
