package session_test

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

func TestContainerStoppedFromOutsideMidTurn(t *testing.T) {
	t.Parallel()
	g, ch := start(t, nil)
	handle(t, g, msg("sleep 3s survived"))
	var sid string
	deadline := time.Now().Add(30 * time.Second)
	for {
		if ss := g.Sessions(); len(ss) == 1 && len(g.Containers(ss[0].ID)) == 1 {
			sid = ss[0].ID
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no container")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // the runner has claimed the message and is sleeping
	ctr := g.Containers(sid)[0]
	if err := g.Docker.Stop(context.Background(), ctr.ID, time.Second); err != nil { // `docker stop`
		t.Fatal(err)
	}
	got := ch.waitSent(t, 1, 90*time.Second)
	if got[0].Text != "echo: survived" {
		t.Fatalf("reply = %q", got[0].Text)
	}
	if c := g.Containers(sid); len(c) != 1 || c[0].ID == ctr.ID {
		t.Fatalf("expected a new container, have %+v", c)
	}
}

func TestImageRemovedThenRestored(t *testing.T) {
	t.Parallel()
	d := gatewaytest.RequireDocker(t)
	gatewaytest.BuildImage(t, d)
	ctx := context.Background()
	image := "berth-agent:removed-" + data.NewID()
	if err := d.TagImage(ctx, gatewaytest.Image, image); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.RemoveImage(context.Background(), image) })
	g, ch := start(t, func(c *session.Config) { c.Image = image; c.Poll = 200 * time.Millisecond })
	handle(t, g, msg("before"))
	ch.waitSent(t, 1, 60*time.Second)
	sid := g.Sessions()[0].ID
	g.Manager.StopSession(ctx, sid)
	if err := d.RemoveImage(ctx, image); err != nil {
		t.Fatal(err)
	}
	handle(t, g, msg("while gone"))
	got := ch.waitSent(t, 2, 60*time.Second)
	if !strings.Contains(got[1].Text, "could not be started") {
		t.Fatalf("lasting failure reply = %q", got[1].Text)
	}
	if err := d.TagImage(ctx, gatewaytest.Image, image); err != nil {
		t.Fatal(err)
	}
	handle(t, g, msg("after"))
	got = ch.waitSent(t, 3, 60*time.Second)
	if got[2].Text != "echo: after" {
		t.Fatalf("after restore: %q", got[2].Text)
	}
}

// engineProxy is a TEST-ONLY unix socket that forwards to the Docker
// engine and can be cut, to make the engine unreachable for a while.
type engineProxy struct {
	path string
	mu   sync.Mutex
	ln   net.Listener
	open []net.Conn
}

func newEngineProxy(t *testing.T) *engineProxy {
	p := &engineProxy{path: filepath.Join(t.TempDir(), "engine.sock")}
	p.up(t)
	t.Cleanup(p.down)
	return p
}

func (p *engineProxy) up(t *testing.T) {
	os.Remove(p.path)
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e, err := net.Dial("unix", "/var/run/docker.sock")
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.open = append(p.open, c, e)
			p.mu.Unlock()
			go func() { io.Copy(e, c); e.Close() }()
			go func() { io.Copy(c, e); c.Close() }()
		}
	}()
}

func (p *engineProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.open {
		c.Close()
	}
	p.open = nil
}

func TestEngineUnreachableThenBack(t *testing.T) {
	t.Parallel()
	proxy := newEngineProxy(t)
	rt, err := container.NewDocker("unix://" + proxy.path)
	if err != nil {
		t.Fatal(err)
	}
	ch := newFakeChannel()
	g := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{ch}, Runtime: rt,
		Config: func(c *session.Config) { c.Poll = 200 * time.Millisecond }})
	g.Wire("fake", "room", gatewaytest.Wire{IsDM: true})
	ctx := context.Background()

	handle(t, g, msg("one"))
	ch.waitSent(t, 1, 60*time.Second)
	sid := g.Sessions()[0].ID
	g.Manager.StopSession(ctx, sid)

	// A short outage: the message waits and is answered when the engine is back.
	proxy.down()
	handle(t, g, msg("two"))
	time.Sleep(400 * time.Millisecond)
	proxy.up(t)
	got := ch.waitSent(t, 2, 60*time.Second)
	if got[1].Text != "echo: two" {
		t.Fatalf("after a short outage: %q", got[1].Text)
	}
	g.Manager.StopSession(ctx, sid)

	// A lasting outage: the sender is told; berth keeps running.
	proxy.down()
	handle(t, g, msg("three"))
	got = ch.waitSent(t, 3, 60*time.Second)
	if !strings.Contains(got[2].Text, "could not be started") {
		t.Fatalf("lasting outage reply = %q", got[2].Text)
	}
	proxy.up(t)
	handle(t, g, msg("four"))
	got = ch.waitSent(t, 4, 60*time.Second)
	if got[3].Text != "echo: four" {
		t.Fatalf("after the engine came back: %q", got[3].Text)
	}
}
