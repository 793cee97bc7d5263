package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"

	"github.com/berth-dev/berth/channels"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("berth run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	commonFlags(fs, &cfg)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Verbose = true
	if err := cfg.resolve(fs); err != nil {
		return err
	}
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
	return runGateway(ctx, g, closeAll, nil)
}
