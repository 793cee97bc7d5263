package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/container/credproxy"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/mounts"
	"github.com/berth-dev/berth/session"
)

// The chat commands the gateway installs.
var _ session.Commands = (*groups.Commands)(nil)

// gateway is the assembled core: store, runtime and session manager.
type gateway struct {
	cfg    config
	log    *slog.Logger
	store  *data.Store
	docker *container.Docker
	layout groups.Layout
	mgr    *session.Manager
	lock   *os.File
	proxy  *credproxy.Proxy
	closeL func()
	obs    *observability
}

func openGateway(ctx context.Context, cfg config, stderr io.Writer) (_ *gateway, err error) {
	g := &gateway{cfg: cfg}
	defer func() {
		if err != nil {
			g.close()
		}
	}()
	if g.lock, err = lockHome(cfg.Home); err != nil {
		return nil, err
	}
	g.log, g.closeL, err = newLogger(cfg.Home, stderr, cfg.Verbose, secretValues(cfg))
	if err != nil {
		return nil, err
	}
	if g.store, err = data.Open(ctx, paths.Home(cfg.Home).Store()); err != nil {
		return nil, err
	}
	uid := -1
	if os.Getuid() == 0 {
		uid = container.AgentUID
	}
	g.layout = groups.Layout{Root: paths.Home(cfg.Home).Groups(), UID: uid}
	if err := g.layout.InitGlobal(); err != nil {
		return nil, err
	}
	if g.docker, err = container.NewDocker(cfg.DockerHost); err != nil {
		return nil, err
	}
	if _, err := g.docker.Ping(ctx); err != nil {
		return nil, fmt.Errorf("%w\n  is the Docker engine running, and may this user use it? (try: docker info)", err)
	}
	if err := ensureImage(ctx, cfg, g.docker, stderr, false); err != nil {
		return nil, err
	}
	if g.obs, err = startObservability(ctx, cfg, g.docker, g.log); err != nil {
		return nil, err
	}
	allow, err := mounts.Load(allowlistPath(), cfg.Home, filepath.Dir(allowlistPath()))
	if err != nil {
		return nil, err
	}
	proxy, err := credproxy.New([]credproxy.Upstream{
		{Name: "anthropic", BaseURL: cfg.AnthropicURL, Header: "x-api-key", Key: cfg.AnthropicKey, KeyVar: "ANTHROPIC_API_KEY"},
		{Name: "openai", BaseURL: cfg.OpenAIURL, Header: "Authorization", Prefix: "Bearer ", Key: cfg.OpenAIKey, KeyVar: "OPENAI_API_KEY"},
	}, g.log)
	if err != nil {
		return nil, err
	}
	proxy.SetMeter(credproxy.StoreMeter{Store: g.store, Log: g.log})
	g.proxy = proxy
	g.mgr = session.New(session.Config{
		Allowlist: allow, Extras: proxy.Extras(paths.Home(cfg.Home)),
		Home: cfg.Home, Image: cfg.Image, Images: cfg.Images, Provider: cfg.Provider, IdleTimeout: cfg.IdleTimeout,
		MaxRunning: cfg.MaxRunning, UID: uid, Log: g.log, Observer: g.obs.observer, ContainerLogs: g.obs.capture,
	}, g.store, g.docker, g.layout)
	g.mgr.SetCommands(groups.NewCommands(g.store, g.layout, g.mgr, g.log))
	if owned, err := g.store.HasOwner(ctx); err != nil {
		return nil, err
	} else if !owned {
		g.log.Warn("no owner yet: run `berth pair` and send !pair <code> from chat")
	}
	return g, nil
}

func (g *gateway) close() {
	if g.proxy != nil {
		g.proxy.Close()
	}
	if g.obs != nil {
		g.obs.close()
	}
	if g.docker != nil {
		g.docker.Close()
	}
	if g.store != nil {
		g.store.Close()
	}
	if g.closeL != nil {
		g.closeL()
	}
	if g.lock != nil {
		g.lock.Close()
	}
}

// lockHome makes sure one berth gateway at a time uses a state folder.
func lockHome(home string) (*os.File, error) {
	f, err := os.OpenFile(paths.Home(home).Lock(), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state folder: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another berth gateway is already running with state folder %s; stop it first, or use another --home", home)
		}
		return nil, fmt.Errorf("lock state folder: %w", err)
	}
	return f, nil
}

// ensureImage builds the agent image when it is missing (or always, with
// force; an unchanged build is skipped by content hash).
func ensureImage(ctx context.Context, cfg config, d *container.Docker, progress io.Writer, force bool) error {
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
		fmt.Fprintf(progress, "berth: agent image %s is missing; building it now (this happens once)\n", cfg.Image)
	}
	src, err := imageSource(ctx, cfg, progress)
	if err != nil {
		return err
	}
	return d.BuildImage(ctx, cfg.Image, src, progress)
}

func imageSource(ctx context.Context, cfg config, progress io.Writer) (container.ImageSource, error) {
	busybox, err := container.FindBusybox(cfg.Busybox)
	if err != nil {
		return container.ImageSource{}, err
	}
	runnerBin := cfg.RunnerBin
	if runnerBin == "" {
		wd, _ := os.Getwd()
		srcDir, err := container.SourceDir(wd)
		if err != nil {
			return container.ImageSource{}, err
		}
		runnerBin = paths.Home(cfg.Home).RunnerBin()
		if err := os.MkdirAll(filepath.Dir(runnerBin), 0o755); err != nil {
			return container.ImageSource{}, err
		}
		if err := container.BuildRunner(ctx, srcDir, runnerBin, progress); err != nil {
			return container.ImageSource{}, err
		}
	}
	return container.ImageSource{Runner: runnerBin, Busybox: busybox}, nil
}
