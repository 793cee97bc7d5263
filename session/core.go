package session

// The session core is split by responsibility, after Nomad's docker
// driver (driver, per-container handle, reconciler):
//
//   - core (this file): what the parts share: configuration, the store,
//     the runtime, the adapters, and the table of sessions this process
//     knows, each loaded once into its handle.
//   - router (route.go, access.go): an inbound message to the sessions it
//     belongs to: clean, dedupe, chat commands, engage rules, access.
//   - handle (handle.go): one session, and its container's lifecycle
//     under its own lock: ensure, start, adopt, watch exit, requeue, stop.
//   - supervisor (supervisor.go, quota.go, limits.go, capyield.go): the
//     reconciler: recovery after a restart, the sweep (idle, stuck, due
//     work), the running-container cap, disk quotas and limit notices.
//   - delivery (deliver.go, replyguard.go): what agents write back to the
//     platforms, exactly once, within the reply caps.
//
// Manager (manager.go) is the thin public facade over them.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session/sessiondb"
)

// core is what the router, the handles, the supervisor and delivery
// share. Its fields other than the guarded maps are set in New (ctx and
// watcher in Run, before anything is routed) and read-only after.
type core struct {
	cfg     Config
	obs     Observer
	running atomicCount
	store   *data.Store
	rt      Runtime
	layout  groups.Layout
	log     *slog.Logger
	slots   *slots
	wakes   singleflight.Group
	sup     *supervisor
	dlv     *delivery
	tasks   taskGate // answers agents' task requests (tasktools.go)

	chMu     sync.RWMutex // guards channels
	channels map[string]channels.Channel

	mu       sync.Mutex // guards sessions, byOutDir and changed
	sessions map[string]*handle
	byOutDir map[string]*handle
	changed  chan struct{} // closed and replaced after each delivery pass

	watcher *fsnotify.Watcher
	ctx     context.Context // the Run context; set before anything is routed
	wg      sync.WaitGroup
}

// addChannel registers an adapter replies can be delivered through.
func (c *core) addChannel(ch channels.Channel) {
	c.chMu.Lock()
	defer c.chMu.Unlock()
	c.channels[ch.Type()] = ch
}

func (c *core) channel(t string) channels.Channel {
	c.chMu.RLock()
	defer c.chMu.RUnlock()
	return c.channels[t]
}

// lookup returns the handle of a session this process has loaded, or nil.
func (c *core) lookup(id string) *handle {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessions[id]
}

// all returns the handles of every session this process has loaded.
func (c *core) all() []*handle {
	c.mu.Lock()
	defer c.mu.Unlock()
	ls := make([]*handle, 0, len(c.sessions))
	for _, l := range c.sessions {
		ls = append(ls, l)
	}
	return ls
}

// session returns the handle of a session, loading it on first use.
func (c *core) session(ctx context.Context, s data.Session) (*handle, error) {
	if l := c.lookup(s.ID); l != nil {
		return l, nil
	}
	g, err := c.store.Group(ctx, s.AgentGroupID)
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", s.ID, err)
	}
	conf, confErr := groups.LoadConfig(g)
	dir := c.sessionDir(s)
	l := &handle{c: c, id: s.ID, group: g, row: g, conf: conf, confErr: confErr, dir: dir, db: sessiondb.Host{Dir: dir}, kick: make(chan struct{}, 1),
		targets: map[string]progressTarget{}, cancelled: map[string]bool{}, activity: time.Now(), passes: rate.NewLimiter(rate.Limit(c.cfg.PassRate), c.cfg.PassBurst)}
	routing := sessiondb.InMessage{ThreadID: s.ThreadID}
	if s.MessagingGroupID != "" {
		mg, err := c.store.MessagingGroupByID(ctx, s.MessagingGroupID)
		switch {
		case err == nil:
			routing.ChannelType, routing.PlatformID = mg.ChannelType, mg.PlatformID
		case !errors.Is(err, data.ErrNotFound):
			return nil, fmt.Errorf("session %s: %w", s.ID, err)
		}
	}
	if err := l.db.Create(ctx, routing); err != nil {
		return nil, fmt.Errorf("session %s: %w", s.ID, err)
	}
	if c.cfg.UID >= 0 {
		// The container runs unprivileged and must own what it writes.
		for _, d := range []string{sessiondb.OutDir, filepath.Join(sessiondb.OutDir, "outbox")} {
			if err := os.Lchown(filepath.Join(dir, d), c.cfg.UID, c.cfg.UID); err != nil {
				c.log.Warn("chown session folder", "session", s.ID, "dir", d, "err", err)
			}
		}
	}
	c.mu.Lock()
	if prev := c.sessions[s.ID]; prev != nil {
		c.mu.Unlock()
		return prev, nil
	}
	c.sessions[s.ID] = l
	c.byOutDir[filepath.Join(dir, sessiondb.OutDir)] = l
	c.mu.Unlock()
	if confErr != nil {
		c.log.Warn("group config refused", "group", g.Folder, "session", s.ID, "err", confErr)
	}
	c.wg.Add(1)
	go c.dlv.loop(l)
	return l, nil
}

