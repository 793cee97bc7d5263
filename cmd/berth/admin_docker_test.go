package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// discardChannel is a TEST-ONLY channel that accepts every reply.
type discardChannel struct{}

func (discardChannel) Type() string { return "fake" }

func (discardChannel) Run(ctx context.Context, h channels.Handler) error {
	<-ctx.Done()
	return nil
}

func (discardChannel) Send(ctx context.Context, out channels.Outbound) (string, error) {
	return "p", nil
}

// TestAdminSessionsStop stops a session's container from the CLI while the
// gateway runs; the gateway sees it go.
func TestAdminSessionsStop(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{discardChannel{}}})
	g.Wire("fake", "room", gatewaytest.Wire{})
	err := g.Manager.Handle(context.Background(), channels.Inbound{ChannelType: "fake", PlatformID: "room", MessageID: "m1",
		Sender: channels.User{ID: "u1"}, Text: "hello", Mentioned: true, Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	g.WaitIdle(60 * time.Second)
	ss := g.Sessions()
	if len(ss) != 1 {
		t.Fatalf("sessions: %+v", ss)
	}
	id := ss[0].ID
	if cs := g.Containers(id); len(cs) != 1 || !cs[0].Running() {
		t.Fatalf("containers of the session: %+v", cs)
	}
	out := ok(t, g.Home, "sessions", "stop", id[:8], "--grace", "1s")
	if !strings.Contains(out, "stopped berth-main-") {
		t.Errorf("sessions stop: %q", out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := g.Store.Session(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if s.ContainerState == data.ContainerStopped && len(g.Containers(id)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after sessions stop: state %s, containers %+v", s.ContainerState, g.Containers(id))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out := ok(t, g.Home, "sessions", "stop", id); !strings.Contains(out, "has no running container") {
		t.Errorf("second stop: %q", out)
	}
}
