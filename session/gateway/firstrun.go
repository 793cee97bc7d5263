package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/berth-dev/berth/container"
)

// say writes one progress line for a person. Progress is for people: a
// writer that fails stops nothing.
func (g *Gateway) say(format string, args ...any) {
	_, _ = fmt.Fprintf(cmpWriter(g.cfg.Progress), "berth: "+format+"\n", args...)
}

// prepareImage makes sure the agent image exists. The default image, when
// missing (a first run), is built here, each step said on Config.Progress
// and the build's own output sent to Config.BuildOutput. Another missing
// image is not berth's to build: EnsureImage says so.
func (g *Gateway) prepareImage(ctx context.Context) error {
	cfg := g.cfg
	img := ImageConfig{Home: cfg.Home, Image: cfg.Image, RunnerBin: cfg.RunnerBin, Busybox: cfg.Busybox}
	if img.Image == "" {
		img.Image = container.DefaultImage
	}
	out := cmpWriter(cfg.BuildOutput)
	ok, err := g.docker.ImageExists(ctx, img.Image)
	if err != nil {
		return fmt.Errorf("look for image %s: %w", img.Image, err)
	}
	if ok {
		return nil
	}
	if img.Image != container.DefaultImage {
		return EnsureImage(ctx, g.docker, img, out, false)
	}
	began := time.Now()
	g.say("first run: building the agent image %s (once)", img.Image)
	if img.RunnerBin == "" {
		g.say("compiling the agent runner from source…")
	}
	src, err := ImageSource(ctx, img, out)
	if err != nil {
		return err
	}
	g.say("building the image…")
	if err := g.docker.BuildImage(ctx, img.Image, src, out); err != nil {
		return err
	}
	g.say("agent image built in %s", time.Since(began).Round(time.Second))
	return nil
}
