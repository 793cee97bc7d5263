// Package gateway assembles and runs a berth gateway: the lock on its
// state folder, the central store, the group folders, the container
// runtime (the Docker engine by default), the credential proxy, the
// session manager with its chat commands, the channels and the HTTP
// listener (Prometheus metrics, the probes, the web console), with [Open],
// [Gateway.Run] and [Gateway.Close].
//
// It is the one assembly: cmd/berth calls it for `berth run` and `berth
// chat`, and the test harness beside it (gatewaytest) calls it too, so a
// test runs the gateway production runs. It lives under session/ because
// the session manager is the gateway's core and everything else here is
// what that core is given; it is its own package because it imports every
// other part of berth (channels, container, groups, mounts, data), which
// the session core must not.
package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/terminal"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/container/credproxy"
	"github.com/berth-dev/berth/container/kube"
	"github.com/berth-dev/berth/container/runnerbuild"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/mounts"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/console"
	"github.com/berth-dev/berth/session/metrics"
	"github.com/berth-dev/berth/session/tasks"
)

// The chat commands the gateway installs.
var _ session.Commands = (*groups.Commands)(nil)

// shutdownGrace bounds how long Close waits for the containers to stop.
const shutdownGrace = 30 * time.Second

// Config is what a gateway is assembled from. The zero value of each field
// is the documented default.
type Config struct {
	Home     paths.Home // the state folder; required
	Image    string     // agent image; "" the session manager's default
	Images   []string   // more images groups may name (--allowed-images)
	Provider string     // default provider of groups that name none
	// ProviderFrom says why Provider: "" when it is berth's default (see
	// groups.Install).
	ProviderFrom string
	IdleTimeout  time.Duration // stop a container idle this long; 0: groups.DefaultIdleTimeout
	MaxRunning   int           // cap on running containers; 0: session.DefaultMaxRunning

	// Runtime runs the agent containers. nil: the Docker engine at
	// DockerHost, which Open checks (ConnectEngine), building the default
	// agent image from RunnerBin and Busybox when it is missing.
	// Tests may pass a wrapped engine or container/containertest's
	// TEST-ONLY in-process runtime; Open then neither pings nor builds.
	Runtime session.Runtime
	// Kubernetes, if set (and Runtime is not), runs the agent containers
	// as Pods through the API server it names (container/kube) instead of
	// on the Docker engine; its Home is Home. Open checks the API server
	// answers; the agent image must already be on the nodes (or in a
	// registry they pull from): Open builds none.
	Kubernetes *kube.Config
	DockerHost string
	RunnerBin  string // a prebuilt static berth-runner; "": compile from source
	Busybox    string // a static busybox to prefer for the shell; "": none

	// Progress is told, a short line each, what a first start does that
	// takes a while: building the agent image, starting the terminal's
	// first container (WarmTerminal). nil: discarded.
	Progress io.Writer
	// BuildOutput is the image build's own output, the compiler's and
	// the engine's. nil: discarded.
	BuildOutput io.Writer

	// AllowlistFile is the mount allowlist (mounts.Load); "": no extra
	// mounts are allowed.
	AllowlistFile string

	// Upstreams are the model APIs the credential proxy forwards to, with
	// their keys (which stay on the host). None: no proxy runs.
	Upstreams []credproxy.Upstream

	// Channels are the adapters the gateway delivers through and Run runs
	// (except the terminal, which Serve's main drives).
	Channels []channels.Channel

	// HTTPAddr is the gateway's HTTP listener (port 0 picks one; see
	// Gateway.HTTPAddr): Prometheus metrics at /metrics, the probes
	// /healthz and /readyz, and the web console (session/console) at /.
	// An address other hosts can reach needs a console token (berth
	// console token). "" and no MetricsAddr: no listener, no metrics.
	HTTPAddr string
	// MetricsAddr is where /metrics was served before the console
	// existed. Alone, it is HTTPAddr, except on an address other hosts
	// reach with no console token, where it serves /metrics and the
	// probes only (an install upgraded keeps starting, its console stays
	// off); beside an HTTPAddr of another address it is a second
	// listener, metrics and probes only; the same address is one listener.
	MetricsAddr string

	// Observe, if set, starts the operator's tooling beside the core
	// (cmd/berth's status file and capture of containers' output) once
	// the runtime and the metrics endpoint are ready; rt is the runtime
	// Open reached (the Docker engine's client or the Kubernetes one), nil
	// when Runtime was given, metricsAddr the address the endpoint
	// listens on and consoleAddr the web console's, "" without one. Close
	// stops it.
	Observe func(ctx context.Context, rt session.Runtime, metricsAddr, consoleAddr string) (Observation, error)

	// Commands returns the chat command handler to install; nil: the
	// groups package's commands. Returning nil installs none.
	Commands func(*Gateway) session.Commands

	// Session, if set, adjusts the session manager's configuration last
	// (tests shorten its waits).
	Session func(*session.Config)

	// NoBackfill skips catching up on what was posted while berth was
	// away when Run starts a channel (tests that backfill by hand).
	NoBackfill bool

	Log *slog.Logger // nil: discarded
}

