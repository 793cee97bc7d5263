package session_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
	"github.com/berth-dev/berth/session/sessiondb"
)

// TestPlantedSymlinkIsNotFollowed: the agent owns out/, so it can replace
// outbound.db with a symlink to a host file shaped like a reply database.
// berth must not read through it (nothing of it is delivered) and must
// keep serving other sessions.
func TestPlantedSymlinkIsNotFollowed(t *testing.T) {
	t.Parallel()
	g, ch := start(t, func(c *session.Config) { c.Poll = 100 * time.Millisecond })
	handle(t, g, msg("first"))
	ch.waitSent(t, 1, 60*time.Second)
	s := g.Sessions()[0]
	g.Manager.StopSession(context.Background(), s.ID)

	// A host file that would be delivered if berth followed the link: a
	// copy of the session's reply database with one more reply in it.
	dir := paths.Home(g.Home).Session(s.AgentGroupID, s.ID)
	out := filepath.Join(dir, sessiondb.OutDir)
	bait := t.TempDir()
	b, err := os.ReadFile(filepath.Join(out, sessiondb.OutboundFile))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(bait, sessiondb.OutboundFile), b, 0o644)
	c := sessiondb.Container{InDir: filepath.Join(dir, sessiondb.InDir), OutDir: bait}
	if err := c.Send(context.Background(), sessiondb.OutMessage{ChannelType: "fake", PlatformID: "room",
		Content: sessiondb.OutContent{Text: "LEAK: read through a planted symlink"}}); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(out, sessiondb.OutboundFile))
	if err := os.Symlink(filepath.Join(bait, sessiondb.OutboundFile), filepath.Join(out, sessiondb.OutboundFile)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // several delivery sweeps
	for _, o := range ch.Sent() {
		if strings.Contains(o.Text, "LEAK") {
			t.Fatal("berth delivered a reply read through the agent's symlink")
		}
	}
	// Another conversation is served as usual.
	g.Wire("fake", "other", gatewaytest.Wire{IsDM: true})
	in := msg("still serving")
	in.PlatformID = "other"
	handle(t, g, in)
	got := ch.waitSent(t, 2, 60*time.Second)
	if got[1].Text != "echo: still serving" {
		t.Fatalf("reply = %q", got[1].Text)
	}
}
