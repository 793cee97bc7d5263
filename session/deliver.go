package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/session/sessiondb"
)

// deliverLoop sends a session's replies whenever its out/ folder changes,
// and on each sweep as a fallback.
func (m *Manager) deliverLoop(l *live) {
	defer m.wg.Done()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-l.kick:
		}
		if err := l.passes.Wait(m.ctx); err != nil {
			return // the manager is stopping
		}
		if err := m.deliver(m.ctx, l); err != nil && m.ctx.Err() == nil {
			l.backlog.Store(true) // the sweep tries again
			m.log.Warn("delivery pass", "session", l.id, "err", err)
		}
		m.notifyChanged()
	}
}

// deliver records the container's acks, sends every undelivered reply in
// seq order, and tells senders about messages that failed.
func (m *Manager) deliver(ctx context.Context, l *live) error {
	l.delivering.Lock()
	defer l.delivering.Unlock()
	acks, err := l.db.Acks(ctx)
	if errors.Is(err, sessiondb.ErrRefused) {
		m.refuseOutbound(ctx, l, err)
		acks = nil // the file is set aside; what was waiting has failed
	} else if err != nil {
		return fmt.Errorf("read acks: %w", err)
	}
	// Recording acks is a durable write: skip it when no outcome changed
	// since the last pass recorded them all.
	var finished []string
	if mark := outcomes(acks); mark != l.recorded {
		if finished, err = l.db.Finish(ctx, acks); err != nil {
			return fmt.Errorf("record acks: %w", err)
		}
		l.recorded = mark
	}
	if len(finished) > 0 {
		l.touch()
	}
	// Holding l.delivering, no send of ours is in flight: a reply still
	// marked "sending" was cut off by a crash.
	doubt, err := l.db.InDoubt(ctx)
	if err != nil {
		return fmt.Errorf("read deliveries: %w", err)
	}
	for _, msg := range doubt {
		m.resolveDoubt(ctx, l, msg)
	}
	// Undelivered reads a bounded batch: read again until a batch is
	// done with, or a reply in it could not be settled.
	for {
		out, err := l.db.Undelivered(ctx)
		if err != nil {
			return fmt.Errorf("read replies: %w", err)
		}
		settled := 0
		for _, msg := range out {
			if !msg.DeliverAfter.IsZero() && msg.DeliverAfter.After(time.Now()) {
				l.backlog.Store(true) // due later: the sweep comes back for it
				break                 // later replies wait behind it, to keep their order
			}
			if !m.send(ctx, l, msg) {
				break
			}
			settled++
		}
		if len(out) == 0 || settled < len(out) {
			break
		}
	}
	for _, id := range finished {
		if acks[id].Status == sessiondb.StatusFailed {
			continue // told below, with the reason
		}
		m.done(ctx, l, id, true)
	}
	failed, err := l.db.FailedUnnotified(ctx)
	if err != nil {
		return fmt.Errorf("read failures: %w", err)
	}
	for _, f := range failed {
		var err error
		// Only a message someone asked the agent is answered with an
		// apology; context and berth's own notices fail quietly.
		if f.Trigger && f.Kind != sessiondb.KindSystem {
			_, err = m.sendWithRetry(ctx, f.ChannelType, channels.Outbound{PlatformID: f.PlatformID, ThreadID: f.ThreadID,
				ReplyTo: f.Content.MessageID, Text: failureText(f.Error)})
		}
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			m.log.Error("delivery-failed", "channel", f.ChannelType, "session", l.id, "group", l.group.Folder, "message", f.ID, "err", err)
		}
		if err := l.db.MarkNotified(ctx, f.ID); err != nil {
			return err
		}
		m.done(ctx, l, f.ID, false)
	}
	return nil
}

// refuseOutbound deals with a reply database berth will not read (the
// agent made it a view, a FIFO, garbage, …): the file is set aside in
// out/ so the runner starts a fresh one, the messages that were waiting
// fail with the reason, and the container is restarted. Only this
// session is affected. l.delivering is held.
func (m *Manager) refuseOutbound(ctx context.Context, l *live, why error) {
	m.log.Error("outbound-refused", "session", l.id, "group", l.group.Folder, "err", why)
	out := l.db.OutboundPath()
	// rename(2) acts on the directory entry and follows no symlink, and
	// out/ itself is berth's folder (only its contents are the agent's).
	aside := fmt.Sprintf("%s.refused-%d", out, time.Now().UnixNano())
	if err := os.Rename(out, aside); err != nil && !errors.Is(err, os.ErrNotExist) {
		m.log.Warn("set aside refused outbound.db", "session", l.id, "group", l.group.Folder, "err", err)
	}
	l.recorded = outcomeMark{}
	m.failPending(ctx, l, "the agent's reply database was refused, so its answer could not be read")
	go m.stop(m.ctx, l, "restarted")
}

// outcomeMark summarises the final outcomes among a session's acks.
type outcomeMark struct {
	n      int
	latest time.Time
}

// outcomes marks the completed and failed acks: how many, and the newest.
func outcomes(acks map[string]sessiondb.Ack) outcomeMark {
	var o outcomeMark
	for _, a := range acks {
		if a.Status == sessiondb.StatusCompleted || a.Status == sessiondb.StatusFailed {
			o.n++
			if a.Changed.After(o.latest) {
				o.latest = a.Changed
			}
		}
	}
	return o
}

