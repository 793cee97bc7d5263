package gatewaytest

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session/sessiondb"
)

// Exec runs a shell command inside a session's running container, as the
// container's own (unprivileged) user, the way a hostile agent would act
// from inside its box. It returns what the command printed and fails the
// test only when the container could not be reached, not when the command
// itself fails (an attack that is refused is an expected outcome).
func (g *Gateway) Exec(sessionID, script string) (string, error) {
	g.t.Helper()
	ctrs := g.Containers(sessionID)
	if len(ctrs) == 0 {
		g.t.Fatalf("session %s has no container to exec into", sessionID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", "exec", ctrs[0].ID, "/bin/sh", "-c", script)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// SessionDir is a session's folder on the host (in/ and out/ below it).
func (g *Gateway) SessionDir(s data.Session) string {
	return paths.Home(g.Home).Session(s.AgentGroupID, s.ID)
}

// OutDir is a session's out/ folder on the host, which its agent can write.
func (g *Gateway) OutDir(s data.Session) string {
	return filepath.Join(g.SessionDir(s), sessiondb.OutDir)
}

// GroupDir is a group's folder on the host, which its agents can write.
func (g *Gateway) GroupDir(folder string) string { return g.Layout.Dir(folder) }