// watchOut watches a session's out/ folder while its container runs, the
// only time anything writes there: an idle-stopped session holds no
// inotify watch, so thousands of them fit in a host's
// fs.inotify.max_user_watches (8,192 on many). The watch starts before
// the container is created (start), so nothing it writes is missed, and
// again (a no-op) when one is adopted; its exit pokes the delivery pass
// for what it wrote last. Starting the watch pokes nothing: a pass then
// would race recovery's confirmation of a reply in doubt (a reply sent
// twice), and what an adopted container wrote before is recovery's.
func (c *core) watchOut(l *handle, on bool) {
	if c.watcher == nil {
		return
	}
	dir := filepath.Join(l.dir, sessiondb.OutDir)
	if on {
		if err := c.watcher.Add(dir); err != nil {
			c.log.Warn("watch session folder; polling it", "session", l.id, "err", err)
		}
		return
	}
	if err := c.watcher.Remove(dir); err != nil && !errors.Is(err, fsnotify.ErrNonExistentWatch) {
		c.log.Debug("unwatch session folder", "session", l.id, "err", err)
	}
}

// sessionDir is a session's folder under BERTH_HOME.
func (c *core) sessionDir(s data.Session) string {
	return paths.Home(c.cfg.Home).Session(s.AgentGroupID, s.ID)
}

// wake makes sure the session's container is running; concurrent wakes
// of one session share one attempt.
func (c *core) wake(ctx context.Context, sessionID string) error {
	_, err, _ := c.wakes.Do(sessionID, func() (any, error) {
		l := c.lookup(sessionID)
		if l == nil {
			s, err := c.store.Session(ctx, sessionID)
			if err != nil {
				return nil, err
			}
			if l, err = c.session(ctx, s); err != nil {
				return nil, err
			}
		}
		return nil, l.ensure(ctx)
	})
	return err
}

// wakeAsync wakes a session in its own goroutine, logging a failure.
func (c *core) wakeAsync(l *handle) {
	go func() {
		if err := c.wake(c.ctx, l.id); err != nil && c.ctx.Err() == nil && !errors.Is(err, ErrClosed) {
			c.log.Warn("wake failed", "session", l.id, "group", l.group.Folder, "err", err)
		}
		traceStep(c.ctx, c.log, "woken", l.id)
	}()
}

// watch turns file-system events in sessions' out/ folders into delivery kicks.
func (c *core) watch() {
	defer c.wg.Done()
	for {
		select {
		case ev, ok := <-c.watcher.Events:
			if !ok {
				return
			}
			// Only a commit of the reply database can carry news, and a
			// pass that read during one would wait on its lock (in the
			// 100 µs steps of sessiondb's busy handler) and hold up its
			// end: only the ends of commits kick (sessiondb.CommitEnded).
			// The agent may churn anything else in out/ as fast as it likes.
			if !sessiondb.CommitEnded(ev, sessiondb.OutboundFile) {
				continue
			}
			c.mu.Lock()
			l := c.byOutDir[filepath.Dir(ev.Name)]
			c.mu.Unlock()
			if l != nil {
				traceStep(c.ctx, c.log, "host-event", l.id)
				l.poke()
			}
		case err, ok := <-c.watcher.Errors:
			if !ok {
				return
			}
			c.log.Warn("file-system events", "err", err)
		}
	}
}

// notifyChanged wakes waitIdle callers.
func (c *core) notifyChanged() {
	c.mu.Lock()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// waitIdle blocks until every session this process knows has no message
// waiting for an answer, no reply waiting for delivery and no failure
// waiting to be told, or until ctx is done.
func (c *core) waitIdle(ctx context.Context) error {
	for {
		c.mu.Lock()
		ch := c.changed
		c.mu.Unlock()
		busy := false
		for _, l := range c.all() {
			if b, err := l.db.Busy(ctx); err != nil || b {
				busy = true
				break
			}
		}
		if !busy {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		case <-time.After(time.Second):
		}
	}
}