// Observation is what Config.Observe started.
type Observation struct {
	ContainerLogs func(sessionID, containerID string) // session.Config.ContainerLogs; may be nil
	SetChannels   func([]channels.Channel)            // told the channels Run runs; may be nil
	Close         func()                              // stops it all; may be nil
}

// Gateway is an assembled gateway: Open it, Run it, Close it.
type Gateway struct {
	cfg    Config
	log    *slog.Logger
	lock   *os.File
	store  *data.Store
	layout groups.Layout
	docker *container.Docker // the engine Open dialled; nil when Config.Runtime or Config.Kubernetes was given
	kube   *kube.Runtime     // the cluster Open reached; nil unless Config.Kubernetes was given
	rt     session.Runtime
	obs    Observation
	// metrics is what the HTTP listeners count; http is the first
	// listener (--http-addr's, or --metrics-addr's alone), metricsHTTP
	// --metrics-addr's beside an --http-addr of another address;
	// metricsAddr is where /metrics is served, consoleAddr the console.
	// nil and "" without Config.HTTPAddr or MetricsAddr.
	metrics     *metrics.Metrics
	metricsAddr string
	consoleAddr string
	http        *httpServer
	metricsHTTP *httpServer
	proxy       *credproxy.Proxy
	runners     *runnerbuild.Builder // nil without the Docker engine
	mgr         *session.Manager
	tasks       *tasks.Scheduler // scheduled tasks; runs beside the manager in Serve
	ready       chan struct{}    // closed once Serve's manager and channels run
}

