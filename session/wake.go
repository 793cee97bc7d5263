package session

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/mounts"
	"github.com/berth-dev/berth/session/sessiondb"
)

// maxWakeFailures is how many wakes in a row may fail before the waiting
// messages are failed and their senders told.
const maxWakeFailures = 5

// ContainerName is the one name a session's container may have. The
// engine refuses a second container with it, which is what makes "one
// container per session" hold across processes.
func ContainerName(groupFolder, sessionID string) string {
	id := sessionID
	if len(id) > 12 {
		id = id[:12]
	}
	return "berth-" + groupFolder + "-" + id
}

func (m *Manager) wakeAsync(l *live) {
	go func() {
		if err := m.Wake(m.ctx, l.id); err != nil && m.ctx.Err() == nil {
			m.log.Warn("wake failed", "session", l.id, "group", l.group.Folder, "err", err)
		}
	}()
}

// Wake makes sure the session's container is running. Concurrent wakes of
// one session share one attempt.
func (m *Manager) Wake(ctx context.Context, sessionID string) error {
	_, err, _ := m.wakes.Do(sessionID, func() (any, error) {
		m.mu.Lock()
		l := m.sessions[sessionID]
		m.mu.Unlock()
		if l == nil {
			s, err := m.store.Session(ctx, sessionID)
			if err != nil {
				return nil, err
			}
			if l, err = m.session(ctx, s); err != nil {
				return nil, err
			}
		}
		return nil, m.ensure(ctx, l)
	})
	return err
}

func (m *Manager) ensure(ctx context.Context, l *live) error {
	l.mu.Lock()
	running := l.running
	l.mu.Unlock()
	if running {
		return nil
	}
	if err := m.refuseOverQuota(ctx, l); err != nil {
		return err
	}
	began := time.Now()
	l.amu.Lock()
	since := l.queued
	l.amu.Unlock()
	if since.IsZero() {
		since = began
	}
	// Wait for a slot without holding the session's lock: the sweep must
	// still be able to look at this session meanwhile.
	if err := m.slots.acquire(ctx, since); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.running {
		m.slots.release()
		return nil
	}
	info, adopted, err := m.start(ctx, l)
	if err != nil {
		m.slots.release()
		l.backlog.Store(true) // the sweep tries again
		l.failed++
		m.store.SetContainerState(context.WithoutCancel(ctx), l.id, data.ContainerStopped, "")
		// A refused configuration fails the same way every time: tell the
		// person now rather than after maxWakeFailures wakes.
		var ce *groups.ConfigError
		if errors.As(err, &ce) || l.failed >= maxWakeFailures {
			m.failPending(context.WithoutCancel(ctx), l, "the agent's container could not be started: "+err.Error())
		}
		return fmt.Errorf("wake session %s: %w", l.id, err)
	}
	l.failed = 0
	l.amu.Lock()
	l.queued = time.Time{}
	l.amu.Unlock()
	m.obs.Woke(!adopted, time.Since(began))
	m.log.Info("woke", "session", l.id, "group", l.group.Folder, "container", short(info.ID), "cold", !adopted, "ms", time.Since(began).Milliseconds())
	m.adopt(l, info, adopted)
	return nil
}

func (m *Manager) start(ctx context.Context, l *live) (container.Info, bool, error) {
	m.store.SetContainerState(ctx, l.id, data.ContainerStarting, "")
	// A stale heartbeat would make a fresh container look stuck.
	os.Remove(filepath.Join(l.dir, sessiondb.OutDir, sessiondb.Heartbeat))
	spec, err := m.spec(l)
	if err != nil {
		return container.Info{}, false, err
	}
	return m.rt.Ensure(ctx, spec)
}

// adopt records a running container and watches for its exit. l.mu is held.
func (m *Manager) adopt(l *live, info container.Info, adopted bool) {
	l.running, l.ctrID, l.started = true, info.ID, time.Now()
	l.amu.Lock()
	l.refused, l.oomSeen = container.Refusals{}, 0
	l.amu.Unlock()
	l.touch()
	m.obs.Running(m.running.add(1))
	m.store.SetContainerState(m.ctx, l.id, data.ContainerRunning, info.ID)
	event := "spawned"
	if adopted {
		event = "adopted"
	}
	m.log.Info(event, "session", l.id, "group", l.group.Folder, "container", short(info.ID))
	if m.cfg.ContainerLogs != nil {
		go m.cfg.ContainerLogs(l.id, info.ID)
	}
	m.wg.Add(1)
	go m.watchExit(l, info.ID)
}

