package main

import (
	"context"
	"io"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/berth-dev/berth/container"
)

// imageBuildCommand is `berth image build`.
func (c *commandLine) imageBuildCommand() *ffcli.Command {
	fs := c.flagSet("build")
	var cfg config
	cfg.settings(fs, gatewaySettings...)
	cfg.verboseFlag(fs)
	claude := fs.Bool("claude", false, "build the claude provider's image (Node and the Claude Code CLI; needs a registry)")
	return c.command(leaf{fs: fs, usage: "image build [flags]", help: "build the agent image locally (no registry needed)", cfg: &cfg,
		run: func(ctx context.Context, _ []string) error { return cmdImageBuild(ctx, cfg, *claude, c.stdout) }})
}

// cmdImageBuild builds the agent image, or the claude image.
func cmdImageBuild(ctx context.Context, cfg config, claude bool, stdout io.Writer) error {
	d, err := container.NewDocker(cfg.DockerHost)
	if err != nil {
		return err
	}
	defer d.Close()
	if claude {
		src, err := imageSource(ctx, cfg, stdout)
		if err != nil {
			return err
		}
		return d.BuildClaudeImage(ctx, container.ClaudeImage, src.Runner, stdout)
	}
	return ensureImage(ctx, cfg, d, stdout, true)
}
