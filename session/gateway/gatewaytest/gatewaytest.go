// Package gatewaytest starts a real berth gateway for tests, the way
// net/http/httptest starts a real server: it is assembled by gateway.Open,
// as `berth run` assembles it, with test defaults: a real store in a
// temporary BERTH_HOME, the real Docker engine, and the agent image built
// locally from this source tree (with the echo provider, the test and demo
// provider that answers "echo: <text>").
//
// Tests that use it need Docker, unless Options.Runtime is a TEST-ONLY
// containertest.Runtime, which runs the real runner in-process. Without a
// daemon, and under `go test -short`, Docker tests skip, unless
// BERTH_REQUIRE_DOCKER=1 is set (as CI does), in which case they run (and
// fail without a daemon).
package gatewaytest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/container/containertest"
	"github.com/berth-dev/berth/container/kube"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway"
)

// Image is the tag of the agent image tests use. It names the source
// tree it is built from, so two checkouts testing at once on one engine
// (git worktrees, say) never run each other's runner.
var Image = testImageTag()

// testImageTag is "berth-agent:test-" and a short hash of the source
// tree's path; "berth-agent:test" outside one.
func testImageTag() string {
	wd, err := os.Getwd()
	if err != nil {
		return "berth-agent:test"
	}
	src, err := container.SourceDir(wd)
	if err != nil {
		return "berth-agent:test"
	}
	sum := sha256.Sum256([]byte(src))
	return "berth-agent:test-" + hex.EncodeToString(sum[:4])
}

// RequireDocker returns a client for the local engine, or skips the test
// when there is none or under `go test -short` (unless
// BERTH_REQUIRE_DOCKER=1, under which it runs, or fails with no engine).
func RequireDocker(t testing.TB) *container.Docker {
	t.Helper()
	if testing.Short() && os.Getenv("BERTH_REQUIRE_DOCKER") != "1" {
		t.Skip("needs Docker; skipped under -short (BERTH_REQUIRE_DOCKER=1 runs it)")
	}
	d, err := container.NewDocker("")
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = d.Ping(ctx)
		cancel()
	}
	if err != nil {
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("Docker is required (BERTH_REQUIRE_DOCKER=1) but unreachable: %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close engine client: %v", err)
		}
	})
	return d
}

var (
	imageOnce sync.Once
	imageErr  error
)

// BuildImage builds the test agent image once per test binary; an
// unchanged image is not rebuilt. Its shell is the runner's toolbox, or
// the busybox at $BERTH_BUSYBOX when that is set.
func BuildImage(t testing.TB, d *container.Docker) {
	t.Helper()
	imageOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		wd, _ := os.Getwd()
		src, err := container.SourceDir(wd)
		if err != nil {
			imageErr = err
			return
		}
		dir, err := os.MkdirTemp("", "berth-runner-")
		if err != nil {
			imageErr = err
			return
		}
		defer func() {
			if err := os.RemoveAll(dir); err != nil && imageErr == nil {
				imageErr = err
			}
		}()
		bin := filepath.Join(dir, "berth-runner")
		if imageErr = container.BuildRunner(ctx, src, bin, io.Discard); imageErr != nil {
			return
		}
		// BERTH_BUSYBOX, when set, is a host busybox to prefer for the
		// shell; unset (as in CI) the image's shell is the runner's own.
		imageErr = d.BuildImage(ctx, Image, container.ImageSource{Runner: bin, Busybox: os.Getenv("BERTH_BUSYBOX")}, io.Discard)
	})
	if imageErr != nil {
		t.Fatalf("build agent image: %v", imageErr)
	}
}

// Options configure a test gateway.
type Options struct {
	// Channels are the adapters the gateway runs (their Run is started).
	Channels []channels.Channel
	// Config adjusts the session manager's configuration.
	Config func(*session.Config)
	// Home reuses a state folder (a restart); default a new temp folder.
	Home string
	// Runtime replaces the engine client the manager uses (fault tests).
	// A *containertest.Runtime needs no Docker: the gateway starts without
	// the engine or the agent image. It outlives the gateway, so a test
	// can Crash one and Start another on the same Home and Runtime. A
	// *kube.Runtime runs the sessions as Pods (the *_kube_test.go files):
	// Docker still builds the image, which the test imports into the
	// cluster (kubetest.Cluster.Import); Containers lists the Pods.
	Runtime session.Runtime
	// Commands, if set, returns the chat command handler to install.
	Commands func(*Gateway) session.Commands
	// Backfill catches up as berth does, at start and after every
	// reconnect of a channel; by default a test calls Manager.Backfill.
	Backfill bool
	// HTTPAddr starts the gateway's HTTP listener there (console, probes,
	// metrics; see Gateway.HTTPAddr), "127.0.0.1:0" for any free port.
	HTTPAddr string
	// GatewayLog writes the gateway's log to the home's gateway log file,
	// in JSON as berth run does, where berth logs and the console read it.
	GatewayLog bool
}

