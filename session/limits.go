package session

import (
	"cmp"
	"context"
	"fmt"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/container"
)

// refusalCounter is a runtime that can tell what a running container's
// limits refused it (container.Docker, when it sees the container's
// cgroup). The engine's API does not report it while a container runs.
type refusalCounter interface {
	Refused(id string) (container.Refusals, bool)
}

var _ refusalCounter = (*container.Docker)(nil)

// checkLimits reports, once per container, that it hit its pids limit or
// had a process killed for memory while it kept running: in the log each
// time a count grows, and to the session's conversation the first time,
// so a person whose agent's commands failed for it knows why.
func (sv *supervisor) checkLimits(ctx context.Context, l *handle) {
	rc, ok := sv.rt.(refusalCounter)
	if !ok {
		return
	}
	l.mu.Lock()
	id := l.ctrID
	l.mu.Unlock()
	now, ok := rc.Refused(id)
	if !ok {
		return
	}
	_, gc, _ := l.config()
	var notes []string
	l.amu.Lock()
	was := l.refused
	if now.OOMKills > was.OOMKills && l.oomSeen != now.OOMKills {
		// A memory kill is told only once a later look finds the same
		// container still running: when the kill took the runner itself,
		// the container exits, and its exit tells the person instead.
		l.oomSeen, now.OOMKills = now.OOMKills, was.OOMKills
	}
	l.refused = now
	l.amu.Unlock()
	if now.Pids > was.Pids {
		limit := cmp.Or(gc.Pids, sv.cfg.Pids)
		sv.log.Warn("pids limit reached", "session", l.id, "group", l.group.Folder, "container", short(id), "limit", limit, "refused", now.Pids)
		if was.Pids == 0 {
			notes = append(notes, fmt.Sprintf("⚠️ The agent reached its limit of %d processes; what it tried to start beyond that failed.", limit))
		}
	}
	if now.OOMKills > was.OOMKills {
		limit := cmp.Or(gc.Memory, sv.cfg.Memory)
		sv.log.Warn("out of memory", "session", l.id, "group", l.group.Folder, "container", short(id), "limit_bytes", limit, "killed", now.OOMKills)
		if was.OOMKills == 0 {
			notes = append(notes, fmt.Sprintf("⚠️ A program the agent ran ran out of memory (limit %s) and was stopped.", formatBytes(limit)))
		}
	}
	if len(notes) == 0 {
		return
	}
	chType, platformID, threadID, err := l.db.Routing(ctx)
	if err != nil {
		sv.log.Warn("read routing", "session", l.id, "group", l.group.Folder, "err", err)
		return
	}
	for _, text := range notes {
		if _, err := sv.dlv.sendWithRetry(ctx, chType, channels.Outbound{PlatformID: platformID, ThreadID: threadID, Text: text}); err != nil {
			sv.log.Warn("delivery-failed", "channel", chType, "session", l.id, "group", l.group.Folder, "err", err)
		}
	}
}
