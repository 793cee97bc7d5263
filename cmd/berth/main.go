// Command berth is the berth gateway and its operator CLI.
//
//	berth chat            talk to an agent in this terminal
//	berth run             run the gateway with the configured channels
//	berth image build     build the agent image locally
//	berth logs            read the gateway log (and agents' output)
//	berth status          what runs now
//	berth doctor          check the installation
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
  berth logs [-f] [flags]     print the gateway log, filtered; --containers adds the agents' output
  berth status [flags]        gateway, channels, sessions, containers and pending messages on one screen
  berth doctor [flags]        check Docker, the image, the store, tokens, allowlist and disk; say how to fix
  berth groups <verb>         agent groups: list, show, create, delete
  berth wirings <verb>        which channels reach which group: list, create, delete
  berth sessions <verb>       conversations and their containers: list, show, stop
  berth users list            known users and their roles
  berth roles <verb>          grant or revoke a role
  berth dropped list          messages berth did not route, and why
  berth pair                  print a one-time code; sending !pair <code> in chat makes you an owner
  berth discord invite-url    the link that adds the Discord bot to a server with the permissions berth needs
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
	case "logs":
		return cmdLogs(ctx, rest, stdout, stderr)
	case "status":
		return cmdStatus(ctx, rest, stdout, stderr)
	case "doctor":
		return cmdDoctor(ctx, rest, stdout, stderr)
	case "groups", "wirings", "sessions", "users", "roles", "dropped", "pair":
		return cmdAdmin(ctx, cmd, rest, stdout, stderr)
	case "discord":
		return cmdDiscord(ctx, rest, stdout, stderr)
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
