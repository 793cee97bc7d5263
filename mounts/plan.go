// Package mounts decides what each agent container sees: the fixed mount
// plan for a session and the allowlist that extra mounts must pass.
package mounts

// Mount is one bind mount: a host path and where the container sees it.
type Mount struct {
	Source, Target string
	ReadOnly       bool
}

// Paths are the host folders of one session's container.
type Paths struct {
	InDir, OutDir           string // sessions/<group>/<session>/in and /out
	GroupDir, GlobalDir     string // groups/<folder>, groups/global
	ClaudeShared, RunnerSrc string // groups/<folder>/.claude-shared, groups/<folder>/runner-src
	Admin                   bool   // admin group: global memory read-write
}

// Plan returns the mounts of a session's container: its inbox read-only,
// its outbox and group folder read-write, the global memory read-only
// (read-write for the admin group), then the already-validated extras.
func Plan(p Paths, extra []Mount) []Mount {
	out := []Mount{
		{Source: p.InDir, Target: "/workspace/in", ReadOnly: true},
		{Source: p.OutDir, Target: "/workspace/out"},
		{Source: p.GroupDir, Target: "/workspace/group"},
		{Source: p.GlobalDir, Target: "/workspace/global", ReadOnly: !p.Admin},
		{Source: p.ClaudeShared, Target: "/home/agent/.claude"},
		{Source: p.RunnerSrc, Target: "/app/src"},
	}
	return append(out, extra...)
}
