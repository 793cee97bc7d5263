package session_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// decoySentinel names the file a decoy folder holds: if a container can
// see it, a host folder was mounted because of the agent's symlink.
const decoySentinel = "berth-decoy-sentinel.txt"

// newDecoy makes a host folder the test owns, readable by the container
// user (so a mount of it would be visible), holding the sentinel.
func newDecoy(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, decoySentinel), []byte("a host file no agent may see"), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

// snapshot records every entry of a folder tree: name, mode, owner, content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		v := fmt.Sprintf("%v %d:%d", fi.Mode(), st.Uid, st.Gid)
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += " " + string(b)
		}
		out[strings.TrimPrefix(p, dir)] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// inspectMounts returns the bind-mount sources the engine reports for a
// container, both as it mounted them and as they were asked for.
func inspectMounts(t *testing.T, g *gatewaytest.Gateway, id string) []string {
	t.Helper()
	raw, err := g.Docker.InspectRaw(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Mounts []struct {
			Type, Source, Destination string
		}
		HostConfig struct {
			Binds  []string
			Mounts []struct{ Type, Source, Target string }
		}
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range c.Mounts {
		if m.Type == "bind" {
			out = append(out, m.Source)
		}
	}
	for _, m := range c.HostConfig.Mounts {
		if m.Type == "bind" {
			out = append(out, m.Source)
		}
	}
	for _, b := range c.HostConfig.Binds {
		src, _, _ := strings.Cut(b, ":")
		out = append(out, src)
	}
	return out
}

// waitNoContainer waits until a session's container is gone or exited.
func waitNoContainer(t *testing.T, g *gatewaytest.Gateway, sid string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		running := false
		for _, c := range g.Containers(sid) {
			running = running || c.Running()
		}
		if !running {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("session %s still has a running container", sid)
}

// waitOneRunning waits until a session has exactly one container and it
// runs, and returns it. CI once listed the session's one container in
// state "created" right after its reply, and the cause was not found:
// what is seen first is logged (and the gateway's log with a failure), so
// a replaced container shows in the test's output next time.
func waitOneRunning(t *testing.T, g *gatewaytest.Gateway, sid string) []container.Info {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var first []container.Info
	for {
		ctrs := g.Containers(sid)
		if len(ctrs) == 1 && ctrs[0].Running() {
			if first != nil {
				t.Logf("containers first seen: %+v; then: %+v", first, ctrs)
			}
			return ctrs
		}
		if first == nil {
			first = ctrs
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s: containers %+v (first seen %+v), want one running", sid, ctrs, first)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSymlinkInGroupFolderIsNeverAHostMount: the agent replaces the
// runner-src and .claude-shared folders of its group with symlinks to a
// host folder, then kills its runner. The engine resolves a bind-mount
// source on the host, so if berth mounted either subfolder by its host
// path the next container would see the host folder. It must not: only
// the group folder itself is mounted, and the symlinks resolve inside the
// container.
func TestSymlinkInGroupFolderIsNeverAHostMount(t *testing.T) {
	t.Parallel()
	g, ch := start(t, func(c *session.Config) { c.Poll = 100 * time.Millisecond })
	handle(t, g, msg("first"))
	ch.waitSent(t, 1, 60*time.Second)
	s := g.Sessions()[0]
	decoy := newDecoy(t)
	before := snapshot(t, decoy)

	script := "cd /workspace/group && mv " + groups.RunnerSrc + " runner-src.was && ln -s " + decoy + " " + groups.RunnerSrc +
		" && mv " + groups.ClaudeShared + " claude-shared.was && ln -s " + decoy + " " + groups.ClaudeShared + " && ls -la"
	if out, err := g.Exec(s.ID, script); err != nil {
		t.Fatalf("plant symlinks: %v: %s", err, out)
	}
	// The agent kills its own runner; the container exits.
	g.Exec(s.ID, "kill -9 $(pidof berth-runner)")
	waitNoContainer(t, g, s.ID)

	handle(t, g, msg("second"))
	// The planted runner-src is refused, and said so once, before the
	// stock runner answers (container/runnerbuild never follows a link).
	got := ch.waitSent(t, 3, 60*time.Second)
	if !strings.Contains(got[1].Text, "runner-src is a symlink") {
		t.Errorf("notice after the symlinks = %q, want the runner source refused", got[1].Text)
	}
	if got[2].Text != "echo: second" {
		t.Fatalf("reply after the symlinks = %q", got[2].Text)
	}
	ctrs := waitOneRunning(t, g, s.ID)
	out, _ := g.Exec(s.ID, "find / -path /proc -prune -o -path /sys -prune -o -name "+decoySentinel+" -print 2>/dev/null; "+
		"cat /workspace/group/"+groups.RunnerSrc+"/"+decoySentinel+" /workspace/group/"+groups.ClaudeShared+"/"+decoySentinel+
		" /app/src/"+decoySentinel+" /home/agent/.claude/"+decoySentinel+" 2>&1")
	if strings.Contains(out, "a host file no agent may see") {
		t.Fatalf("the container reads the host decoy:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "/") && strings.HasSuffix(line, "/"+decoySentinel) {
			t.Fatalf("the container finds the host decoy's sentinel at %s:\n%s", line, out)
		}
	}

	gdir := g.GroupDir("main")
	for _, src := range inspectMounts(t, g, ctrs[0].ID) {
		rel, err := filepath.Rel(gdir, src)
		if err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			t.Errorf("bind-mount source %s lies inside the group folder %s, which the agent can write", src, gdir)
		}
		if rel, err := filepath.Rel(decoy, src); err == nil && !strings.HasPrefix(rel, "..") {
			t.Errorf("the decoy %s is mounted (source %s)", decoy, src)
		}
	}
	if after := snapshot(t, decoy); !equalMaps(before, after) {
		t.Fatalf("the decoy changed:\nbefore %v\nafter  %v", before, after)
	}

	// Other sessions keep answering.
	g.Wire("fake", "other", gatewaytest.Wire{IsDM: true, Group: "other"})
	in := msg("still serving")
	in.PlatformID = "other"
	handle(t, g, in)
	got = ch.waitSent(t, 4, 60*time.Second)
	if got[3].Text != "echo: still serving" {
		t.Fatalf("other session's reply = %q", got[3].Text)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
