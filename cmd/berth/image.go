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
	return ensureImage(ctx, cfg, d, stdout, true)
}
