// Package mounts decides what each agent container sees: the fixed mount
// plan for a session and the allowlist that extra mounts must pass.
//
// The engine resolves a bind mount's source on the host. So no source may
// lie inside a folder an agent can write: the agent could swap a path
// component for a symlink and have the host mount anything. The group
// folder is therefore mounted once, as a whole, and what the runner needs
// inside it (the claude CLI's state, the runner's source) is reached by
// path inside the container, where a symlink resolves in the container.
package mounts

import (
	"fmt"
	"path/filepath"
)

// Mount is one bind mount: a host path and where the container sees it.
type Mount struct {
	Source, Target string
	ReadOnly       bool
}

// Paths are the host folders of one session's container. None of them may
// lie inside a folder an agent can write (their parents are berth's).
type Paths struct {
	InDir, OutDir       string // sessions/<group>/<session>/in and /out
	GroupDir, GlobalDir string // groups/<folder>, groups/global
	Admin               bool   // admin group: global memory read-write
	// AgentTrees are the trees holding folders agents write
	// (BERTH_HOME/groups and BERTH_HOME/sessions): no extra mount may come
	// from inside them.
	AgentTrees []string
}

// Plan returns the mounts of a session's container: its inbox read-only,
// its outbox and group folder read-write, the global memory read-only
// (read-write for the admin group), then the extras (already validated by
// the allowlist, or berth's own such as the proxy socket folder). It
// refuses an extra whose source is relative or lies inside an agent tree.
func Plan(p Paths, extra []Mount) ([]Mount, error) {
	out := []Mount{
		{Source: p.InDir, Target: "/workspace/in", ReadOnly: true},
		{Source: p.OutDir, Target: "/workspace/out"},
		{Source: p.GroupDir, Target: "/workspace/group"},
		{Source: p.GlobalDir, Target: "/workspace/global", ReadOnly: !p.Admin},
	}
	trees := append(append([]string(nil), p.AgentTrees...), resolveAll(p.AgentTrees)...)
	for _, m := range extra {
		if !filepath.IsAbs(m.Source) {
			return nil, fmt.Errorf("mount %s: source %q is not an absolute path", m.Target, m.Source)
		}
		src := filepath.Clean(m.Source)
		for _, t := range trees {
			if within(src, t) {
				return nil, fmt.Errorf("mount %s: source %s lies inside %s, which agents write", m.Target, src, t)
			}
		}
		m.Source = src
		out = append(out, m)
	}
	return out, nil
}
