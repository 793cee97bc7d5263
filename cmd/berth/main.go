// Command berth is the berth gateway and its operator CLI.
//
//	berth chat            talk to an agent in this terminal
//	berth run             run the gateway with the configured channels
//	berth image build     build the agent image locally
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `berth: a chat-bot gateway that runs each conversation's agent in its own container

Usage:
  berth chat [flags]          talk to an agent in this terminal (builds the agent image if needed)
  berth run [flags]           run the gateway with the channels configured in the environment
  berth image build [flags]   build the agent image locally (no registry needed)
  berth version

Run 'berth <command> -h' for a command's flags.
`

// errUsage marks a command-line mistake: exit code 2.
var errUsage = errors.New("usage")

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	var ee exitError
	switch {
	case err == nil:
	case errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case errors.As(err, &ee):
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(os.Stderr, "berth:", ee.err)
		}
		os.Exit(ee.code)
	default:
		fmt.Fprintln(os.Stderr, "berth:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "chat":
		return cmdChat(ctx, rest, stdin, stdout, stderr)
	case "run":
		return cmdRun(ctx, rest, stdout, stderr)
	case "image":
		if len(rest) == 0 || rest[0] != "build" {
			fmt.Fprintln(stderr, "usage: berth image build [flags]")
			return errUsage
		}
		return cmdImageBuild(ctx, rest[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "berth", version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "berth: unknown command %q\n\n%s", cmd, usage)
	return errUsage
}