// Open assembles a gateway: it locks the state folder (one gateway per
// home), opens the store, initialises the global group folder, reaches the
// runtime, starts the HTTP listener (metrics, probes, console),
// Config.Observe and the credential proxy, and builds the session manager
// with its commands and channels. Nothing runs until Run.
func Open(ctx context.Context, cfg Config) (_ *Gateway, err error) {
	g := &Gateway{cfg: cfg, log: cfg.Log, ready: make(chan struct{})}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, g.release())
		}
	}()
	if g.lock, err = Lock(cfg.Home); err != nil {
		return nil, err
	}
	if g.store, err = data.Open(ctx, cfg.Home.Store()); err != nil {
		return nil, err
	}
	uid := -1
	if os.Getuid() == 0 {
		uid = container.AgentUID
	}
	g.layout = groups.Layout{Root: cfg.Home.Groups(), UID: uid}
	if err := g.layout.InitGlobal(); err != nil {
		return nil, err
	}
	g.rt = cfg.Runtime
	if g.rt == nil && cfg.Kubernetes != nil {
		kc := *cfg.Kubernetes
		if kc.Log == nil {
			kc.Log = g.log // client-go's own lines, in the gateway's log
		}
		if g.kube, err = ConnectKube(ctx, kc, cfg.Home); err != nil {
			return nil, err
		}
		g.rt = g.kube
	}
	if g.rt == nil {
		if g.docker, _, err = ConnectEngine(ctx, cfg.DockerHost); err != nil {
			if e, ok := errors.AsType[*EngineError](err); ok {
				g.log.Debug("docker engine", "host", e.Host, "problem", string(e.Problem), "err", e.Err)
			}
			return nil, err
		}
		if err := g.prepareImage(ctx); err != nil {
			return nil, err
		}
		g.rt = g.docker
	}
	var observer session.Observer // an untyped nil without metrics, not a nil *Metrics
	if plans := listenAddrs(cfg); len(plans) > 0 {
		m := metrics.New()
		if err := m.Registry().Register(newConnCollector(cfg.Channels)); err != nil {
			return nil, fmt.Errorf("register channel metrics: %w", err)
		}
		for i, p := range plans {
			h, err := g.serveHTTP(p.addr, p.mode, m.Handler(), g.readiness)
			if err != nil {
				return nil, err // release stops a listener opened before
			}
			if i == 0 {
				g.http = h
			} else {
				g.metricsHTTP = h
			}
			g.metricsAddr = h.addr
			switch {
			case h.withConsole:
				g.consoleAddr = h.addr
				g.log.Info("http listener", "addr", "http://"+h.addr+"/", "metrics", "http://"+h.addr+"/metrics",
					"console_open", h.loopback && !hasToken(cfg))
			case p.mode == serveAllIfSafe:
				g.log.Warn("http listener serves no console, only /metrics and the probes: --metrics-addr is reachable from other hosts and no console token is set "+
					"(berth console token makes one; --http-addr 127.0.0.1:7777 serves the console here)",
					"addr", "http://"+h.addr+"/", "metrics", "http://"+h.addr+"/metrics")
			default:
				g.log.Info("http listener: metrics and probes only", "addr", "http://"+h.addr+"/", "metrics", "http://"+h.addr+"/metrics")
			}
		}
		g.metrics, observer = m, m
	}
	if cfg.Observe != nil {
		var reached session.Runtime // an untyped nil when Config.Runtime was given
		switch {
		case g.docker != nil:
			reached = g.docker
		case g.kube != nil:
			reached = g.kube
		}
		if g.obs, err = cfg.Observe(ctx, reached, g.metricsAddr, g.consoleAddr); err != nil {
			return nil, err
		}
	}
	allow, err := loadAllowlist(cfg)
	if err != nil {
		return nil, err
	}
	scfg := session.Config{
		Allowlist: allow, Home: cfg.Home.String(), Image: cfg.Image, Images: cfg.Images, Provider: cfg.Provider,
		IdleTimeout: cfg.IdleTimeout, MaxRunning: cfg.MaxRunning, UID: uid, Log: g.log,
		Observer: observer, ContainerLogs: g.obs.ContainerLogs,
	}
	if len(cfg.Upstreams) > 0 {
		if g.proxy, err = credproxy.New(cfg.Upstreams, g.log); err != nil {
			return nil, err
		}
		g.proxy.SetMeter(credproxy.StoreMeter{Store: g.store, Log: g.log})
		scfg.Extras = g.proxy.Extras(cfg.Home)
	}
	if g.docker != nil {
		// A group whose runner-src/ differs from the stock source runs
		// its own build of it (container/runnerbuild).
		g.runners = runnerbuild.New(runnerbuild.Config{
			Home: cfg.Home, Groups: g.layout.Root, Engine: g.docker, UID: uid, Log: g.log,
		})
		scfg.Runners = groupRunners{g.runners}
	}
	if cfg.Session != nil {
		cfg.Session(&scfg)
	}
	g.mgr = session.New(scfg, g.store, g.rt, g.layout)
	g.tasks = tasks.New(g.store, g.mgr, tasks.Config{Log: g.log})
	g.mgr.SetTasks(g.tasks) // the agents' schedule_task, list_tasks and cancel_task
	var cmds session.Commands
	if cfg.Commands != nil {
		cmds = cfg.Commands(g)
	} else {
		gc := groups.NewCommands(g.store, g.layout, g.mgr, g.log)
		gc.Install = install(cfg, allow)
		cmds = gc
	}
	if cmds != nil {
		g.mgr.SetCommands(cmds)
	}
	if c, ok := cmds.(interface{ SetTasks(groups.TaskDesk) }); ok {
		c.SetTasks(g.tasks)
	}
	for _, ch := range cfg.Channels {
		g.mgr.AddChannel(ch)
	}
	if g.http != nil && g.http.withConsole {
		c, err := console.New(console.Config{
			Home: cfg.Home, Store: g.store, Containers: g.consoleRuntime(), Sessions: g.mgr, Channels: cfg.Channels,
			Install: install(cfg, allow), MaxRunning: cmp.Or(max(scfg.MaxRunning, 0), session.DefaultMaxRunning(scfg.Memory)), Loopback: g.http.loopback,
			OutputFromLogs: cfg.Observe != nil, Log: g.log,
		})
		if err != nil {
			return nil, err
		}
		g.http.setConsole(c)
	}
	if owned, err := g.store.HasOwner(ctx); err != nil {
		return nil, err
	} else if !owned {
		g.log.Warn("no owner yet: run `berth pair` and send !pair <code> from chat")
	}
	return g, nil
}

