package session_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
	"github.com/berth-dev/berth/session/sessiondb"
)

// TestDiskFull fills the filesystem the session folders live on (a small
// tmpfs) and sends a message: it is refused with a clear error, nothing is
// half-written, and once space returns everything works again.
func TestDiskFull(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	t.Parallel()
	gatewaytest.RequireDocker(t) // before the mount: a skip must not leave it behind
	home := t.TempDir()
	sessions := paths.Home(home).Sessions()
	os.MkdirAll(sessions, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", sessions).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", sessions).Run() })
	ch := newFakeChannel()
	g := gatewaytest.Start(t, gatewaytest.Options{Home: home, Channels: []channels.Channel{ch}})
	g.Wire("fake", "room", gatewaytest.Wire{IsDM: true})

	handle(t, g, msg("hello"))
	ch.waitSent(t, 1, 60*time.Second)

	// Fill the disk.
	var st syscall.Statfs_t
	syscall.Statfs(sessions, &st)
	filler := filepath.Join(sessions, "filler")
	if err := os.WriteFile(filler, make([]byte, int64(st.Bavail)*st.Bsize), 0o644); err != nil && !strings.Contains(err.Error(), "no space") {
		t.Fatal(err)
	}
	big := strings.Repeat("z", 60<<10)
	in := msg(big)
	err := g.Manager.Handle(context.Background(), in)
	if err == nil {
		t.Fatal("a message that could not be stored was accepted")
	}
	got := ch.waitSent(t, 2, 30*time.Second)
	if !strings.Contains(got[1].Text, "disk is full") {
		t.Fatalf("refusal = %q", got[1].Text)
	}
	sid := g.Sessions()[0].ID
	h := sessiondb.Host{Dir: filepath.Join(sessions, g.Sessions()[0].AgentGroupID, sid)}

	// Space returns: the refused message was never half-written, and
	// berth answers again (the platform's redelivery of it included).
	os.Remove(filler)
	open, err := h.Open(context.Background())
	if err != nil {
		t.Fatalf("inbound.db after disk full: %v", err)
	}
	for _, m := range open {
		if strings.HasPrefix(m.Content.Text, "zzz") {
			t.Fatalf("refused message half-stored: %d bytes", len(m.Content.Text))
		}
	}
	handle(t, g, in) // the platform redelivers what was not acked
	handle(t, g, msg("after"))
	got = ch.waitSent(t, 4, 60*time.Second)
	if !strings.HasPrefix(got[2].Text, "echo: zzz") || got[3].Text != "echo: after" {
		t.Fatalf("after space returned: %.40q, %q", got[2].Text, got[3].Text)
	}
}
