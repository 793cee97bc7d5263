package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
	"github.com/berth-dev/berth/session/sessiondb"
)

// TestTurnLimits runs turnLimitCases through real containers: the runner's
// heartbeat is its provider's progress, so a hung turn is stopped at
// stuck_timeout and its sender told which limit it hit, at once and not
// retried; slow progress longer than stuck_timeout is answered; a turn past
// turn_timeout is stopped. The session answers the next message. For the
// hang, the time from the claim to the sender being told is logged.
func TestTurnLimits(t *testing.T) {
	t.Parallel()
	for _, tt := range turnLimitCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g, ch := start(t, func(c *session.Config) {
				c.Poll = 100 * time.Millisecond // the sweep that applies the limits
				if tt.groupConfig == "" {
					operatorLimits(c)
				}
			})
			if tt.groupConfig != "" {
				setGroupConfig(t, g, tt.groupConfig)
			}
			sent := time.Now()
			handle(t, g, msg(tt.text))
			claimed := waitClaimedWithin(t, g, 90*time.Second)
			got := ch.waitSent(t, 1, 90*time.Second)
			told := time.Now()
			t.Logf("%s: claimed %v after it was sent; told %v after the claim (stuck_timeout %v, turn_timeout %v, sweep 100ms)",
				tt.text, claimed.Sub(sent).Round(time.Millisecond), told.Sub(claimed).Round(time.Millisecond), testStuck, testTurn)
			checkTurnLimit(t, g, tt, got[0].Text)
			handle(t, g, msg("after"))
			if got := ch.waitSent(t, 2, 90*time.Second); got[1].Text != "echo: after" {
				t.Fatalf("reply after the limit = %q", got[1].Text)
			}
		})
	}
}

// waitClaimedWithin waits until the only session's runner has claimed a
// message, and returns when the host saw it.
func waitClaimedWithin(t *testing.T, g *gatewaytest.Gateway, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ss := g.Sessions(); len(ss) == 1 {
			acks, err := sessiondb.Host{Dir: g.SessionDir(ss[0])}.Acks(context.Background())
			if err == nil {
				for _, a := range acks {
					if a.Status == sessiondb.StatusProcessing {
						return time.Now()
					}
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no message claimed after %v", timeout)
	return time.Time{}
}