// Gateway is a running test gateway.
type Gateway struct {
	Home    string
	Store   *data.Store
	Manager *session.Manager
	Docker  *container.Docker // nil when Options.Runtime is in-process
	Layout  groups.Layout

	gw      *gateway.Gateway
	rt      session.Runtime // what the manager runs containers with
	cluster bool            // rt is a Kubernetes runtime: list its Pods, not the engine's containers

	t      testing.TB
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Start starts a gateway and stops it (and every container it ran) when the test ends.
func Start(t testing.TB, opts Options) *Gateway {
	t.Helper()
	rt := opts.Runtime
	var d *container.Docker
	if _, inProcess := rt.(*containertest.Runtime); !inProcess {
		d = RequireDocker(t)
		BuildImage(t, d)
	}
	home := opts.Home
	if home == "" {
		home = t.TempDir()
	}
	_, cluster := rt.(*kube.Runtime)
	g := &Gateway{Home: home, Docker: d, cluster: cluster, t: t, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	log := testLogger(t)
	if opts.GatewayLog {
		f, err := gatewayLogFile(paths.Home(home))
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := f.Close(); err != nil {
				t.Errorf("close gateway log: %v", err)
			}
		})
		log = slog.New(teeHandler{log.Handler(), slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})})
	}
	gw, err := gateway.Open(ctx, gateway.Config{
		Home: paths.Home(home), Image: Image, Runtime: rt, Channels: opts.Channels, Log: log, HTTPAddr: opts.HTTPAddr,
		// The test image is built above; no credential proxy, mount
		// allowlist or observation unless a test asks (through Config);
		// backfill only when a test calls it or asks (Options.Backfill).
		NoBackfill: !opts.Backfill,
		Session: func(cfg *session.Config) {
			// SenderRate -1: these tests send from role-less senders faster
			// than a person would; the access tests set a rate.
			cfg.Poll, cfg.RetryBase, cfg.SendBase, cfg.StopGrace, cfg.SenderRate = 500*time.Millisecond, 50*time.Millisecond,
				50*time.Millisecond, 2*time.Second, -1
			if opts.Config != nil {
				opts.Config(cfg)
			}
		},
		Commands: func(gw *gateway.Gateway) session.Commands {
			if opts.Commands == nil {
				return nil
			}
			g.Store, g.Manager, g.Layout = gw.Store(), gw.Manager(), gw.Layout()
			return opts.Commands(g)
		},
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	g.gw, g.rt = gw, gw.Runtime()
	g.Store, g.Manager, g.Layout = gw.Store(), gw.Manager(), gw.Layout()
	go func() {
		defer close(g.done)
		// After the test cancels, what stops is expected to say so.
		if err := gw.Run(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("gateway: %v", err)
		}
	}()
	select {
	case <-gw.Ready():
	case <-g.done:
		t.Fatal("gateway stopped during start")
	}
	t.Cleanup(func() { g.Stop(); g.removeContainers() })
	return g
}

// HTTPAddr is where the gateway's HTTP listener listens (Options.HTTPAddr).
func (g *Gateway) HTTPAddr() string { return g.gw.HTTPAddr() }

// Stop shuts the gateway down as `berth` does on SIGTERM: its containers
// are stopped. Safe to call twice.
func (g *Gateway) Stop() {
	g.once.Do(func() {
		g.cancel()
		<-g.done
		if err := g.gw.Close(); err != nil {
			g.t.Errorf("close gateway: %v", err)
		}
	})
}

// Crash stops the gateway as a crash of `berth` would: its context ends
// but nothing is shut down, so its containers keep running for a gateway
// started next on the same Home and Runtime to adopt. Stop after Crash
// does nothing.
func (g *Gateway) Crash() {
	g.once.Do(func() {
		g.cancel()
		<-g.done
		if err := g.gw.Detach(); err != nil {
			g.t.Errorf("detach gateway: %v", err)
		}
	})
}

// engine is what lists and removes this gateway's containers: the Docker
// client the tests always used, or the in-process runtime, or the cluster.
func (g *Gateway) engine() session.Runtime {
	if g.Docker != nil && !g.cluster {
		return g.Docker
	}
	return g.rt
}

func (g *Gateway) removeContainers() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := g.engine().List(ctx, map[string]string{container.LabelHome: g.Home})
	if err != nil {
		g.t.Logf("list containers to remove: %v", err)
	}
	// Best effort, as before: a container may be going away by itself.
	for _, c := range list {
		if err := g.engine().Remove(ctx, c.ID); err != nil && !container.IsNotFound(err) {
			g.t.Logf("remove container %s: %v", c.ID, err)
		}
	}
}

