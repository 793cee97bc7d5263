package session_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/session"
)

// TestFailedTurnRetriedThenReportedInProcess mirrors
// TestRunnerKilledIsRetriedThenReported and TestProviderFailureIsReported:
// a runner that dies mid-turn leaves its claim, which is retried in a new
// container with backoff and, after the last try, fails with the reason
// told to the sender; a provider error fails at once. The session works
// afterwards.
func TestFailedTurnRetriedThenReportedInProcess(t *testing.T) {
	t.Parallel()
	const maxTries, retryBase = 3, 40 * time.Millisecond
	tests := []struct {
		name        string
		text        string
		want        []string // in the failure reply
		wantStarted int      // containers until the failure is told
		atLeast     time.Duration
	}{
		// One container per try; backoff RetryBase·2^tries after the
		// first and second tries.
		{"crash is retried with backoff, then reported", "crash",
			[]string{"could not answer", "exited (code 137)"}, maxTries, retryBase<<1 + retryBase<<2},
		{"provider failure is reported at once", "fail", []string{"could not answer", "failing as asked"}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g, ch, rt := startRoom(t, func(c *session.Config) { c.MaxTries = maxTries; c.RetryBase = retryBase })
			began := time.Now()
			handle(t, g, msg(tt.text))
			got := ch.waitSent(t, 1, inProcTimeout)
			took := time.Since(began)
			for _, w := range tt.want {
				if !strings.Contains(got[0].Text, w) {
					t.Errorf("failure reply %q does not say %q", got[0].Text, w)
				}
			}
			if n := rt.Started(); n != tt.wantStarted {
				t.Errorf("%d containers started until the failure was told, want %d", n, tt.wantStarted)
			}
			if took < tt.atLeast {
				t.Errorf("failure told after %v, before the backoff of %v", took, tt.atLeast)
			}
			handle(t, g, msg("after"))
			if got := ch.waitSent(t, 2, inProcTimeout); got[1].Text != "echo: after" {
				t.Fatalf("reply after failure = %q", got[1].Text)
			}
			if n := rt.Peak(); n != 1 {
				t.Errorf("%d containers ran at once for one session", n)
			}
		})
	}
}

// TestContainerKilledMidTurnInProcess mirrors
// TestContainerStoppedFromOutsideMidTurn: a container killed from outside
// while it works is replaced, and the message it held is answered once.
func TestContainerKilledMidTurnInProcess(t *testing.T) {
	t.Parallel()
	g, ch, rt := startRoom(t, nil)
	handle(t, g, msg("sleep 300ms survived"))
	s := onlySession(t, g)
	waitClaimed(t, g, s)
	ctr := g.Containers(s.ID)
	if len(ctr) != 1 {
		t.Fatalf("%d containers mid-turn", len(ctr))
	}
	if err := rt.Kill(context.Background(), ctr[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := ch.waitSent(t, 1, inProcTimeout); got[0].Text != "echo: survived" {
		t.Fatalf("reply = %q", got[0].Text)
	}
	g.WaitIdle(inProcTimeout)
	if n := len(ch.Sent()); n != 1 {
		t.Fatalf("%d replies to one message", n)
	}
	if c := g.Containers(s.ID); len(c) != 1 || c[0].ID == ctr[0].ID {
		t.Fatalf("expected a new container, have %+v", c)
	}
}