// cmpWriter is w, or io.Discard for nil.
func cmpWriter(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// Store is the gateway's central store.
func (g *Gateway) Store() *data.Store { return g.store }

// Manager is the gateway's session manager.
func (g *Gateway) Manager() *session.Manager { return g.mgr }

// Layout is where the gateway keeps group folders.
func (g *Gateway) Layout() groups.Layout { return g.layout }

// Runtime is what runs the gateway's containers.
func (g *Gateway) Runtime() session.Runtime { return g.rt }

// Metrics is what the gateway counts, served at MetricsAddr; nil without
// Config.MetricsAddr.
func (g *Gateway) Metrics() *metrics.Metrics { return g.metrics }

// HTTPAddr is the address the HTTP listener listens on (the port picked
// for port 0): Config.HTTPAddr's, or MetricsAddr's without it; "" with
// neither, and after Close.
func (g *Gateway) HTTPAddr() string {
	if g.http == nil {
		return ""
	}
	return g.http.addr
}

// MetricsAddr is where /metrics is served: Config.MetricsAddr's listener,
// or HTTPAddr.
func (g *Gateway) MetricsAddr() string { return g.metricsAddr }

// ConsoleAddr is where the web console is served: HTTPAddr, or "" where
// the listener serves metrics and probes only (Config.MetricsAddr alone,
// reachable from other hosts, with no console token).
func (g *Gateway) ConsoleAddr() string { return g.consoleAddr }

// consoleRuntime is the runtime as the console reads it.
func (g *Gateway) consoleRuntime() console.Containers {
	if g.docker != nil {
		return g.docker
	}
	return consoleRuntime{g.rt}
}

// hasToken reports whether the install has a console token; an
// unreadable token file counts as one (the console then refuses all).
func hasToken(cfg Config) bool {
	has, err := console.HasToken(cfg.Home)
	return has || err != nil
}

// Tasks is the gateway's scheduler of tasks.
func (g *Gateway) Tasks() *tasks.Scheduler { return g.tasks }

// Log is the gateway's logger.
func (g *Gateway) Log() *slog.Logger { return g.log }

// Ready is closed once Run has recovered what an earlier gateway left and
// started the channels: messages handled after it see that state.
func (g *Gateway) Ready() <-chan struct{} { return g.ready }

// Run runs the session manager and the channels, each channel's backfill
// after it starts, until ctx ends or a channel fails. Close then stops the
// containers.
func (g *Gateway) Run(ctx context.Context) error { return g.Serve(ctx, nil) }

// Serve is Run with a foreground task: main starts once the manager has
// recovered and the channels run, drives the terminal channel (Run does
// not), and when it returns the gateway stops. nil main waits for ctx.
func (g *Gateway) Serve(ctx context.Context, main func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if g.obs.SetChannels != nil {
		g.obs.SetChannels(g.cfg.Channels)
	}
	driven := main != nil
	if main == nil {
		main = func(ctx context.Context) error {
			<-ctx.Done()
			return nil
		}
	}
	eg, ctx := errgroup.WithContext(ctx)
	ready := make(chan struct{})
	eg.Go(func() error { return g.mgr.Run(ctx, ready) })
	select {
	case <-ready:
	case <-ctx.Done():
		return eg.Wait()
	}
	for _, ch := range g.cfg.Channels {
		if driven && ch.Type() == terminal.Type {
			continue // driven by main
		}
		// Where each conversation left off, read before the channel runs.
		catchUp := func(context.Context) error { return nil }
		if !g.cfg.NoBackfill {
			var err error
			if catchUp, err = g.mgr.PrepareBackfill(ctx, ch); err != nil {
				cancel()
				return errors.Join(fmt.Errorf("prepare %s backfill: %w", ch.Type(), err), eg.Wait())
			}
		}
		if rc, ok := ch.(channels.Reconnecter); ok && !g.cfg.NoBackfill {
			// What a dropped or deaf connection missed is caught up as at start.
			rc.OnReconnect(func(ctx context.Context) { g.mgr.Reconnected(ctx, ch) })
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
	// Tasks fire once the manager has recovered and the channels run, so
	// a run's answer, or its failure, has a channel to go out through.
	eg.Go(func() error { return g.tasks.Run(ctx) })
	close(g.ready)
	eg.Go(func() error {
		defer cancel()
		return main(ctx)
	})
	return eg.Wait()
}

// Close shuts the gateway down as `berth` does on SIGTERM: it stops every
// container the manager runs, then the proxy, what Observe started, the
// metrics endpoint, the engine client and the store, and releases the lock.
func (g *Gateway) Close() error {
	if g.mgr != nil {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		g.mgr.Shutdown(ctx)
	}
	return g.release()
}

// Detach closes the gateway as a crash of `berth` would leave it: its
// containers keep running, for the next gateway on the same home to adopt.
// Everything else Close closes is closed. Crash-recovery tests use it.
func (g *Gateway) Detach() error { return g.release() }

// release closes what Open opened, last first but the lock, which goes
// last so that no second gateway starts while this one still writes.
func (g *Gateway) release() error {
	var errs []error
	if g.runners != nil {
		g.runners.Close() // before the engine client its builds use
	}
	if g.proxy != nil {
		g.proxy.Close()
	}
	if g.obs.Close != nil {
		g.obs.Close()
	}
	if g.http != nil {
		g.http.stop()
	}
	if g.metricsHTTP != nil {
		g.metricsHTTP.stop()
	}
	if g.docker != nil {
		if err := g.docker.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close engine client: %w", err))
		}
	}
	if g.kube != nil {
		if err := g.kube.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close kubernetes client: %w", err))
		}
	}
	if g.store != nil {
		if err := g.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
	}
	if g.lock != nil {
		if err := g.lock.Close(); err != nil {
			errs = append(errs, fmt.Errorf("release lock: %w", err))
		}
	}
	*g = Gateway{cfg: g.cfg, log: g.log, ready: g.ready} // a second Close does nothing
	return errors.Join(errs...)
}

// Lock makes sure one berth gateway at a time uses a state folder: it
// holds an exclusive lock on home's lock file until the file is closed.
func Lock(home paths.Home) (*os.File, error) {
	f, err := os.OpenFile(home.Lock(), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state folder: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		cerr := f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errors.Join(fmt.Errorf("another berth gateway is already running with state folder %s; stop it first, or use another --home", home), cerr)
		}
		return nil, errors.Join(fmt.Errorf("lock state folder: %w", err), cerr)
	}
	return f, nil
}