// send delivers one reply with retries and records the outcome; a reply
// that cannot be delivered is recorded as failed, logged, and the agent
// told, so nothing disappears quietly. It reports whether the reply is
// settled (delivered, failed or refused for good); false means it is
// looked at again on the next pass.
func (m *Manager) send(ctx context.Context, l *live, msg sessiondb.OutMessage) bool {
	if msg.Kind == sessiondb.KindSystem {
		m.record(ctx, l, msg, "skipped", "system message")
		return true
	}
	if !m.guardReply(ctx, l, msg) {
		return ctx.Err() == nil
	}
	start := time.Now()
	if err := l.db.BeginDelivery(ctx, msg); err != nil {
		m.log.Warn("record delivery", "session", l.id, "err", err)
		return false // tried again on the next pass
	}
	pid, err := m.sendWithRetry(ctx, msg.ChannelType, m.outbound(ctx, l, msg))
	if ctx.Err() != nil {
		return false // not recorded: the next process delivers it
	}
	if err != nil {
		m.obs.DeliveryFailed(msg.ChannelType)
		m.log.Error("delivery-failed", "channel", msg.ChannelType, "session", l.id, "group", l.group.Folder, "reply", msg.ID, "err", err)
		m.record(ctx, l, msg, sessiondb.StatusFailed, err.Error())
		m.tellAgent(ctx, l, "delivery-failed-"+msg.ID, "delivery_failed", "Your reply could not be delivered: "+err.Error())
		return true
	}
	if err := l.db.RecordDelivery(ctx, msg, pid, "delivered", ""); err != nil {
		m.log.Error("record delivery", "session", l.id, "err", err)
	}
	l.touch()
	m.obs.Delivered(msg.ChannelType, m.roundTrip(ctx, l, msg))
	m.log.Info("delivered", "channel", msg.ChannelType, "session", l.id, "group", l.group.Folder, "reply", msg.ID,
		"platform_message", pid, "ms", time.Since(start).Milliseconds())
	return true
}

func (m *Manager) outbound(ctx context.Context, l *live, msg sessiondb.OutMessage) channels.Outbound {
	return channels.Outbound{PlatformID: msg.PlatformID, ThreadID: msg.ThreadID,
		ReplyTo: m.platformMessageID(ctx, l, msg.InReplyTo), Text: msg.Content.Text, Key: msg.ID}
}

// resolveDoubt settles a reply whose send a crash interrupted: the
// platform is asked whether it arrived; when it cannot say, the reply is
// not sent again, because a duplicate is worse than the rare loss.
func (m *Manager) resolveDoubt(ctx context.Context, l *live, msg sessiondb.OutMessage) {
	c, ok := m.channel(msg.ChannelType).(channels.Confirmer)
	if !ok {
		m.log.Warn("delivery-failed", "channel", msg.ChannelType, "session", l.id, "group", l.group.Folder, "reply", msg.ID,
			"reason", "outcome unknown after a crash; not resent to avoid a duplicate")
		m.record(ctx, l, msg, sessiondb.DeliveryUnknown, "outcome unknown after a crash")
		return
	}
	pid, found, err := c.Confirm(ctx, m.outbound(ctx, l, msg))
	if err != nil {
		m.log.Warn("confirm delivery", "channel", msg.ChannelType, "session", l.id, "err", err)
		return // asked again on the next pass
	}
	if found {
		if err := l.db.RecordDelivery(ctx, msg, pid, sessiondb.DeliveryDelivered, ""); err != nil {
			m.log.Warn("record delivery", "session", l.id, "group", l.group.Folder, "reply", msg.ID, "err", err)
		}
		m.log.Info("delivered", "channel", msg.ChannelType, "session", l.id, "group", l.group.Folder, "reply", msg.ID, "confirmed", true)
		return
	}
	m.send(ctx, l, msg)
}

// roundTrip is how long ago the message this reply answers was accepted.
func (m *Manager) roundTrip(ctx context.Context, l *live, msg sessiondb.OutMessage) time.Duration {
	l.amu.Lock()
	pt, ok := l.targets[msg.InReplyTo]
	l.amu.Unlock()
	if !ok || pt.at.IsZero() {
		return 0
	}
	return time.Since(pt.at)
}

// platformMessageID maps an inbound row id to the platform's message id.
func (m *Manager) platformMessageID(ctx context.Context, l *live, inID string) string {
	if inID == "" {
		return ""
	}
	l.amu.Lock()
	pt, ok := l.targets[inID]
	l.amu.Unlock()
	if ok {
		return pt.t.MessageID
	}
	return ""
}

func (m *Manager) sendWithRetry(ctx context.Context, channelType string, out channels.Outbound) (string, error) {
	ch := m.channel(channelType)
	if ch == nil {
		return "", fmt.Errorf("%s: %w", channelType, errNoChannel)
	}
	confirmer, canConfirm := ch.(channels.Confirmer)
	var err error
	for attempt := 0; attempt < m.cfg.SendTries; attempt++ {
		if attempt > 0 {
			m.log.Info("retried", "channel", channelType, "attempt", attempt+1, "err", err)
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(m.cfg.SendBase << (attempt - 1)):
			}
			// A send that failed may still have arrived (a timeout after
			// the platform took it): ask before sending it again.
			if canConfirm && out.Key != "" {
				cctx, cancel := context.WithTimeout(ctx, m.cfg.SendTimeout)
				pid, found, cerr := confirmer.Confirm(cctx, out)
				cancel()
				if cerr == nil && found {
					return pid, nil
				}
			}
		}
		sctx, cancel := context.WithTimeout(ctx, m.cfg.SendTimeout)
		var pid string
		pid, err = ch.Send(sctx, out)
		cancel()
		if err == nil {
			return pid, nil
		}
		if errors.Is(err, channels.ErrPermanent) || ctx.Err() != nil {
			break
		}
	}
	return "", err
}
