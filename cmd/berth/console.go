package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session/console"
)

// consoleTokenCommand is `berth console token`: it makes the web
// console's token when there is none, or a new one with --rotate, and
// prints it once. Only its hash is kept, so it cannot be printed again.
func (c *commandLine) consoleTokenCommand() *ffcli.Command {
	fs := c.flagSet("token")
	var cfg config
	cfg.settings(fs, flagHome)
	rotate := fs.Bool("rotate", false, "replace the token: the old one stops working at once, in a running gateway too")
	return c.command(leaf{fs: fs, usage: "console token [--rotate]", help: "make (or with --rotate, replace) the web console's access token and print it once", cfg: &cfg,
		run: func(context.Context, []string) error {
			home := paths.Home(cfg.Home)
			has, err := console.HasToken(home)
			if err != nil {
				return err
			}
			if has && !*rotate {
				return exitError{code: 1, err: errors.New("a console token is set; only its hash is kept, so it cannot be shown again: " +
					"berth console token --rotate makes a new one (the old one stops working)")}
			}
			tok, err := console.NewToken(home)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.stderr, "berth: the console token (shown once; log in with it, or send it as Authorization: Bearer):")
			_, err = fmt.Fprintln(c.stdout, tok)
			return err
		}})
}
