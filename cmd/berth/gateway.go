package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/container/credproxy"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway"
)

// openGateway opens the gateway cfg describes, logging as berth does, with
// the channels chans returns (given the gateway's logger). closeAll closes
// the gateway, then the log.
func openGateway(ctx context.Context, cfg config, stderr io.Writer, chans func(*slog.Logger) ([]channels.Channel, error)) (_ *gateway.Gateway, closeAll func() error, err error) {
	log, closeLog, err := newLogger(cfg.Home, stderr, cfg.Verbose, secretValues(cfg))
	if err != nil {
		return nil, nil, err
	}
	chs, err := chans(log)
	if err != nil {
		closeLog()
		return nil, nil, err
	}
	g, err := gateway.Open(ctx, gatewayConfig(cfg, chs, log, stderr))
	if err != nil {
		closeLog()
		return nil, nil, err
	}
	return g, func() error {
		defer closeLog()
		return g.Close()
	}, nil
}

// gatewayConfig is the gateway cfg describes.
func gatewayConfig(cfg config, chans []channels.Channel, log *slog.Logger, progress io.Writer) gateway.Config {
	return gateway.Config{
		Home: paths.Home(cfg.Home), Image: cfg.Image, Images: cfg.Images, Provider: cfg.Provider, ProviderFrom: cfg.ProviderWhy,
		IdleTimeout: cfg.IdleTimeout, MaxRunning: cfg.MaxRunning,
		Kubernetes: gatewayKube(cfg), DockerHost: cfg.DockerHost, RunnerBin: cfg.RunnerBin, Busybox: cfg.Busybox, Progress: progress, BuildOutput: buildOutput(cfg, progress),
		AllowlistFile: allowlistPath(),
		Upstreams: []credproxy.Upstream{
			{Name: "anthropic", BaseURL: cfg.AnthropicURL, Header: "x-api-key", Key: cfg.AnthropicKey, KeyVar: "ANTHROPIC_API_KEY"},
			{Name: "openai", BaseURL: cfg.OpenAIURL, Header: "Authorization", Prefix: "Bearer ", Key: cfg.OpenAIKey, KeyVar: "OPENAI_API_KEY"},
		},
		Channels:    chans,
		HTTPAddr:    cfg.HTTPAddr,
		MetricsAddr: cfg.MetricsAddr,
		Observe:     observe(cfg, log),
		Log:         log,
	}
}

// buildOutput is where the image build's own output goes: with -v, where
// progress goes; else nowhere (the steps are said, and a failed step's
// error carries the compiler's or the engine's last words).
func buildOutput(cfg config, progress io.Writer) io.Writer {
	if cfg.Verbose {
		return progress
	}
	return nil
}

// observe is the gateway.Config.Observe hook that starts cmd/berth's
// operator tooling: the status file and the capture of containers' output.
func observe(cfg config, log *slog.Logger) func(context.Context, session.Runtime, string, string) (gateway.Observation, error) {
	return func(ctx context.Context, rt session.Runtime, metricsAddr, consoleAddr string) (gateway.Observation, error) {
		src, _ := rt.(outputSource) // both runtimes berth ships are one
		o, err := startObservability(ctx, cfg, src, metricsAddr, consoleAddr, log)
		if err != nil {
			return gateway.Observation{}, err
		}
		return gateway.Observation{ContainerLogs: o.capture, SetChannels: o.setChannels, Close: o.close}, nil
	}
}

// lockHome makes sure one berth gateway at a time uses a state folder.
func lockHome(home string) (*os.File, error) { return gateway.Lock(paths.Home(home)) }

// ensureImage builds the agent image when it is missing (or always, with
// force; an unchanged build is skipped by content hash).
func ensureImage(ctx context.Context, cfg config, d *container.Docker, progress io.Writer, force bool) error {
	return gateway.EnsureImage(ctx, d, imageConfig(cfg), progress, force)
}

func imageSource(ctx context.Context, cfg config, progress io.Writer) (container.ImageSource, error) {
	return gateway.ImageSource(ctx, imageConfig(cfg), progress)
}

func imageConfig(cfg config) gateway.ImageConfig {
	return gateway.ImageConfig{Home: paths.Home(cfg.Home), Image: cfg.Image, RunnerBin: cfg.RunnerBin, Busybox: cfg.Busybox}
}

// runGateway runs g (with main, if not nil, in the foreground; see
// gateway.Serve) and closes it.
func runGateway(ctx context.Context, g *gateway.Gateway, closeAll func() error, main func(context.Context) error) error {
	err := g.Serve(ctx, main)
	return errors.Join(err, closeAll())
}
