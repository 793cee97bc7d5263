package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/berth-dev/berth/channels"
)

// runCommand is `berth run`.
func (c *commandLine) runCommand() *ffcli.Command {
	fs := c.flagSet("run")
	var cfg config
	cfg.settings(fs, gatewaySettings...)
	cfg.verboseFlag(fs)
	return c.command(leaf{fs: fs, usage: "run [flags]", help: "run the gateway with the channels configured in the environment", cfg: &cfg,
		run: func(ctx context.Context, _ []string) error {
			cfg.Verbose = true
			return cmdRun(ctx, cfg, c.stdout, c.stderr)
		}})
}

// cmdRun runs the gateway with the channels cfg has credentials for.
func cmdRun(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	// Check the tokens' shape before anything slow happens.
	chans, err := configuredChannels(cfg, nil)
	if err != nil {
		return err
	}
	if len(chans) == 0 {
		return errors.New("no channel configured: set SLACK_BOT_TOKEN and SLACK_APP_TOKEN, or DISCORD_BOT_TOKEN (or try berth chat)")
	}
	g, closeAll, err := openGateway(ctx, cfg, stderr, func(log *slog.Logger) ([]channels.Channel, error) {
		return configuredChannels(cfg, log)
	})
	if err != nil {
		return err
	}
	// Once the engine answered: a gateway that cannot start says only why.
	fmt.Fprintln(stderr, providerStartLine(cfg))
	return runGateway(ctx, g, closeAll, nil)
}
