package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/terminal"
)

// defaultGroup is the agent group `berth chat` talks to.
const defaultGroup = "main"

func cmdChat(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("berth chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	commonFlags(fs, &cfg)
	group := fs.String("group", defaultGroup, "agent group to talk to (created if missing)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.resolve(fs); err != nil {
		return err
	}
	interactive := isTerminal(stdin)
	user := os.Getenv("USER")
	if user == "" {
		user = "operator"
	}
	term := terminal.New(stdin, stdout, stderr, interactive, user)
	g, closeAll, err := openGateway(ctx, cfg, stderr, func(*slog.Logger) ([]channels.Channel, error) {
		return []channels.Channel{term}, nil
	})
	if err != nil {
		return err
	}
	if err := g.WireTerminal(ctx, *group); err != nil {
		return errors.Join(err, closeAll())
	}
	return runGateway(ctx, g, closeAll, func(ctx context.Context) error {
		if interactive {
			fmt.Fprintf(stdout, "berth: talking to agent group %q (provider %s). Ctrl-D to quit.\n", *group, cfg.Provider)
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

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
