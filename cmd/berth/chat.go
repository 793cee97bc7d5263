package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"golang.org/x/term"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/terminal"
)

// defaultGroup is the agent group `berth chat` talks to.
const defaultGroup = "main"

// chatCommand is `berth chat`.
func (c *commandLine) chatCommand() *ffcli.Command {
	fs := c.flagSet("chat")
	var cfg config
	cfg.settings(fs, gatewaySettings...)
	cfg.verboseFlag(fs)
	group := fs.String("group", defaultGroup, "agent group to talk to (created if missing)")
	return c.command(leaf{fs: fs, usage: "chat [flags]", help: "talk to an agent in this terminal (builds the agent image if needed)", cfg: &cfg,
		run: func(ctx context.Context, _ []string) error {
			return cmdChat(ctx, cfg, *group, c.stdin, c.stdout, c.stderr)
		}})
}

// cmdChat runs a gateway with the terminal as its one channel, wired to group.
func cmdChat(ctx context.Context, cfg config, group string, stdin io.Reader, stdout, stderr io.Writer) error {
	interactive := isTerminal(stdin)
	user := os.Getenv("USER")
	if user == "" {
		user = "operator"
	}
	term := terminal.New(stdin, stdout, stderr, interactive, user)
	if interactive && isTerminal(stdout) {
		term.ShowStatus() // a status line only where a person watches it
	}
	g, closeAll, err := openGateway(ctx, cfg, stderr, func(*slog.Logger) ([]channels.Channel, error) {
		return []channels.Channel{term}, nil
	})
	if err != nil {
		return err
	}
	if err := g.WireTerminal(ctx, group); err != nil {
		return errors.Join(err, closeAll())
	}
	return runGateway(ctx, g, closeAll, func(ctx context.Context) error {
		if interactive {
			fmt.Fprintf(stdout, "berth: talking to agent group %q (provider %s). Ctrl-D to quit.\n", group, cfg.Provider)
		}
		if err := term.Run(ctx, g.Manager().Handle); err != nil {
			return err
		}
		// Input ended: answer everything that was accepted, then stop.
		wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		return g.Manager().WaitIdle(wctx)
	})
}

// isTerminal reports whether v (stdin, stdout) is a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
