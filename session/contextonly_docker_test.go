package session_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
	"github.com/berth-dev/berth/session/sessiondb"
)

// idleCPUCeiling is the most CPU, in percent of one CPU, a runner may use
// while the only rows pending are context: it has nothing to do but poll
// now and then. A runner that spins on such a row uses all it is given.
const idleCPUCeiling = 10

// TestContextOnlyRowIsNotWork: a context-only row left pending (an
// accumulate wiring's chatter, or berth's own note that a reply could not
// be delivered for good) is not work. While it waits, the runner sleeps
// (its CPU, read from the engine's stats, is near zero), the container is
// idle-stopped on time, and its exit wakes nothing; the row then rides
// along with the next message that triggers a turn.
func TestContextOnlyRowIsNotWork(t *testing.T) {
	t.Parallel()
	const idle = 6 * time.Second
	tests := []struct {
		name string
		wire gatewaytest.Wire
		// first wakes the container; its reply fails for good when
		// failFirst is set, and chatter (when not empty) follows it.
		first     string
		failFirst bool
		chatter   string
		want      string // in the text of the context-only row left pending
		trigger   string // the next message, which triggers a turn
	}{
		{
			name:  "accumulate wiring",
			wire:  gatewaytest.Wire{Engage: data.EngagePattern, Pattern: "^(hello|context)$", Ignored: data.IgnoredAccumulate},
			first: "hello", chatter: "chatter nobody asked the agent about",
			want: "chatter nobody asked the agent about", trigger: "context",
		},
		{
			name:  "reply failed for good",
			wire:  gatewaytest.Wire{IsDM: true},
			first: "hello", failFirst: true,
			want: "could not be delivered", trigger: "context",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ch := newFakeChannel()
			g := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{ch}, Config: func(c *session.Config) {
				c.IdleTimeout, c.Poll = idle, 200*time.Millisecond
			}})
			g.Wire("fake", "room", tt.wire)
			send := func(text string) {
				in := msg(text)
				in.IsDM = tt.wire.IsDM // an accumulate wiring is for a channel: every DM engages
				handle(t, g, in)
			}
			if tt.failFirst {
				setFailing(ch, math.MaxInt)
				send(tt.first)
				waitPending(t, g, func(m sessiondb.InMessage) bool { return m.Content.Event == "delivery_failed" })
				setFailing(ch, 0)
			} else {
				send(tt.first)
				ch.waitSent(t, 1, time.Minute)
			}
			if tt.chatter != "" {
				send(tt.chatter)
			}
			left := time.Now()
			sid := onlySession(t, g).ID
			row := waitPending(t, g, func(m sessiondb.InMessage) bool { return strings.Contains(m.Content.Text, tt.want) })
			if row.Trigger {
				t.Fatalf("row %q triggers a turn; want a context-only row", row.Content.Text)
			}

			ctrs := g.Containers(sid)
			if len(ctrs) != 1 {
				t.Fatalf("%d containers with a context-only row pending, want the one still running", len(ctrs))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			st, err := g.Docker.Stats(ctx, ctrs[0].ID)
			if err != nil {
				t.Fatalf("read the runner's CPU: %v", err)
			}
			t.Logf("runner CPU with a context-only row pending: %.2f%% of one CPU", st.CPUPercent)
			if st.CPUPercent > idleCPUCeiling {
				t.Errorf("runner uses %.1f%% of a CPU with only a context-only row pending, want under %d%%", st.CPUPercent, idleCPUCeiling)
			}

			// On time: within the idle timeout of the last activity, plus
			// a few sweeps and the stop's grace.
			onTime := left.Add(idle + 10*time.Second)
			for len(g.Containers(sid)) > 0 {
				if time.Now().After(onTime) {
					t.Fatalf("container still running %v after the context-only row was left (idle timeout %v)", time.Since(left).Round(time.Second), idle)
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.Logf("idle-stopped %v after the context-only row was left (idle timeout %v)", time.Since(left).Round(100*time.Millisecond), idle)
			// The exit woke nothing: no container comes back over several
			// sweeps, and the row still waits, untouched.
			time.Sleep(2 * time.Second)
			if n := len(g.Containers(sid)); n != 0 {
				t.Fatalf("%d containers woken by the exit with only a context-only row pending", n)
			}
			if s := onlySession(t, g); s.ContainerState != data.ContainerStopped {
				t.Fatalf("container_state = %q, want stopped", s.ContainerState)
			}
			waitPending(t, g, func(m sessiondb.InMessage) bool { return m.ID == row.ID })

			// It rides along with the next message that triggers.
			before := len(ch.Sent())
			send(tt.trigger)
			got := ch.waitSent(t, before+1, 60*time.Second)[before]
			if !strings.HasPrefix(got.Text, "echo: context: ") || !strings.Contains(got.Text, tt.want) {
				t.Fatalf("reply to %q = %q: the context-only row did not ride along", tt.trigger, got.Text)
			}
			waitUntilDocker(t, "the context-only row still pending after the turn it rode along with", func() bool {
				open, err := (sessiondb.Host{Dir: g.SessionDir(onlySession(t, g))}).Open(context.Background())
				return err == nil && len(open) == 0
			})
		})
	}
}

// setFailing makes the fake channel fail its next n sends (0: none).
func setFailing(ch *fakeChannel, n int) {
	ch.mu.Lock()
	ch.fail = n
	ch.mu.Unlock()
}

// waitPending waits until the only session has a pending row that match
// accepts, and returns it.
func waitPending(t *testing.T, g *gatewaytest.Gateway, match func(sessiondb.InMessage) bool) sessiondb.InMessage {
	t.Helper()
	var found sessiondb.InMessage
	waitUntilDocker(t, "no such pending row", func() bool {
		open, err := (sessiondb.Host{Dir: g.SessionDir(onlySession(t, g))}).Open(context.Background())
		if err != nil {
			return false
		}
		for _, m := range open {
			if match(m) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// waitUntilDocker polls cond until it holds, failing the test after a
// minute: a real container is slower than an in-process one.
func waitUntilDocker(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after a minute: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
