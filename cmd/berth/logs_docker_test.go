package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// opsChannel is a TEST-ONLY channel: the test hands messages to the
// manager and reads the replies it sent.
type opsChannel struct {
	mu   sync.Mutex
	sent []channels.Outbound
}

func (c *opsChannel) Type() string { return "ops" }

func (c *opsChannel) Run(ctx context.Context, h channels.Handler) error {
	<-ctx.Done()
	return nil
}

func (c *opsChannel) Send(ctx context.Context, out channels.Outbound) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, out)
	return "p" + strconv.Itoa(len(c.sent)), nil
}

func (c *opsChannel) replies() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, o := range c.sent {
		out = append(out, o.Text)
	}
	return out
}

// startOps starts a test gateway whose containers' output is captured as
// `berth run` captures it, sends one message and waits for the answer.
func startOps(t *testing.T, adjust func(*session.Config)) (*gatewaytest.Gateway, string) {
	t.Helper()
	d := gatewaytest.RequireDocker(t)
	home := t.TempDir()
	clogs := newContainerLogs(home, d, nil, nil)
	t.Cleanup(func() { clogs.close(5 * time.Second) })
	ch := &opsChannel{}
	g := gatewaytest.Start(t, gatewaytest.Options{Home: home, Channels: []channels.Channel{ch}, Config: func(c *session.Config) {
		c.ContainerLogs = clogs.Capture
		if adjust != nil {
			adjust(c)
		}
	}})
	g.Wire("ops", "room", gatewaytest.Wire{})
	err := g.Manager.Handle(context.Background(), channels.Inbound{ChannelType: "ops", PlatformID: "room", MessageID: "m1",
		Sender: channels.User{ID: "u1", Name: "Ann"}, Text: "hi", IsDM: true, Mentioned: true, Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	g.WaitIdle(60 * time.Second)
	if got := ch.replies(); len(got) != 1 || got[0] != "echo: hi" {
		t.Fatalf("replies = %q", got)
	}
	ss := g.Sessions()
	if len(ss) != 1 {
		t.Fatalf("%d sessions", len(ss))
	}
	return g, ss[0].ID
}

// TestLogsShowsContainerOutput checks `berth logs --containers` shows what
// a real agent container printed, tagged with its session.
func TestLogsShowsContainerOutput(t *testing.T) {
	t.Parallel()
	g, sid := startOps(t, nil)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var out, errOut bytes.Buffer
		if err := cmdLogs(context.Background(), []string{"--home", g.Home, "--containers", "--session", sid[:8]}, &out, &errOut); err != nil {
			t.Fatalf("berth logs: %v\n%s", err, errOut.String())
		}
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.Contains(line, "runner started") {
				if !strings.Contains(line, "stderr") || !strings.Contains(line, "session="+sid) {
					t.Fatalf("container line not tagged with stream and session: %q", line)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no \"runner started\" line after 20s:\n%s", out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
