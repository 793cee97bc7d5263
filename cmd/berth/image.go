package main

import (
	"context"
	"flag"
	"io"

	"github.com/berth-dev/berth/container"
)

func cmdImageBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("berth image build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	commonFlags(fs, &cfg)
	claude := fs.Bool("claude", false, "build the claude provider's image (Node and the Claude Code CLI; needs a registry)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.resolve(fs); err != nil {
		return err
	}
	d, err := container.NewDocker(cfg.DockerHost)
	if err != nil {
		return err
	}
	defer d.Close()
	if *claude {
		src, err := imageSource(ctx, cfg, stdout)
		if err != nil {
			return err
		}
		return d.BuildClaudeImage(ctx, container.ClaudeImage, src.Runner, stdout)
	}
	return ensureImage(ctx, cfg, d, stdout, true)
}
