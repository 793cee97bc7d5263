package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"golang.org/x/sync/errgroup"

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
	g, err := openGateway(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer g.close()
	if chans, err = configuredChannels(cfg, g.log); err != nil {
		return err
	}
	for _, ch := range chans {
		g.mgr.AddChannel(ch)
	}
	return serve(ctx, g, chans, func(ctx context.Context) error {
		<-ctx.Done()
		return nil
	})
}

// serve runs the session manager and the channels until main returns or
// ctx ends, then stops every container it started.
func serve(ctx context.Context, g *gateway, chans []channels.Channel, main func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if g.obs != nil {
		g.obs.setChannels(chans)
	}
	eg, ctx := errgroup.WithContext(ctx)
	ready := make(chan struct{})
	eg.Go(func() error { return g.mgr.Run(ctx, ready) })
	select {
	case <-ready:
	case <-ctx.Done():
		return eg.Wait()
	}
	for _, ch := range chans {
		if ch.Type() == "terminal" {
			continue // driven by main
		}
		// Where each conversation left off, read before the channel runs.
		catchUp, err := g.mgr.PrepareBackfill(ctx, ch)
		if err != nil {
			return err
		}
		eg.Go(func() error {
			if err := ch.Run(ctx, g.mgr.Handle); err != nil {
				return fmt.Errorf("%s channel: %w", ch.Type(), err)
			}
			return nil
		})
		// Catch up on what was posted while berth was not listening.
		go func() {
			if err := catchUp(ctx); err != nil && ctx.Err() == nil {
				g.log.Warn("backfill", "channel", ch.Type(), "err", err)
			}
		}()
	}
	eg.Go(func() error {
		defer cancel()
		return main(ctx)
	})
	err := eg.Wait()
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	g.mgr.Shutdown(sctx)
	return err
}