// Wire describes a wiring to create.
type Wire struct {
	Group       string      // agent group folder; default "main"
	Engage      data.Engage // default data.EngagePattern with Pattern "."
	Pattern     string
	SessionMode data.SessionMode // default data.SessionShared
	Ignored     data.Ignored     // default data.IgnoredDrop
	IsDM        bool
	Admin       bool
	// Access defaults to data.AccessOpen, not the production default
	// (members): these tests are about routing, not access, and send
	// from senders with no role. Access tests set it.
	Access data.Access
}

// Wire wires a platform conversation to an agent group, creating the group
// (and initialising its folder) when it does not exist.
func (g *Gateway) Wire(channelType, platformID string, w Wire) data.Wiring {
	g.t.Helper()
	ctx := context.Background()
	if w.Group == "" {
		w.Group = "main"
	}
	if w.Engage == "" {
		w.Engage, w.Pattern = data.EngagePattern, "."
	}
	if w.SessionMode == "" {
		w.SessionMode = data.SessionShared
	}
	if w.Access == "" {
		w.Access = data.AccessOpen
	}
	ag, err := g.Store.Group(ctx, w.Group)
	if errors.Is(err, data.ErrNotFound) {
		ag = data.AgentGroup{Name: w.Group, Folder: w.Group, IsAdmin: w.Admin}
		err = groups.Create(ctx, g.Store, g.Layout, &ag)
	}
	if err != nil {
		g.t.Fatal(err)
	}
	mg, err := g.Store.EnsureMessagingGroup(ctx, channelType, platformID, platformID, w.IsDM)
	if err != nil {
		g.t.Fatal(err)
	}
	wr := data.Wiring{MessagingGroupID: mg.ID, AgentGroupID: ag.ID, Engage: w.Engage, Pattern: w.Pattern,
		SessionMode: w.SessionMode, Ignored: w.Ignored, Access: w.Access}
	if err := g.Store.Wire(ctx, &wr); err != nil {
		g.t.Fatal(err)
	}
	return wr
}

// Sessions lists the store's sessions, newest first.
func (g *Gateway) Sessions() []data.Session {
	g.t.Helper()
	s, err := g.Store.Sessions(context.Background(), data.SessionFilter{})
	if err != nil {
		g.t.Fatal(err)
	}
	return s
}

// Dropped lists dropped messages, newest first.
func (g *Gateway) Dropped() []data.Dropped {
	g.t.Helper()
	d, err := g.Store.DroppedMessages(context.Background(), 1000)
	if err != nil {
		g.t.Fatal(err)
	}
	return d
}

// Containers lists this gateway's containers, of one session when sessionID is not empty.
func (g *Gateway) Containers(sessionID string) []container.Info {
	g.t.Helper()
	labels := map[string]string{container.LabelHome: g.Home}
	if sessionID != "" {
		labels[container.LabelSession] = sessionID
	}
	list, err := g.engine().List(context.Background(), labels)
	if err != nil {
		g.t.Fatal(err)
	}
	return list
}

// WaitIdle waits until every message is answered and every reply delivered.
func (g *Gateway) WaitIdle(timeout time.Duration) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := g.Manager.WaitIdle(ctx); err != nil {
		g.t.Fatalf("gateway not idle after %v: %v", timeout, err)
	}
}
