package session_test

import (
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/session/sessiondb"
)

// TestDeliveryRetriedInOrderInProcess: sends that fail are retried, and
// replies arrive once each, in the order of their messages.
func TestDeliveryRetriedInOrderInProcess(t *testing.T) {
	t.Parallel()
	g, ch, _ := startRoom(t, nil)
	ch.mu.Lock()
	ch.fail = 2
	ch.mu.Unlock()
	want := []string{"echo: a", "echo: b", "echo: c"}
	for _, text := range []string{"a", "b", "c"} {
		handle(t, g, msg(text))
	}
	ch.waitSent(t, len(want), inProcTimeout)
	g.WaitIdle(inProcTimeout)
	got := ch.Sent()
	if len(got) != len(want) {
		t.Fatalf("%d replies, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Text != w {
			t.Fatalf("reply %d = %q, want %q", i, got[i].Text, w)
		}
	}
}

// TestDeliveryAcrossCrashInProcess: berth dies after the platform took a
// reply but before berth recorded it. The next gateway never sends it
// twice: it asks a platform that can say (and records it delivered), and
// one that cannot is not sent it again (recorded unknown).
func TestDeliveryAcrossCrashInProcess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		channel func(*platform) channels.Channel
		status  sessiondb.DeliveryStatus
	}{
		{"the platform confirms it arrived", func(p *platform) channels.Channel { return confirming{p} }, sessiondb.DeliveryDelivered},
		{"the platform cannot say", func(p *platform) channels.Channel { return p }, sessiondb.DeliveryUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPlatform("echo: x")
			ch := tt.channel(p)
			rt := newRuntime(t)
			g := startInProc(t, rt, ch, "", nil)
			g.Wire("fake", "room", berthWireDM)
			handle(t, g, msg("x"))
			select {
			case <-p.arrived:
			case <-time.After(inProcTimeout):
				t.Fatal("the reply never reached the platform")
			}
			g.Crash() // between the send and its record

			again := startInProc(t, rt, ch, g.Home, nil)
			waitUntil(t, "the reply in doubt was never settled", func() bool {
				return inboundRows(t, again, "delivered", "status = '"+string(tt.status)+"'") == 1
			})
			handle(t, again, msg("after"))
			waitUntil(t, "no reply after the restart", func() bool { return texts(p.Sent())["echo: after"] == 1 })
			again.WaitIdle(inProcTimeout)
			if got := texts(p.Sent()); got["echo: x"] != 1 || got["echo: after"] != 1 || len(p.Sent()) != 2 {
				t.Fatalf("platform got %v, want each reply once", got)
			}
		})
	}
}