// loadAllowlist reads the mount allowlist cfg names; nil: none.
func loadAllowlist(cfg Config) (*mounts.Allowlist, error) {
	if cfg.AllowlistFile == "" {
		return nil, nil
	}
	return mounts.Load(cfg.AllowlistFile, cfg.Home.String(), filepath.Dir(cfg.AllowlistFile))
}

// Install is what the gateway cfg describes decides about groups' keys, as
// `berth groups config` and !config show and check them.
func Install(cfg Config) (groups.Install, error) {
	allow, err := loadAllowlist(cfg)
	if err != nil {
		return groups.Install{}, err
	}
	return install(cfg, allow), nil
}

// install is Install with the allowlist read. The images are those the
// session manager allows (its imageAllowed).
func install(cfg Config, allow *mounts.Allowlist) groups.Install {
	image := cmp.Or(cfg.Image, container.DefaultImage)
	return groups.Install{
		Provider: cmp.Or(cfg.Provider, groups.DefaultProvider), ProviderFrom: cfg.ProviderFrom,
		IdleTimeout: cmp.Or(cfg.IdleTimeout, groups.DefaultIdleTimeout),
		Image:       image, ImageSet: image != container.DefaultImage, ClaudeImage: container.ClaudeImage,
		Images:    append([]string{image, container.ClaudeImage}, cfg.Images...),
		Allowlist: allow,
		Timezone:  groups.HostTimezone(),
	}
}