// checkImage refuses an image the operator did not allow. The allowlist is
// the gateway's runtime configuration, so this one check of a group's
// config is made at spawn rather than when the group is loaded.
func (m *Manager) checkImage(gc groups.Config) error {
	if gc.Image != "" && !m.imageAllowed(gc.Image) {
		return &groups.ConfigError{Field: "image", Reason: fmt.Sprintf("is %q, which is not berth's agent image nor one the operator allowed (--allowed-images)", truncate(gc.Image, 200))}
	}
	return nil
}

// imageAllowed reports whether a group may run image: berth's configured
// agent image, the claude image, or one the operator listed.
func (m *Manager) imageAllowed(image string) bool {
	return image == m.cfg.Image || image == container.ClaudeImage || slices.Contains(m.cfg.Images, image)
}

func (m *Manager) spec(l *live) (container.Spec, error) {
	if l.confErr != nil {
		return container.Spec{}, l.confErr
	}
	gc := l.conf
	if err := m.checkImage(gc); err != nil {
		return container.Spec{}, err
	}
	var extra []mounts.Mount
	for _, req := range gc.Mounts {
		if m.cfg.Allowlist == nil {
			m.log.Warn("mount refused", "group", l.group.Folder, "session", l.id, "reason", "no mount allowlist is configured")
			continue
		}
		mt, err := m.cfg.Allowlist.Check(req, l.group.IsAdmin)
		if err != nil {
			m.log.Warn("mount refused", "group", l.group.Folder, "session", l.id, "reason", err.Error())
			continue
		}
		extra = append(extra, mt)
	}
	var extraEnv []string
	if m.cfg.Extras != nil {
		mts, env, err := m.cfg.Extras(l.group)
		if err != nil {
			return container.Spec{}, err
		}
		extra = append(extra, mts...)
		extraEnv = env
	}
	// The group folder is mounted once, whole; the runner reaches what it
	// needs inside it (the claude CLI's state, its own source) by path in
	// the container. A bind mount of a subfolder would be resolved on the
	// host, through whatever symlink the agent put there.
	plan, err := mounts.Plan(mounts.Paths{
		InDir: filepath.Join(l.dir, sessiondb.InDir), OutDir: filepath.Join(l.dir, sessiondb.OutDir),
		GroupDir: m.layout.Dir(l.group.Folder), GlobalDir: m.layout.GlobalDir(),
		Admin:      l.group.IsAdmin,
		AgentTrees: []string{m.layout.Root, paths.Home(m.cfg.Home).Sessions()},
	}, extra)
	if err != nil {
		return container.Spec{}, err
	}
	if gc.PermissionMode != "" {
		extraEnv = append(extraEnv, "BERTH_PERMISSION_MODE="+string(gc.PermissionMode))
	}
	provider := cmp.Or(gc.Provider, m.cfg.Provider)
	spec := container.Spec{
		Name:  ContainerName(l.group.Folder, l.id),
		Image: cmp.Or(gc.Image, defaultImage(provider, m.cfg.Image)),
		Cmd:   []string{"--in", "/workspace/in", "--out", "/workspace/out", "--provider", provider},
		Env:   append(append([]string{"BERTH_SESSION=" + l.id, "BERTH_GROUP=" + l.group.Folder}, m.cfg.Env...), extraEnv...),
		Labels: map[string]string{
			container.LabelSession: l.id, container.LabelGroup: l.group.Folder, container.LabelHome: m.cfg.Home,
		},
		Mounts:   plan,
		Memory:   cmp.Or(gc.Memory, m.cfg.Memory),
		NanoCPUs: cmp.Or(gc.NanoCPUs, m.cfg.NanoCPUs),
		Pids:     cmp.Or(gc.Pids, m.cfg.Pids),
	}
	if m.cfg.UID >= 0 {
		spec.User = strconv.Itoa(m.cfg.UID) + ":" + strconv.Itoa(m.cfg.UID)
	} else {
		spec.User = strconv.Itoa(os.Getuid()) + ":" + strconv.Itoa(os.Getgid())
	}
	return spec, nil
}

