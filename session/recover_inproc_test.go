package session_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// berthWireDM is the wiring of the fake channel's one conversation.
var berthWireDM = gatewaytest.Wire{IsDM: true}

// TestKilledWithMessagesPendingInProcess mirrors TestKilledWithMessagesPending:
// berth dies with messages waiting while its container keeps working; the
// next gateway adopts the container and every message is answered exactly
// once, with never two containers for the session.
func TestKilledWithMessagesPendingInProcess(t *testing.T) {
	t.Parallel()
	const n = 8
	rt := newRuntime(t)
	ch := newFakeChannel() // the platform: it outlives berth
	g := startInProc(t, rt, ch, "", nil)
	g.Wire("fake", "room", berthWireDM)
	for i := range n {
		handle(t, g, msg(fmt.Sprintf("sleep 100ms m%d", i)))
	}
	ch.waitSent(t, 2, inProcTimeout)
	g.Crash()
	if c := rt.Live(); c != 1 {
		t.Fatalf("after the crash: %d containers, want the one still running", c)
	}

	again := startInProc(t, rt, ch, g.Home, nil)
	ch.waitSent(t, n, inProcTimeout)
	again.WaitIdle(inProcTimeout)
	got := texts(ch.Sent())
	for i := range n {
		if c := got[fmt.Sprintf("echo: m%d", i)]; c != 1 {
			t.Errorf("m%d answered %d times; replies: %v", i, c, got)
		}
	}
	if len(ch.Sent()) != n {
		t.Errorf("%d replies to %d messages: %v", len(ch.Sent()), n, got)
	}
	if s := rt.Started(); s != 1 {
		t.Errorf("%d containers started, want the one adopted", s)
	}
	if p := rt.Peak(); p != 1 {
		t.Errorf("saw %d containers for one session", p)
	}
}

// TestBerthAndContainerDieInProcess: berth and the container die together
// (the host went down) mid-turn. The next gateway removes the dead
// container, re-queues the message it had claimed and answers it once.
func TestBerthAndContainerDieInProcess(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	ch := newFakeChannel()
	g := startInProc(t, rt, ch, "", nil)
	g.Wire("fake", "room", berthWireDM)
	handle(t, g, msg("sleep 300ms found again"))
	s := onlySession(t, g)
	waitClaimed(t, g, s)
	dead := g.Containers(s.ID)
	if len(dead) != 1 {
		t.Fatalf("%d containers mid-turn", len(dead))
	}
	g.Crash()
	if err := rt.Kill(context.Background(), dead[0].ID); err != nil {
		t.Fatal(err)
	}

	again := startInProc(t, rt, ch, g.Home, nil)
	if got := ch.waitSent(t, 1, inProcTimeout); got[0].Text != "echo: found again" {
		t.Fatalf("reply after recovery = %q", got[0].Text)
	}
	again.WaitIdle(inProcTimeout)
	if n := len(ch.Sent()); n != 1 {
		t.Fatalf("%d replies to one message", n)
	}
	if c := again.Containers(""); len(c) != 1 || c[0].ID == dead[0].ID || !c[0].Running() {
		t.Fatalf("containers after recovery: %+v, want one new running one", c)
	}
	if n := rt.Started(); n != 2 {
		t.Fatalf("%d containers started, want 2", n)
	}
}
