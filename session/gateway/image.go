package gateway

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data/paths"
)

// ImageConfig names the agent image and what it is built from.
type ImageConfig struct {
	Home      paths.Home // where a runner compiled from source is cached
	Image     string     // the tag
	RunnerBin string     // a prebuilt static berth-runner; "": compile from source
	Busybox   string     // a static busybox to prefer for the shell; "": none, the runner's toolbox
}

// EnsureImage builds the agent image when it is missing (or always, with
// force; an unchanged build is skipped by content hash). Only the default
// image is built unasked: another missing image is an error.
func EnsureImage(ctx context.Context, d *container.Docker, cfg ImageConfig, progress io.Writer, force bool) error {
	if !force {
		ok, err := d.ImageExists(ctx, cfg.Image)
		if err != nil {
			return fmt.Errorf("look for image %s: %w", cfg.Image, err)
		}
		if ok {
			return nil
		}
		if cfg.Image != container.DefaultImage {
			return fmt.Errorf("agent image %s does not exist; build or load it first", cfg.Image)
		}
		// Progress is for people; a writer that fails does not stop the build.
		_, _ = fmt.Fprintf(progress, "berth: agent image %s is missing; building it now (this happens once)\n", cfg.Image)
	}
	src, err := ImageSource(ctx, cfg, progress)
	if err != nil {
		return err
	}
	return d.BuildImage(ctx, cfg.Image, src, progress)
}

// ImageSource finds the runner an image is built from (and the busybox,
// only when one is named), compiling the runner from this source tree into
// Home's cache when no prebuilt one is named.
func ImageSource(ctx context.Context, cfg ImageConfig, progress io.Writer) (container.ImageSource, error) {
	runnerBin := cfg.RunnerBin
	if runnerBin == "" {
		wd, _ := os.Getwd()
		srcDir, err := container.RunnerSource(ctx, wd)
		if err != nil {
			return container.ImageSource{}, err
		}
		runnerBin = cfg.Home.RunnerBin()
		if err := os.MkdirAll(filepath.Dir(runnerBin), 0o755); err != nil {
			return container.ImageSource{}, err
		}
		if err := container.BuildRunner(ctx, srcDir, runnerBin, progress); err != nil {
			return container.ImageSource{}, err
		}
	}
	return container.ImageSource{Runner: runnerBin, Busybox: cfg.Busybox}, nil
}
