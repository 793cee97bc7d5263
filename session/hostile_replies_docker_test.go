package session_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
	"github.com/berth-dev/berth/session/sessiondb"
)

// The tests in this file play a hostile agent that abuses its replies:
// through the TEST-ONLY echo directives (sendto, flood, failbig) the
// runner inside a real container writes what such an agent would write.

// inboundRows counts the rows of a session's inbound.db that match where.
func inboundRows(t *testing.T, g *gatewaytest.Gateway, table, where string) int {
	t.Helper()
	s := g.Sessions()[0]
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(g.SessionDir(s), sessiondb.InDir, sessiondb.InboundFile)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM ` + table + ` WHERE ` + where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReplyToAnotherConversationIsRefused: the agent addresses its reply
// to a conversation that is not its session's. berth must not deliver it,
// must record it and tell the agent, and must keep serving both.
func TestReplyToAnotherConversationIsRefused(t *testing.T) {
	t.Parallel()
	g, ch := start(t, nil)
	g.Wire("fake", "other", gatewaytest.Wire{IsDM: true})
	handle(t, g, msg("sendto fake other LEAK into another conversation"))
	// The notice left for the agent is context-only, so the session does
	// not go idle (issue 14 is about that): wait for the notice instead.
	for deadline := time.Now().Add(60 * time.Second); inboundRows(t, g, "messages_in", "kind = 'system'") == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the reply was not settled after 60s")
		}
	}
	for _, o := range ch.Sent() {
		if strings.Contains(o.Text, "LEAK") {
			t.Fatalf("a reply addressed to another conversation was delivered to %s: %q", o.PlatformID, o.Text)
		}
	}
	if n := inboundRows(t, g, "delivered", "status = 'refused'"); n != 1 {
		t.Fatalf("%d refused deliveries recorded, want 1", n)
	}
	if n := inboundRows(t, g, "messages_in", "kind = 'system' AND content LIKE '%reply_refused%' AND platform_id = 'room'"); n != 1 {
		t.Fatalf("the agent was not told in its own conversation (%d notices)", n)
	}
	handle(t, g, msg("still here"))
	in := msg("hello other")
	in.PlatformID = "other"
	handle(t, g, in)
	got := ch.waitSent(t, 2, 60*time.Second)
	want := map[string]string{"room": "echo: still here", "other": "echo: hello other"}
	for _, o := range got {
		if want[o.PlatformID] != o.Text {
			t.Fatalf("reply %q went to %s", o.Text, o.PlatformID)
		}
	}
}

// TestReplyFloodIsCapped: one turn writes thousands of replies. berth
// delivers up to the cap, tells the person once, records the rest, and
// the session keeps answering.
func TestReplyFloodIsCapped(t *testing.T) {
	t.Parallel()
	const perTurn = 5
	g, ch := start(t, func(c *session.Config) { c.MaxRepliesPerTurn = perTurn })
	handle(t, g, msg("flood 5000"))
	g.WaitIdle(2 * time.Minute)
	var floods, notices int
	for _, o := range ch.Sent() {
		switch {
		case strings.HasPrefix(o.Text, "echo: flood"):
			floods++
		case strings.Contains(o.Text, "did not deliver the rest"):
			notices++
		}
	}
	if floods != perTurn || notices != 1 {
		t.Fatalf("delivered %d flood replies and %d notices, want %d and 1", floods, notices, perTurn)
	}
	if n := inboundRows(t, g, "delivered", "status = 'capped'"); n != 5000-perTurn {
		t.Fatalf("%d capped replies recorded, want %d", n, 5000-perTurn)
	}
	before := len(ch.Sent())
	handle(t, g, msg("after the flood"))
	if got := ch.waitSent(t, before+1, 60*time.Second); got[before].Text != "echo: after the flood" {
		t.Fatalf("reply after the flood = %q", got[before].Text)
	}
}

// TestFailureTextIsCapped: the agent fails its turn with a 10 MB error.
// The person is told it failed, in about a kilobyte, not ten megabytes.
func TestFailureTextIsCapped(t *testing.T) {
	t.Parallel()
	g, ch := start(t, nil)
	handle(t, g, msg("failbig 10000000"))
	got := ch.waitSent(t, 1, 60*time.Second)
	if !strings.HasPrefix(got[0].Text, "⚠️ Sorry, I could not answer your message") {
		t.Fatalf("reply = %.80q", got[0].Text)
	}
	if n := len(got[0].Text); n > 1200 {
		t.Fatalf("the failure text sent to the person is %d bytes; want about 1 KiB at most", n)
	}
}

// TestChurningOutFolderCostsLittle: the agent rewrites files in out/ (and
// touches its reply database) in a tight loop. Each event used to cost a
// full delivery pass; now only the reply database counts, and passes are
// rate-limited, so the gateway (this process) stays nearly idle.
//
// It runs alone (not parallel): it measures this whole process's CPU.
func TestChurningOutFolderCostsLittle(t *testing.T) {
	g, ch := start(t, nil)
	handle(t, g, msg("hello"))
	ch.waitSent(t, 1, 60*time.Second)
	s := g.Sessions()[0]

	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	const churn = 5 * time.Second
	before, began := cpu(), time.Now()
	out, err := g.Exec(s.ID, `end=$(( $(date +%s) + 5 )); i=0
		while [ "$(date +%s)" -lt "$end" ]; do
			i=$((i+1)); echo "$i" > /workspace/out/churn-$((i % 50)); touch /workspace/out/outbound.db
		done; echo "$i rounds"`)
	if err != nil {
		t.Fatalf("churn: %v: %s", err, out)
	}
	used, wall := cpu()-before, time.Since(began)
	t.Logf("agent churned out/ for %v (%s); the gateway used %v of CPU (%.0f%% of one core)",
		churn, strings.TrimSpace(out), used.Round(time.Millisecond), 100*used.Seconds()/wall.Seconds())
	// A pass per event cost about 90% of a core when the agent's shell was
	// busybox, which forks for every date and so churned some 1,500 rounds
	// in 5 s; berth's own shell runs them in-process, some 7,000 rounds,
	// and what is left per event (reading inotify, waking the watcher) is
	// about 30% of a core for it. The bound leaves room for a slow
	// machine, not for a pass per event.
	if used > wall/2 {
		t.Fatalf("the gateway used %v of CPU in %v while the agent churned its out/ folder", used, wall)
	}
	in := msg("still answering")
	handle(t, g, in)
	if got := ch.waitSent(t, 2, 60*time.Second); got[1].Text != "echo: still answering" {
		t.Fatalf("reply = %q", got[1].Text)
	}
}
