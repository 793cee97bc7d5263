package session_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// TestAgentFillingItsFolderIsStopped: an agent writes as fast as it can
// into a folder it can write (its group folder; its session's out/), far
// past that folder's quota. Its container is stopped within seconds, the
// next message to it is refused with the reason, another group in another
// conversation keeps answering, the store is intact, and once the file is
// gone on the host it answers again.
func TestAgentFillingItsFolderIsStopped(t *testing.T) {
	tests := []struct {
		name, config string
		inside       string                                              // the file the agent fills, in the container
		host         func(g *gatewaytest.Gateway, s data.Session) string // the same file on the host
		refusal      string
	}{
		{"group folder", `{"disk_quota_mb":20}`, "/workspace/group/fill",
			func(g *gatewaytest.Gateway, s data.Session) string { return filepath.Join(g.GroupDir("hog"), "fill") },
			"this agent's folder is over its disk quota"},
		{"session out folder", `{"session_disk_quota_mb":10}`, "/workspace/out/fill",
			func(g *gatewaytest.Gateway, s data.Session) string { return filepath.Join(g.OutDir(s), "fill") },
			"this conversation's session folder is over its disk quota"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fillFolder(t, tt.config, tt.inside, tt.host, tt.refusal)
		})
	}
}

func fillFolder(t *testing.T, config, inside string, host func(*gatewaytest.Gateway, data.Session) string, want string) {
	ctx := context.Background()
	ch := newFakeChannel()
	g := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{ch}, Config: func(c *session.Config) {
		c.DiskQuotaEvery = 200 * time.Millisecond
		c.Poll = 200 * time.Millisecond
	}})
	w := g.Wire("fake", "room", gatewaytest.Wire{IsDM: true, Group: "hog"})
	if err := g.Store.UpdateGroupConfig(ctx, w.AgentGroupID, "", "", config); err != nil {
		t.Fatal(err)
	}
	g.Wire("fake", "other", gatewaytest.Wire{IsDM: true, Group: "calm"})

	handle(t, g, msg("hello"))
	ch.waitSent(t, 1, 60*time.Second)
	s := g.Sessions()[0]
	sid := s.ID

	// From inside the box: up to 1 GiB, or until the container dies.
	began := time.Now()
	done := make(chan string, 1)
	go func() {
		out, _ := g.Exec(sid, "dd if=/dev/zero of="+inside+" bs=1M count=1000 2>&1")
		done <- out
	}()
	fill := host(g, s)
	deadline := time.Now().Add(20 * time.Second)
	for len(g.Containers(sid)) > 0 {
		if time.Now().After(deadline) {
			fi, _ := os.Stat(fill)
			t.Fatalf("the container still runs %v after it began filling its folder (%d bytes written)", time.Since(began), size(fi))
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopped := time.Since(began)
	fi, _ := os.Stat(fill)
	t.Logf("container stopped %v after the fill began, %d MiB written", stopped.Round(time.Millisecond), size(fi)>>20)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the writer inside the container never ended")
	}

	// The next message to the group is refused with the reason, and no
	// container starts for it.
	in := msg("after the fill")
	handle(t, g, in)
	refusal := waitFor(t, ch, 30*time.Second, func(o channels.Outbound) bool { return o.ReplyTo == in.MessageID })
	if !strings.Contains(refusal.Text, want) || !strings.Contains(refusal.Text, "an admin must free space") {
		t.Fatalf("refusal = %q", refusal.Text)
	}
	if n := len(g.Containers(sid)); n != 0 {
		t.Fatalf("%d containers started for a group over its quota", n)
	}
	// The conversation was told once that the container was stopped.
	notices := 0
	for _, o := range ch.Sent() {
		if strings.Contains(o.Text, "Its container was stopped") {
			notices++
		}
	}
	if notices != 1 {
		t.Errorf("%d stop notices in the conversation, want 1", notices)
	}

	// Another group, in another conversation, keeps answering.
	other := msg("still here")
	other.PlatformID = "other"
	handle(t, g, other)
	if got := waitFor(t, ch, 60*time.Second, func(o channels.Outbound) bool { return o.ReplyTo == other.MessageID }); got.Text != "echo: still here" {
		t.Fatalf("other group replied %q", got.Text)
	}

	// The store is intact.
	st, err := data.Open(ctx, paths.Home(g.Home).Store())
	if err != nil {
		t.Fatalf("open the store after the fill: %v", err)
	}
	gs, err := st.Groups(ctx)
	st.Close()
	if err != nil || len(gs) != 2 {
		t.Fatalf("store after the fill: %d groups, %v", len(gs), err)
	}

	// Space is freed on the host: the group answers again.
	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // a few measuring passes
	back := msg("back")
	handle(t, g, back)
	if got := waitFor(t, ch, 60*time.Second, func(o channels.Outbound) bool { return o.ReplyTo == back.MessageID }); got.Text != "echo: back" {
		t.Fatalf("after space was freed: %q", got.Text)
	}
}

func size(fi os.FileInfo) int64 {
	if fi == nil {
		return 0
	}
	return fi.Size()
}

// waitFor waits for a sent message that ok accepts.
func waitFor(t *testing.T, ch *fakeChannel, timeout time.Duration, ok func(channels.Outbound) bool) channels.Outbound {
	t.Helper()
	deadline := time.After(timeout)
	for {
		for _, o := range ch.Sent() {
			if ok(o) {
				return o
			}
		}
		select {
		case <-ch.ready:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no matching reply after %v: %+v", timeout, ch.Sent())
		}
	}
}