// watchExit waits for a container to go, then re-queues what it left
// unfinished and wakes the session again if work remains.
func (m *Manager) watchExit(l *live, id string) {
	defer m.wg.Done()
	// The engine may be unreachable for a while: keep asking until it
	// answers, rather than forgetting a container that may still run.
	var exit container.Exit
	for backoff := time.Second; ; backoff = min(2*backoff, 15*time.Second) {
		var err error
		exit, err = m.rt.Wait(m.ctx, id)
		if m.ctx.Err() != nil {
			return
		}
		if err == nil {
			break
		}
		m.log.Warn("lost track of container; retrying", "session", l.id, "container", short(id), "err", err)
		select {
		case <-m.ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
	if exit.OOMKilled {
		// Running the same turn again would run out the same way: the
		// messages it held fail now, with the reason.
		m.log.Warn("out of memory", "session", l.id, "group", l.group.Folder, "container", short(id), "limit_bytes", exit.Memory)
		m.exited(l, id, exit.Code, fmt.Sprintf("the agent ran out of memory (limit %s)", formatBytes(exit.Memory)), true)
		return
	}
	m.exited(l, id, exit.Code, fmt.Sprintf("the agent's container exited (code %d) while working on it", exit.Code), false)
}

// formatBytes renders a memory limit for a person: "1 GiB", "64 MiB".
func formatBytes(n int64) string {
	switch {
	case n <= 0:
		return "none"
	case n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// exited records that a session's container is gone, once, whoever saw it
// first: re-queues what it left unfinished (or, when final, fails it with
// reason) and wakes the session again if work remains.
func (m *Manager) exited(l *live, id string, code int64, reason string, final bool) {
	l.mu.Lock()
	if l.ctrID != id || !l.running {
		l.mu.Unlock()
		return
	}
	l.running, l.ctrID = false, ""
	l.mu.Unlock()
	ctx := context.WithoutCancel(m.ctx)
	m.obs.Running(m.running.add(-1))
	m.slots.release()
	m.store.SetContainerState(ctx, l.id, data.ContainerStopped, "")
	m.log.Info("exited", "session", l.id, "group", l.group.Folder, "container", short(id), "code", code)
	l.poke() // deliver what it wrote before it went
	if m.ctx.Err() != nil {
		return
	}
	m.requeue(ctx, l, reason, final)
	if open, _ := l.db.Open(ctx); len(open) > 0 {
		m.wakeAsync(l)
	}
}

// requeue retries, with backoff, every message a dead container had
// claimed but not finished; after the last try (at once when final) the
// message fails.
func (m *Manager) requeue(ctx context.Context, l *live, reason string, final bool) {
	tries := m.cfg.MaxTries
	if final {
		tries = 1
	}
	acks, err := l.db.Acks(ctx)
	if err != nil {
		m.log.Warn("read acks", "session", l.id, "err", err)
		return
	}
	if _, err := l.db.Finish(ctx, acks); err != nil {
		m.log.Warn("record acks", "session", l.id, "err", err)
	}
	open, err := l.db.Open(ctx)
	if err != nil {
		return
	}
	for _, msg := range open {
		a, ok := acks[msg.ID]
		if !ok || a.Status != sessiondb.StatusProcessing {
			continue
		}
		failed, err := l.db.Retry(ctx, msg.ID, m.backoff, tries, reason)
		if err != nil {
			m.log.Warn("retry", "session", l.id, "err", err)
			continue
		}
		if failed {
			m.obs.Failed()
			m.log.Warn("failed", "channel", msg.ChannelType, "session", l.id, "group", l.group.Folder, "message", msg.ID, "tries", msg.Tries+1, "reason", reason)
			l.poke()
		} else {
			m.obs.Retried()
			m.log.Info("retried", "channel", msg.ChannelType, "session", l.id, "group", l.group.Folder, "message", msg.ID, "tries", msg.Tries+1)
		}
	}
}

func (m *Manager) backoff(tries int) time.Duration { return m.cfg.RetryBase << min(tries, 10) }

// failPending fails every open message of a session (the agent cannot run).
func (m *Manager) failPending(ctx context.Context, l *live, reason string) {
	open, _ := l.db.Open(ctx)
	for _, msg := range open {
		for i := 0; i < m.cfg.MaxTries; i++ {
			if failed, err := l.db.Retry(ctx, msg.ID, func(int) time.Duration { return 0 }, m.cfg.MaxTries, reason); err != nil || failed {
				break
			}
		}
		m.log.Warn("failed", "channel", msg.ChannelType, "session", l.id, "group", l.group.Folder, "message", msg.ID, "reason", reason)
	}
	l.failed = 0
	l.poke()
}

// stop asks a session's container to stop and waits for it to go.
func (m *Manager) stop(ctx context.Context, l *live, why string) {
	l.mu.Lock()
	id := l.ctrID
	running := l.running
	l.mu.Unlock()
	if !running {
		return
	}
	m.store.SetContainerState(ctx, l.id, data.ContainerStopping, id)
	if err := m.rt.Stop(ctx, id, m.cfg.StopGrace); err != nil {
		m.log.Warn("stop container", "session", l.id, "container", short(id), "err", err)
		return
	}
	m.log.Info(why, "session", l.id, "group", l.group.Folder, "container", short(id))
	m.exited(l, id, 0, "the agent's container was stopped while working on it", false)
}

// StopSession stops a session's container now (operator or !stop).
func (m *Manager) StopSession(ctx context.Context, sessionID string) error {
	m.mu.Lock()
	l := m.sessions[sessionID]
	m.mu.Unlock()
	if l == nil {
		return nil
	}
	m.stop(ctx, l, "stopped")
	return nil
}

// recover reconciles what the engine runs with what the store says, after
// a restart or a crash.
func (m *Manager) recover(ctx context.Context) error {
	ctrs, err := m.rt.List(ctx, map[string]string{container.LabelHome: m.cfg.Home})
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for _, c := range ctrs {
		sid := c.Labels[container.LabelSession]
		s, err := m.store.Session(ctx, sid)
		if err != nil || s.Status != "active" || !c.Running() || live[sid] {
			m.log.Info("removed", "session", sid, "container", short(c.ID), "reason", "orphan")
			m.rt.Remove(ctx, c.ID)
			continue
		}
		l, err := m.session(ctx, s)
		if err != nil {
			m.rt.Remove(ctx, c.ID)
			continue
		}
		live[sid] = true
		if err := m.slots.acquire(ctx, time.Time{}); err != nil {
			return err
		}
		l.mu.Lock()
		m.adopt(l, c, true)
		l.mu.Unlock()
	}
	sessions, err := m.store.Sessions(ctx, data.SessionFilter{ActiveOnly: true})
	if err != nil {
		return err
	}
	for _, s := range sessions {
		if live[s.ID] {
			continue
		}
		if s.ContainerState != data.ContainerStopped {
			m.store.SetContainerState(ctx, s.ID, data.ContainerStopped, "")
		}
		if busy, err := (sessiondb.Host{Dir: m.sessionDir(s)}).Busy(ctx); !busy && err == nil {
			continue
		}
		l, err := m.session(ctx, s)
		if err != nil {
			m.log.Warn("recover session", "session", s.ID, "err", err)
			continue
		}
		m.requeue(ctx, l, "berth restarted while the agent was working on it", false)
		l.poke()
		if open, _ := l.db.Open(ctx); len(open) > 0 {
			m.wakeAsync(l)
		}
	}
	return nil
}

// sweep is the slow fallback: wake sessions with due work, stop idle
// containers, kill stuck ones, and deliver anything missed.
func (m *Manager) sweep(ctx context.Context) {
	m.mu.Lock()
	ls := make([]*live, 0, len(m.sessions))
	for _, l := range m.sessions {
		ls = append(ls, l)
	}
	m.mu.Unlock()
	yield := m.slots.waiting() // idle containers make room for sessions waiting for a slot
	for _, l := range ls {
		if ctx.Err() != nil {
			return
		}
		l.mu.Lock()
		running, started := l.running, l.started
		l.mu.Unlock()
		// A stopped session with nothing left is not touched: its files
		// change only when a message is routed, which wakes it anyway.
		if !running && !l.backlog.Swap(false) {
			continue
		}
		l.poke()
		open, err := l.db.Open(ctx)
		if err != nil {
			l.backlog.Store(true)
			continue
		}
		if !running {
			if len(open) > 0 {
				m.wakeAsync(l)
			}
			continue
		}
		idle := cmp.Or(l.conf.IdleTimeout, m.cfg.IdleTimeout)
		m.checkLimits(ctx, l)
		last := l.lastActivity()
		if len(open) == 0 && idleStop(time.Since(last), idle, &yield) {
			go m.stop(ctx, l, "idle-stopped")
			continue
		}
		if len(open) > 0 && time.Since(started) > m.cfg.StuckTimeout && time.Since(last) > m.cfg.StuckTimeout && m.claimed(ctx, l, open) {
			l.mu.Lock()
			id := l.ctrID
			l.mu.Unlock()
			m.log.Warn("killed", "session", l.id, "group", l.group.Folder, "container", short(id), "reason", "no heartbeat")
			go m.rt.Stop(ctx, id, 0)
		}
	}
}

// claimed reports whether the running container has taken one of open.
func (m *Manager) claimed(ctx context.Context, l *live, open []sessiondb.InMessage) bool {
	acks, err := l.db.Acks(ctx)
	if err != nil {
		return false
	}
	for _, msg := range open {
		if a, ok := acks[msg.ID]; ok && a.Status == sessiondb.StatusProcessing {
			return true
		}
	}
	return false
}

// defaultImage is the image a group runs when its config names none: the
// claude provider needs Node and the CLI, the others only the runner.
func defaultImage(provider, image string) string {
	if provider == "claude" {
		return container.ClaudeImage
	}
	return image
}

// short is a container id as the log shows it: its first 12 characters.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
