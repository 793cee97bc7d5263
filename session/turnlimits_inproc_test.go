package session_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
	"github.com/berth-dev/berth/session/sessiondb"
)

// The turn limits of these tests: short, so the tests are, and far enough
// apart that a slow machine does not blur them.
const (
	testStuck = 2 * time.Second
	testTurn  = 6 * time.Second
)

// turnLimitCase is one run of the turn limits: a message whose turn the
// TEST-ONLY echo provider scripts, and what must become of it.
type turnLimitCase struct {
	name string
	text string
	// limit is the limit that must stop the turn ("": none; the turn is
	// answered with reply).
	limit string
	reply string
	// groupConfig is the group's container_config ("": none, the
	// operator's limits hold: Config.StuckTimeout and TurnTimeout).
	groupConfig string
}

var groupLimits = `{"stuck_timeout":"` + testStuck.String() + `","turn_timeout":"` + testTurn.String() + `"}`

// turnLimitCases: a turn that hangs is stopped at stuck_timeout; one that
// makes slow progress for longer than stuck_timeout is answered; one that
// makes progress past turn_timeout is stopped there.
var turnLimitCases = []turnLimitCase{
	{name: "hang stopped at stuck_timeout", text: "hang", limit: "stuck_timeout", groupConfig: groupLimits},
	{name: "hang stopped at the operator's stuck timeout", text: "hang", limit: "stuck_timeout"},
	// 12 × 300ms = 3.6s: longer than stuck_timeout, shorter than turn_timeout.
	{name: "slow progress answered", text: "trickle 12 300ms", reply: "echo: trickled 12", groupConfig: groupLimits},
	// 40 × 300ms = 12s: past turn_timeout, progress all along.
	{name: "progress past turn_timeout stopped", text: "trickle 40 300ms", limit: "turn_timeout", groupConfig: groupLimits},
}

// operatorLimits sets the gateway's own turn limits, the defaults of a
// group whose config names none.
func operatorLimits(c *session.Config) {
	c.StuckTimeout, c.TurnTimeout = testStuck, testTurn
}

// setGroupConfig sets the container_config of the group wired to
// "fake"/"room" before any of its sessions is loaded.
func setGroupConfig(t *testing.T, g *gatewaytest.Gateway, config string) {
	t.Helper()
	ctx := context.Background()
	ag, err := g.Store.Group(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Store.UpdateGroupConfig(ctx, ag.ID, ag.Provider, ag.Model, config); err != nil {
		t.Fatal(err)
	}
}

// firstTrigger reads the status and tries of the session's first message
// from inbound.db, as a test may (berth's own file, read-only).
func firstTrigger(t *testing.T, g *gatewaytest.Gateway, s data.Session) (status string, tries int, reason string) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+sessiondb.Host{Dir: g.SessionDir(s)}.InboundPath()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT status, tries, error FROM messages_in WHERE trigger = 1 ORDER BY seq LIMIT 1`).Scan(&status, &tries, &reason); err != nil {
		t.Fatal(err)
	}
	return status, tries, reason
}

// checkTurnLimit checks what became of tt's message, given the replies
// sent: answered, or failed at once (one try, not retried) with a reason
// that names the limit and how to raise it.
func checkTurnLimit(t *testing.T, g *gatewaytest.Gateway, tt turnLimitCase, got string) {
	t.Helper()
	s := onlySession(t, g)
	if tt.limit == "" {
		if got != tt.reply {
			t.Fatalf("reply %q, want %q", got, tt.reply)
		}
		// The reply may be sent before its ack is recorded.
		waitUntil(t, "the answered message is not recorded completed", func() bool {
			status, _, _ := firstTrigger(t, g, s)
			return status == string(sessiondb.StatusCompleted)
		})
		return
	}
	status, tries, reason := firstTrigger(t, g, s)
	for _, w := range []string{"could not answer", "(" + tt.limit + ")", "raise the limit in the group's config"} {
		if !strings.Contains(got, w) {
			t.Errorf("failure reply %q does not say %q", got, w)
		}
	}
	if status != string(sessiondb.StatusFailed) || tries != 1 {
		t.Errorf("message %s after %d tries (%q); want failed after one: a stopped turn is not retried", status, tries, reason)
	}
}

// TestTurnLimitsInProcess mirrors TestTurnLimits: a hung turn fails at
// stuck_timeout, slow progress is not a hang, and a turn past
// turn_timeout fails; neither failure is retried, and the session
// answers the next message.
func TestTurnLimitsInProcess(t *testing.T) {
	t.Parallel()
	for _, tt := range turnLimitCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := func(c *session.Config) {}
			if tt.groupConfig == "" {
				cfg = operatorLimits
			}
			g, ch, rt := startRoom(t, cfg)
			if tt.groupConfig != "" {
				setGroupConfig(t, g, tt.groupConfig)
			}
			sent := time.Now()
			handle(t, g, msg(tt.text))
			got := ch.waitSent(t, 1, inProcTimeout)
			t.Logf("%s: told after %v", tt.text, time.Since(sent).Round(time.Millisecond))
			checkTurnLimit(t, g, tt, got[0].Text)
			if n := rt.Started(); n != 1 {
				t.Errorf("%d containers started for one turn, want 1", n)
			}
			handle(t, g, msg("after"))
			if got := ch.waitSent(t, 2, inProcTimeout); got[1].Text != "echo: after" {
				t.Fatalf("reply after the limit = %q", got[1].Text)
			}
		})
	}
}
