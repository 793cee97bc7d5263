// Command berth is the berth gateway and its operator CLI.
//
//	berth chat            talk to an agent in this terminal
//	berth run             run the gateway with the configured channels
//	berth image build     build the agent image locally
//	berth logs            read the gateway log (and agents' output)
//	berth status          what runs now
//	berth doctor          check the installation
//
// The command tree is in cli.go, the configuration every command resolves
// the same way in config.go.
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
	_ "time/tzdata" // groups' timezone keys load on a host without /usr/share/zoneinfo
)

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

// run runs the berth command line args.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := &commandLine{argv: args, stdin: stdin, stdout: stdout, stderr: stderr}
	root := c.root()
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, rootUsage(root))
		return nil
	}
	if err := root.Parse(args); errors.Is(err, flag.ErrHelp) {
		return err
	} else if err != nil {
		// Every command has an Exec, and ff reads no environment here:
		// this is a mistake on the command line, which the flag package
		// has printed with the command's usage.
		return errUsage
	}
	return root.Run(ctx)
}
