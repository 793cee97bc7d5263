package session_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/channelstest"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// startLimited starts a gateway whose "main" group has containerConfig,
// sweeping often, with its log (JSON) kept for the test to read.
func startLimited(t *testing.T, containerConfig string) (*gatewaytest.Gateway, *fakeChannel, *channelstest.Buffer) {
	t.Helper()
	logs := new(channelstest.Buffer)
	g, ch := start(t, func(c *session.Config) {
		c.Poll = 100 * time.Millisecond
		c.Log = slog.New(slog.NewJSONHandler(logs, nil))
	})
	ctx := context.Background()
	ag, err := g.Store.Group(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Store.UpdateGroupConfig(ctx, ag.ID, "", "", containerConfig); err != nil {
		t.Fatal(err)
	}
	return g, ch, logs
}

// TestPidsLimitIsReported: the agent starts processes until its pids
// limit refuses them (from inside its container, as a fork bomb would).
// The host keeps serving; the person is told once what limit was hit,
// and the log says so.
func TestPidsLimitIsReported(t *testing.T) {
	t.Parallel()
	g, ch, logs := startLimited(t, `{"pids":24}`)
	handle(t, g, msg("hello"))
	ch.waitSent(t, 1, 60*time.Second)
	s := g.Sessions()[0]
	// Not in a pipeline: the agent's shell (container/toolbox) runs a
	// pipeline's background jobs as goroutines of its left side, which
	// end with the shell, not as processes that outlive it.
	out, _ := g.Exec(s.ID, `for i in $(seq 60); do sleep 3 & done 2>&1; wait`)
	if !strings.Contains(out, "fork") && !strings.Contains(out, "Resource temporarily unavailable") {
		t.Fatalf("the pids limit did not refuse the agent's processes: %q", out)
	}
	notice := waitFor(t, ch, 30*time.Second, func(o channels.Outbound) bool { return strings.Contains(o.Text, "limit of 24 processes") })
	if notice.PlatformID != "room" {
		t.Fatalf("the notice went to %q", notice.PlatformID)
	}
	if !strings.Contains(logs.String(), `"msg":"pids limit reached"`) {
		t.Fatalf("no log line names the pids limit:\n%.2000s", logs.String())
	}
	handle(t, g, msg("still here"))
	waitFor(t, ch, 60*time.Second, func(o channels.Outbound) bool { return o.Text == "echo: still here" })
	n := 0
	for _, o := range ch.Sent() {
		if strings.Contains(o.Text, "processes") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the person was told %d times, want once", n)
	}
}

// TestChildOutOfMemoryIsReported: a program the agent runs (not the
// runner) is killed for memory while the container keeps running. The
// person is told once, and the session keeps answering.
func TestChildOutOfMemoryIsReported(t *testing.T) {
	t.Parallel()
	g, ch, _ := startLimited(t, `{"memory":67108864}`)
	handle(t, g, msg("hello"))
	ch.waitSent(t, 1, 60*time.Second)
	s := g.Sessions()[0]
	// dd's 256 MiB buffer cannot fit under a 64 MiB limit.
	out, _ := g.Exec(s.ID, `dd if=/dev/zero of=/dev/null bs=256M count=1; echo "dd: $?"`)
	if strings.Contains(out, "dd: 0") {
		t.Fatalf("dd was not stopped by the memory limit: %q", out)
	}
	waitFor(t, ch, 30*time.Second, func(o channels.Outbound) bool {
		return strings.Contains(o.Text, "ran out of memory (limit 64 MiB)")
	})
	handle(t, g, msg("still here"))
	waitFor(t, ch, 60*time.Second, func(o channels.Outbound) bool { return o.Text == "echo: still here" })
}
