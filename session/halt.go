package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session/sessiondb"
)

// A person can stop a session's work (!stop) or close the session
// (!reset). Either way the messages its turn claimed are cancelled before
// its container is stopped: a cancelled message is not pending, so the
// exit requeues nothing, no runner claims it again, and a reply the agent
// still writes to it is dropped (see answersCancelled). A stopped session
// stays and its next message starts a fresh turn; a closed one is never
// woken again, and what is left in it fails, its senders told.

// Why a message was cancelled or failed, recorded in inbound.db and, for
// a failure, told to its sender.
const (
	reasonStopped = "the turn working on it was stopped (!stop)"
	reasonReset   = "the session was reset (!reset) before the agent answered it; send it again if you still want an answer"
)

// ErrClosed is why a closed session is not woken (Wake returns it).
var ErrClosed = errors.New("the session is closed")

// maxCancelledRead bounds how many of a session's cancelled messages its
// delivery reads from inbound.db to drop late replies to: a late reply
// comes from the turn that was stopped, so only the newest ones matter.
const maxCancelledRead = 1000

// halt cancels the turn the session's agent is working on and stops its
// container; the session stays, and its next message starts a new turn.
// The container is stopped in the background, on the manager's context:
// a platform's handler may have only a few seconds to answer the person,
// and a stop may take the whole grace, yet a person who asked for it wants
// it done. Nothing of the cancelled turn can run again meanwhile.
func (l *handle) halt(ctx context.Context, reason string) (groups.Halted, error) {
	// Under the lifecycle lock, so no wake starts a container meanwhile.
	l.mu.Lock()
	n, err := l.cancelClaimed(ctx, reason)
	running := l.running
	l.mu.Unlock()
	if running {
		go l.stop(l.c.ctx, "stopped")
	}
	if err != nil {
		return groups.Halted{Cancelled: n, Container: running}, fmt.Errorf("cancel the turn of session %s: %w", l.id, err)
	}
	return groups.Halted{Cancelled: n, Container: running}, nil
}

// reset closes the session for good, after the store has: its turn is
// cancelled, what waits in it fails, and its container is stopped (in the
// background, as halt does); once it is gone, what its runner claimed
// before it went is cancelled too.
func (l *handle) reset(ctx context.Context) groups.Halted {
	l.closed.Store(true) // from here on no wake starts a container
	cancelled, failed := l.settleClosed(ctx)
	l.mu.Lock()
	running := l.running
	l.mu.Unlock()
	if running {
		l.resetting.Store(true)
		go func() {
			defer l.resetting.Store(false)
			l.stop(l.c.ctx, "stopped")
			l.settleClosed(l.c.ctx)
		}()
	}
	return groups.Halted{Cancelled: cancelled, Failed: failed, Container: running}
}

// cancelClaimed cancels the messages the session's turn has claimed, so
// they are never retried nor answered, and reports how many. l.mu is held.
func (l *handle) cancelClaimed(ctx context.Context, reason string) (int, error) {
	acks, err := l.db.Acks(ctx)
	if err != nil {
		return 0, fmt.Errorf("read acks: %w", err)
	}
	var ids []string
	for id, a := range acks {
		if a.Status == sessiondb.StatusProcessing {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	done, err := l.db.End(ctx, sessiondb.StatusCancelled, reason, ids...)
	if err != nil {
		return 0, err
	}
	l.amu.Lock()
	for _, id := range done {
		l.cancelled[id] = true
	}
	l.amu.Unlock()
	for _, id := range done {
		l.c.log.Info("cancelled", "session", l.id, "group", l.group.Folder, "message", id, "reason", reason)
		l.c.dlv.done(ctx, l, id, false, reason)
	}
	return len(done), nil
}

// settleClosed ends what a closed session left: claimed messages are
// cancelled, waiting ones fail with the reason, their senders told. It
// reports how many it cancelled and how many messages someone asked the
// agent failed. When inbound.db cannot be read, the sweep tries again.
func (l *handle) settleClosed(ctx context.Context) (cancelled, failed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cancelled, err := l.cancelClaimed(ctx, reasonReset)
	if err != nil {
		l.c.log.Warn("cancel the turn of a closed session", "session", l.id, "group", l.group.Folder, "err", err)
		l.backlog.Store(true)
	}
	open, err := l.db.Open(ctx)
	if err != nil {
		l.c.log.Warn("read waiting messages", "session", l.id, "group", l.group.Folder, "err", err)
		l.backlog.Store(true)
		return cancelled, 0
	}
	if len(open) == 0 {
		return cancelled, 0
	}
	ids := make([]string, len(open))
	asked := map[string]bool{}
	for i, m := range open {
		ids[i] = m.ID
		asked[m.ID] = m.Trigger && m.Kind != sessiondb.KindSystem
	}
	done, err := l.db.End(ctx, sessiondb.StatusFailed, reasonReset, ids...)
	if err != nil {
		l.c.log.Warn("fail the messages of a closed session", "session", l.id, "group", l.group.Folder, "err", err)
		l.backlog.Store(true)
	}
	// A runner still going may have claimed one of them just now: its
	// late answer is dropped as a cancelled one's would be.
	l.amu.Lock()
	for _, id := range done {
		l.cancelled[id] = true
	}
	l.amu.Unlock()
	for _, id := range done {
		l.c.obs.Failed()
		l.c.log.Warn("failed", "session", l.id, "group", l.group.Folder, "message", id, "reason", reasonReset)
		if asked[id] {
			failed++
		}
	}
	l.poke() // tell their senders
	return cancelled, failed
}

// closedNow reports whether the session is closed, asking the store when
// this process has not closed it itself (a wake is rare enough to afford
// the read, and the store is what the router goes by).
func (l *handle) closedNow(ctx context.Context) (bool, error) {
	if l.closed.Load() {
		return true, nil
	}
	s, err := l.c.store.Session(ctx, l.id)
	if err != nil {
		return false, fmt.Errorf("read session: %w", err)
	}
	if s.Status == data.SessionClosed {
		l.closed.Store(true)
		return true, nil
	}
	return false, nil
}

// answersCancelled reports whether inID is one of the session's cancelled
// messages, so a reply to it is dropped. The first call reads the newest
// cancelled messages from inbound.db (a restart forgets them); later ones
// read nothing. l.delivering is held.
func (d *delivery) answersCancelled(ctx context.Context, l *handle, inID string) (bool, error) {
	l.amu.Lock()
	read, yes := l.cancelledRead, l.cancelled[inID]
	l.amu.Unlock()
	if yes || read {
		return yes, nil
	}
	ids, err := l.db.Cancelled(ctx, maxCancelledRead)
	if err != nil {
		return false, fmt.Errorf("read cancelled messages: %w", err)
	}
	l.amu.Lock()
	defer l.amu.Unlock()
	for _, id := range ids {
		l.cancelled[id] = true
	}
	l.cancelledRead = true
	return l.cancelled[inID], nil
}
