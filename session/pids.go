package session

import (
	"context"
	"fmt"

	"github.com/berth-dev/berth/channels"
)

// pidsCounter is a runtime that can tell how often a container's pids
// limit refused a new process (container.Docker, when it can see the
// container's cgroup). The engine's API does not report it.
type pidsCounter interface {
	PidsLimitHits(id string) (int64, bool)
}

// checkPids reports, once each time it grows, that a running container
// hit its pids limit: in the log and to the session's conversation, so a
// person whose agent's commands failed for it knows why.
func (m *Manager) checkPids(ctx context.Context, l *live) {
	pc, ok := m.rt.(pidsCounter)
	if !ok {
		return
	}
	l.mu.Lock()
	id := l.ctrID
	l.mu.Unlock()
	hits, ok := pc.PidsLimitHits(id)
	if !ok || hits <= l.pidsHits.Load() {
		return
	}
	first := l.pidsHits.Swap(hits) == 0
	limit := m.cfg.Pids
	if gc, err := parseGroupConfig(l.group.ContainerConfig); err == nil && gc.Pids != nil {
		limit = *gc.Pids
	}
	m.log.Warn("pids limit reached", "session", l.id, "group", l.group.Folder, "container", short(id), "limit", limit, "refused", hits)
	if !first {
		return // the person was told about this container already
	}
	chType, platformID, threadID, err := l.db.Routing(ctx)
	if err != nil {
		m.log.Warn("read routing", "session", l.id, "group", l.group.Folder, "err", err)
		return
	}
	text := fmt.Sprintf("⚠️ The agent reached its limit of %d processes; what it tried to start beyond that failed.", limit)
	if _, err := m.sendWithRetry(ctx, chType, channels.Outbound{PlatformID: platformID, ThreadID: threadID, Text: text}); err != nil {
		m.log.Warn("delivery-failed", "channel", chType, "session", l.id, "group", l.group.Folder, "err", err)
	}
}
