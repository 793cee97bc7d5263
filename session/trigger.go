package session

import (
	"context"
	"fmt"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session/sessiondb"
)

// Trigger writes a triggering row no person sent (a scheduled task's run)
// to a session's inbound.db and wakes the session the usual way. msg.ID
// must be deterministic (data.TaskRunMessageID): a row with that id
// already stored is not written again, and is woken only while it still
// waits, so a second call (a crash, a second gateway) runs nothing twice.
// The row's kind is sessiondb.KindTask; its content says it is a task
// (Content.Event "task"), so the agent knows no one is waiting. A closed
// session is ErrClosed.
func (m *Manager) Trigger(ctx context.Context, sessionID string, msg sessiondb.InMessage) error {
	s, err := m.store.Session(ctx, sessionID)
	if err != nil {
		return fmt.Errorf("trigger session %s: %w", sessionID, err)
	}
	if s.Status != data.SessionActive {
		return fmt.Errorf("trigger session %s: %w", sessionID, ErrClosed)
	}
	l, err := m.session(ctx, s)
	if err != nil {
		return fmt.Errorf("trigger session %s: %w", sessionID, err)
	}
	if l.closed.Load() {
		return fmt.Errorf("trigger session %s: %w", sessionID, ErrClosed)
	}
	msg.Kind, msg.Trigger = sessiondb.KindTask, true
	if msg.Content.Event == "" {
		msg.Content.Event = "task"
	}
	if msg.Timestamp.IsZero() {
		msg.Timestamp = time.Now()
	}
	ids, err := l.db.Append(ctx, msg)
	if err != nil {
		return fmt.Errorf("store task run %s for session %s: %w", msg.ID, s.ID, err)
	}
	if len(ids) == 0 {
		status, _, _, err := l.db.Outcome(ctx, msg.ID)
		if err != nil {
			return err
		}
		if status != sessiondb.StatusPending {
			return nil // stored and settled before: nothing to run
		}
	} else {
		if err := m.store.TouchSession(ctx, s.ID); err != nil {
			m.log.Warn("touch session", "session", s.ID, "group", l.group.Folder, "err", err)
		}
		m.log.Info("routed", "channel", msg.ChannelType, "group", l.group.Folder, "session", s.ID, "message", msg.ID, "kind", msg.Kind)
		m.obs.Routed(msg.ChannelType)
	}
	l.touch()
	l.amu.Lock()
	if l.queued.IsZero() {
		l.queued = time.Now()
	}
	l.amu.Unlock()
	m.wakeAsync(l)
	return nil
}

// Outcome reads where a row of a session's inbound.db stands: its status
// and, when it failed, why; found is false when there is no such row.
func (m *Manager) Outcome(ctx context.Context, sessionID, messageID string) (sessiondb.Status, string, bool, error) {
	if l := m.lookup(sessionID); l != nil {
		return l.db.Outcome(ctx, messageID)
	}
	s, err := m.store.Session(ctx, sessionID)
	if err != nil {
		return "", "", false, fmt.Errorf("read outcome in session %s: %w", sessionID, err)
	}
	return sessiondb.Host{Dir: m.sessionDir(s)}.Outcome(ctx, messageID)
}

// Address is where a session's conversation is answered: the address of
// its newest message from a person, else the session's own routing (its
// messaging group and thread).
func (m *Manager) Address(ctx context.Context, sessionID string) (sessiondb.Address, error) {
	s, err := m.store.Session(ctx, sessionID)
	if err != nil {
		return sessiondb.Address{}, fmt.Errorf("address of session %s: %w", sessionID, err)
	}
	a, found, err := sessiondb.Host{Dir: m.sessionDir(s)}.LastAddress(ctx)
	if err != nil || found {
		return a, err
	}
	mg, err := m.store.MessagingGroupByID(ctx, s.MessagingGroupID)
	if err != nil {
		return sessiondb.Address{}, fmt.Errorf("address of session %s: %w", sessionID, err)
	}
	return sessiondb.Address{ChannelType: mg.ChannelType, PlatformID: mg.PlatformID, ThreadID: s.ThreadID}, nil
}

// Tell sends host-side text (a task's failure, a pause) to a conversation
// through its channel's adapter, mentioning (notifying) the platform user
// mention first if it is not "".
func (m *Manager) Tell(ctx context.Context, channelType, platformID, threadID, mention, text string) error {
	ch := m.channel(channelType)
	if ch == nil {
		return fmt.Errorf("tell %s:%s: no %s channel is running", channelType, platformID, channelType)
	}
	if _, err := ch.Send(ctx, channels.Outbound{PlatformID: platformID, ThreadID: threadID, Text: text, Mention: mention}); err != nil {
		return fmt.Errorf("tell %s:%s: %w", channelType, platformID, err)
	}
	return nil
}
