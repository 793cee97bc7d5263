package session

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session/sessiondb"
)

// supervisor is the reconciler: after a restart it makes what the engine
// runs agree with the store, and then, on a timer, it wakes sessions with
// due work, stops idle containers, kills stuck ones, holds the running
// cap (slots, in core) and the disk quotas, and tells of refused limits.
type supervisor struct {
	*core
	quota quotas // verdicts and quota kills; guarded inside
}

// run recovers, then sweeps until ctx is done; see Manager.Run.
func (sv *supervisor) run(ctx context.Context, ready chan<- struct{}) error {
	sv.ctx = ctx
	w, err := fsnotify.NewWatcher()
	if err != nil {
		sv.log.Warn("no file-system events; polling only", "err", err)
	} else {
		sv.watcher = w
		defer func() {
			if err := w.Close(); err != nil {
				sv.log.Warn("close file-system events", "err", err)
			}
		}()
		sv.wg.Add(1)
		go sv.watch()
	}
	if err := sv.recover(ctx); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	sv.wg.Add(1)
	go sv.quotaLoop(ctx)
	if ready != nil {
		close(ready)
	}
	t := time.NewTicker(sv.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			sv.sweep(ctx)
		}
	}
}

// recover reconciles what the engine runs with what the store says, after
// a restart or a crash.
func (sv *supervisor) recover(ctx context.Context) error {
	ctrs, err := sv.rt.List(ctx, map[string]string{container.LabelHome: sv.cfg.Home})
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for _, c := range ctrs {
		sid := c.Labels[container.LabelSession]
		s, err := sv.store.Session(ctx, sid)
		if err != nil || s.Status != data.SessionActive || !c.Running() || live[sid] {
			sv.log.Info("removed", "session", sid, "container", short(c.ID), "reason", "orphan")
			sv.remove(ctx, sid, c.ID)
			if err == nil && s.Status == data.SessionClosed {
				sv.finishReset(ctx, s)
			}
			continue
		}
		l, err := sv.session(ctx, s)
		if err != nil {
			sv.log.Warn("recover session; its container removed", "session", sid, "container", short(c.ID), "err", err)
			sv.remove(ctx, sid, c.ID)
			continue
		}
		live[sid] = true
		if err := sv.slots.acquire(ctx, time.Time{}); err != nil {
			return err
		}
		l.mu.Lock()
		l.adopt(c, true)
		l.mu.Unlock()
	}
	sessions, err := sv.store.Sessions(ctx, data.SessionFilter{ActiveOnly: true})
	if err != nil {
		return err
	}
	for _, s := range sessions {
		if live[s.ID] {
			continue
		}
		if s.ContainerState != data.ContainerStopped {
			if err := sv.store.SetContainerState(ctx, s.ID, data.ContainerStopped, ""); err != nil {
				sv.log.Warn("record container state", "session", s.ID, "state", data.ContainerStopped, "err", err)
			}
		}
		if busy, err := (sessiondb.Host{Dir: sv.sessionDir(s)}).Busy(ctx); !busy && err == nil {
			continue
		}
		l, err := sv.session(ctx, s)
		if err != nil {
			sv.log.Warn("recover session", "session", s.ID, "err", err)
			continue
		}
		l.mu.Lock()
		l.requeue(ctx, "berth restarted while the agent was working on it", false)
		l.mu.Unlock()
		l.poke()
		l.wakeIfOpen(ctx)
	}
	return nil
}

// finishReset settles a closed session whose container outlived it: a
// reset cut short by a crash. What it left is cancelled or failed, never
// run.
func (sv *supervisor) finishReset(ctx context.Context, s data.Session) {
	l, err := sv.session(ctx, s)
	if err != nil {
		sv.log.Warn("recover closed session", "session", s.ID, "err", err)
		return
	}
	l.closed.Store(true)
	l.settleClosed(ctx)
}

