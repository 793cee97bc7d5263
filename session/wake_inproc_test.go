package session_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// TestWakeOneContainerPerSessionInProcess mirrors
// TestConcurrentMessagesOneContainerInOrder: messages racing into one or
// several sessions wake one container per session, never two at once,
// and each session's replies come back in the order berth accepted them.
func TestWakeOneContainerPerSessionInProcess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		sessions, messages int
	}{
		{"one session", 1, 50},
		{"five sessions", 5, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := newRuntime(t)
			ch := newFakeChannel()
			g := startInProc(t, rt, ch, "", nil)
			room := func(i int) string { return fmt.Sprintf("room%d", i) }
			for s := range tt.sessions {
				g.Wire("fake", room(s), gatewaytest.Wire{IsDM: true})
			}
			// The order berth accepts them in is the order they must come
			// back in; a mutex makes that order observable while the
			// calls still race.
			var wg sync.WaitGroup
			var mu sync.Mutex
			accepted := map[string][]string{}
			for i := range tt.messages {
				for s := range tt.sessions {
					in := msg(fmt.Sprintf("m%02d", i))
					in.PlatformID = room(s)
					wg.Go(func() {
						mu.Lock()
						defer mu.Unlock()
						handle(t, g, in)
						accepted[in.PlatformID] = append(accepted[in.PlatformID], "echo: "+in.Text)
					})
				}
			}
			wg.Wait()
			got := map[string][]string{}
			for _, out := range ch.waitSent(t, tt.sessions*tt.messages, inProcTimeout) {
				got[out.PlatformID] = append(got[out.PlatformID], out.Text)
			}
			for s := range tt.sessions {
				if g, w := strings.Join(got[room(s)], ","), strings.Join(accepted[room(s)], ","); g != w {
					t.Errorf("%s: replies %s, want %s", room(s), g, w)
				}
			}
			if n := len(g.Sessions()); n != tt.sessions {
				t.Errorf("%d sessions, want %d", n, tt.sessions)
			}
			// No session ever had a second container: one started each,
			// and never more running than sessions.
			if n := rt.Started(); n != tt.sessions {
				t.Errorf("%d containers started, want %d", n, tt.sessions)
			}
			if n := rt.Peak(); n > tt.sessions {
				t.Errorf("%d containers ran at once for %d sessions", n, tt.sessions)
			}
		})
	}
}

// TestIdleStopThenWakeKeepsStateInProcess mirrors
// TestIdleStopThenWakeKeepsState: an idle container is stopped, the next
// message wakes a new one, and the session's state (the echo provider's
// turn count) survives.
func TestIdleStopThenWakeKeepsStateInProcess(t *testing.T) {
	t.Parallel()
	g, ch, rt := startRoom(t, func(c *session.Config) { c.IdleTimeout = 300 * time.Millisecond })
	handle(t, g, msg("count"))
	if got := ch.waitSent(t, 1, inProcTimeout); got[0].Text != "echo: turn 1" {
		t.Fatalf("first reply = %q", got[0].Text)
	}
	sid := onlySession(t, g).ID
	first := g.Containers(sid)
	if len(first) != 1 {
		t.Fatalf("%d containers", len(first))
	}
	waitUntil(t, "container still there long after the idle timeout", func() bool { return len(g.Containers(sid)) == 0 })
	if s := onlySession(t, g); s.ContainerState != data.ContainerStopped {
		t.Fatalf("container_state = %q after idle stop", s.ContainerState)
	}
	if n := rt.Live(); n != 0 {
		t.Fatalf("%d runners still live after the idle stop", n)
	}
	handle(t, g, msg("count"))
	if got := ch.waitSent(t, 2, inProcTimeout); got[1].Text != "echo: turn 2" {
		t.Fatalf("second reply = %q: the new container lost the session's state", got[1].Text)
	}
	second := g.Containers(sid)
	if len(second) != 1 || second[0].ID == first[0].ID {
		t.Fatalf("expected a new container, got %+v", second)
	}
	if n := rt.Started(); n != 2 {
		t.Fatalf("%d containers started, want 2", n)
	}
}

// TestRestartAdoptsOrWakesInProcess: a gateway that crashes leaves its
// container running and the next gateway on the same home adopts it (no
// new container); one that shuts down stops it and the next wakes a new
// one. Either way the session's state carries on.
func TestRestartAdoptsOrWakesInProcess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		end         func(*gatewaytest.Gateway)
		live        int // runners left between the gateways
		wantStarted int
	}{
		{"crash: adopted", (*gatewaytest.Gateway).Crash, 1, 1},
		{"shutdown: woken anew", (*gatewaytest.Gateway).Stop, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := newRuntime(t)
			ch := newFakeChannel()
			g := startInProc(t, rt, ch, "", nil)
			g.Wire("fake", "room", gatewaytest.Wire{IsDM: true})
			handle(t, g, msg("count"))
			ch.waitSent(t, 1, inProcTimeout)
			sid := onlySession(t, g).ID
			before := g.Containers(sid)
			tt.end(g)
			if n := rt.Live(); n != tt.live {
				t.Fatalf("%d runners live between the gateways, want %d", n, tt.live)
			}

			again := startInProc(t, rt, ch, g.Home, nil)
			if tt.live > 0 {
				if s := onlySession(t, again); s.ContainerState != data.ContainerRunning || s.ContainerID != before[0].ID {
					t.Fatalf("after restart: container_state %q id %s, want running %s", s.ContainerState, s.ContainerID, before[0].ID)
				}
			}
			handle(t, again, msg("count"))
			if got := ch.waitSent(t, 2, inProcTimeout); got[1].Text != "echo: turn 2" {
				t.Fatalf("reply after restart = %q", got[1].Text)
			}
			if n := rt.Started(); n != tt.wantStarted {
				t.Fatalf("%d containers started, want %d", n, tt.wantStarted)
			}
			if n := rt.Peak(); n != 1 {
				t.Fatalf("%d containers ran at once for one session", n)
			}
		})
	}
}
