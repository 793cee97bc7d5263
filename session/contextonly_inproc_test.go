package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/berth-dev/berth/container/containertest"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
	"github.com/berth-dev/berth/session/sessiondb"
)

// TestExitWithOnlyContextRowsWakesNothingInProcess: a container that goes
// (idle-stopped, or killed) while the only rows pending are context (an
// accumulate wiring's chatter) wakes nothing: no container starts until a
// message triggers a turn, and then the chatter rides along with it.
func TestExitWithOnlyContextRowsWakesNothingInProcess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		idle time.Duration
		// exit makes the session's container go; nil: wait for the idle stop.
		exit func(t *testing.T, rt *containertest.Runtime, id string)
	}{
		{name: "idle-stopped", idle: 300 * time.Millisecond},
		{name: "killed", idle: time.Hour, exit: func(t *testing.T, rt *containertest.Runtime, id string) {
			if err := rt.Stop(context.Background(), id, 0); err != nil {
				t.Fatalf("kill the container: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := newRuntime(t)
			ch := newFakeChannel()
			g := startInProc(t, rt, ch, "", func(c *session.Config) { c.IdleTimeout = tt.idle })
			g.Wire("fake", "room", gatewaytest.Wire{Engage: data.EngagePattern, Pattern: "^(hello|context)$", Ignored: data.IgnoredAccumulate})
			send := func(text string) {
				in := msg(text)
				in.IsDM = false // every DM engages; accumulate is for a channel
				handle(t, g, in)
			}
			send("hello")
			ch.waitSent(t, 1, inProcTimeout)
			send("chatter one")
			send("chatter two")
			s := onlySession(t, g)
			db := sessiondb.Host{Dir: g.SessionDir(s)}
			ctrs := g.Containers(s.ID)
			if len(ctrs) != 1 {
				t.Fatalf("%d containers after the first turn, want 1", len(ctrs))
			}
			if tt.exit != nil {
				tt.exit(t, rt, ctrs[0].ID)
			}
			waitUntil(t, "container still there with only context rows pending", func() bool { return len(g.Containers(s.ID)) == 0 })
			// Twenty sweeps: time for the exit, or the sweep, to wake the
			// session if they took the chatter for work.
			time.Sleep(20 * 50 * time.Millisecond)
			if n := rt.Started(); n != 1 {
				t.Fatalf("%d containers started, want 1: an exit with only context rows woke the session", n)
			}
			if n := rt.Live(); n != 0 {
				t.Fatalf("%d runners live with only context rows pending", n)
			}
			open, err := db.Open(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(open) != 2 || open[0].Trigger || open[1].Trigger || open[0].Tries != 0 || open[1].Tries != 0 {
				t.Fatalf("pending rows = %+v, want the two chatter rows, untouched", open)
			}

			send("context")
			if got := ch.waitSent(t, 2, inProcTimeout)[1].Text; got != "echo: context: chatter one | chatter two" {
				t.Fatalf("reply = %q: the context rows did not ride along with the next turn", got)
			}
			if n := rt.Started(); n != 2 {
				t.Fatalf("%d containers started, want 2", n)
			}
			waitUntil(t, "context rows still pending after the turn they rode along with", func() bool {
				open, err := db.Open(context.Background())
				return err == nil && len(open) == 0
			})
		})
	}
}