// remove removes a container berth will not adopt. One it cannot remove
// is logged: its name stays taken, so the session's next wake adopts it or
// fails, and nothing runs twice.
func (sv *supervisor) remove(ctx context.Context, sessionID, id string) {
	if err := sv.rt.Remove(ctx, id); err != nil {
		sv.log.Warn("remove container", "session", sessionID, "container", short(id), "err", err)
	}
}

// sweep is the slow fallback: wake sessions with due work, stop idle
// containers, kill stuck ones, and deliver anything missed.
func (sv *supervisor) sweep(ctx context.Context) {
	ls := sv.all()
	yield := sv.slots.waiting() // idle containers make room for sessions waiting for a slot
	for _, l := range ls {
		if ctx.Err() != nil {
			return
		}
		l.mu.Lock()
		running, started, retryAt := l.running, l.started, l.retryAt
		l.mu.Unlock()
		// A stopped session with nothing left is not touched: its files
		// change only when a message is routed, which wakes it anyway.
		if !running && !l.backlog.Swap(false) {
			continue
		}
		l.poke()
		if l.closed.Load() {
			// Never woken: a container its reset could not stop is
			// stopped now, and what is left is cancelled or failed.
			if running && !l.resetting.Load() {
				go l.stop(ctx, "stopped")
			} else if !running {
				l.settleClosed(ctx)
			}
			continue
		}
		open, err := l.db.Open(ctx)
		if err != nil {
			sv.log.Warn("read waiting messages", "session", l.id, "group", l.group.Folder, "err", err)
			l.backlog.Store(true)
			continue
		}
		// Only rows that trigger a turn are work: context-only ones wait
		// for the next such row, in a stopped session as well as in one
		// whose container goes idle meanwhile.
		work := sessiondb.Triggers(open)
		if !running {
			switch {
			case work && time.Now().Before(retryAt):
				// Its last wake found the engine slow: it pauses
				// before the next try, and is looked at again then.
				l.backlog.Store(true)
			case work:
				sv.wakeAsync(l)
			}
			continue
		}
		_, conf, _ := l.config()
		idle := cmp.Or(conf.IdleTimeout, sv.cfg.IdleTimeout)
		sv.checkLimits(ctx, l)
		last := l.lastActivity()
		if !work && idleStop(time.Since(last), idle, &yield) {
			go l.stop(ctx, "idle-stopped")
			continue
		}
		if len(open) > 0 {
			sv.checkTurn(ctx, l, open, started)
		}
	}
}

// Limits a turn may pass, named as a group's config names them.
const (
	limitTurn  = "turn_timeout"
	limitStuck = "stuck_timeout"
)

// checkTurn stops a running container whose turn has taken longer than
// its group's turn_timeout, or gone without progress (the runner's
// heartbeat) longer than its stuck_timeout. What the turn held fails with
// the limit's name and how to raise it, and is not retried: a hang is not
// a crash, and would hang again.
func (sv *supervisor) checkTurn(ctx context.Context, l *handle, open []sessiondb.InMessage, started time.Time) {
	began, ok, err := l.turnBegan(ctx, open, started)
	if err != nil {
		sv.log.Warn("read claims", "session", l.id, "group", l.group.Folder, "err", err)
		return
	}
	if !ok {
		return
	}
	_, conf, _ := l.config()
	turnLimit := cmp.Or(conf.TurnTimeout, sv.cfg.TurnTimeout)
	stuckLimit := cmp.Or(conf.StuckTimeout, sv.cfg.StuckTimeout)
	progress := began
	if hb := l.heartbeat(); hb.After(progress) {
		progress = hb
	}
	var limit, reason string
	switch {
	case time.Since(began) > turnLimit:
		limit, reason = limitTurn, fmt.Sprintf("the agent's turn ran longer than %v (%s)", turnLimit, limitTurn)
	case time.Since(progress) > stuckLimit:
		limit, reason = limitStuck, fmt.Sprintf("the agent made no progress for %v (%s)", stuckLimit, limitStuck)
	default:
		return
	}
	l.mu.Lock()
	id := l.ctrID
	l.mu.Unlock()
	l.kill(ctx, id, limit, reason+"; an admin can raise the limit in the group's config ("+limit+")")
}
