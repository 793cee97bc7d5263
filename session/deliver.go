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

// delivery sends what agents write back: it records their acks, sends
// each reply once (asking the platform after a crash rather than sending
// twice), keeps replies within the caps and the session's conversation,
// and tells people about messages that failed.
type delivery struct {
	*core
}

// loop sends a session's replies whenever its out/ folder changes,
// and on each sweep as a fallback.
//
// The rate limit is charged only by a pass that follows one that brought
// no news: news (a claim first seen, an outcome recorded, a reply settled,
// a failure told) is bounded by the rows berth wrote and the replies'
// caps, so a conversation going at full speed is never held up, while an
// agent churning its out/ folder without news gets PassRate passes.
func (d *delivery) loop(l *handle) {
	defer d.wg.Done()
	news := false
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-l.kick:
		}
		traceStep(d.ctx, d.log, "pass-kicked", l.id)
		if !news {
			if err := l.passes.Wait(d.ctx); err != nil {
				return // the manager is stopping
			}
		}
		traceStep(d.ctx, d.log, "pass-start", l.id)
		news = d.pass(l)
		d.notifyChanged()
	}
}

// pass runs one delivery pass on a goroutine of its own and waits for it:
// the stack a pass grows (SQLite, the channel's client) goes with that
// goroutine, and the loop, which every session has for as long as berth
// runs, waits on a stack of a few kilobytes (a thousand idle sessions'
// loops held ~10 MB of stacks otherwise; docs/performance.md).
func (d *delivery) pass(l *handle) (news bool) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		var err error
		if news, err = d.deliver(d.ctx, l); err != nil && d.ctx.Err() == nil {
			l.backlog.Store(true) // the sweep tries again
			d.log.Warn("delivery pass", "session", l.id, "err", err)
		}
	}()
	<-done
	return news
}

// maxClaimsSeen bounds the claims a session's delivery pass remembers
// having seen (see deliver).
const maxClaimsSeen = 10000

// deliver records the container's acks, sends every undelivered reply in
// seq order, and tells senders about messages that failed. It reports
// whether the pass brought news (see loop).
func (d *delivery) deliver(ctx context.Context, l *handle) (news bool, err error) {
	l.delivering.Lock()
	defer l.delivering.Unlock()
	acks, err := l.db.Acks(ctx)
	if errors.Is(err, sessiondb.ErrRefused) {
		d.refuseOutbound(ctx, l, err)
		acks = nil // the file is set aside; what was waiting has failed
	} else if err != nil {
		return false, fmt.Errorf("read acks: %w", err)
	}
	// Acks are read for pending messages only, and a claim is news once
	// per message berth wrote, however often the agent rewrites, drops
	// and rewrites it: an id is forgotten when its outcome is recorded
	// (or, bounding the set, all are when it passes maxClaimsSeen).
	if len(l.claimed) > maxClaimsSeen {
		l.claimed = nil
	}
	for id, a := range acks {
		if a.Status == sessiondb.StatusProcessing && !l.claimed[id] {
			if l.claimed == nil {
				l.claimed = map[string]bool{}
			}
			l.claimed[id] = true
			news = true
		}
	}
	traceStep(ctx, d.log, "acks-read", l.id)
	d.claims(ctx, l, acks)
	d.answerTasks(ctx, l, acks) // while the turn that asks still holds its claims
	// Holding l.delivering, no send of ours is in flight: a reply still
	// marked "sending" was cut off by a crash.
	doubt, err := l.db.InDoubt(ctx)
	if err != nil {
		return news, fmt.Errorf("read deliveries: %w", err)
	}
	for _, msg := range doubt {
		d.resolveDoubt(ctx, l, msg)
	}
	// Undelivered reads a bounded batch: read again until a batch is
	// done with, or a reply in it could not be settled.
	for {
		out, err := l.db.Undelivered(ctx)
		if err != nil {
			return news, fmt.Errorf("read replies: %w", err)
		}
		settled := 0
		for _, msg := range out {
			if !msg.DeliverAfter.IsZero() && msg.DeliverAfter.After(time.Now()) {
				l.backlog.Store(true) // due later: the sweep comes back for it
				break                 // later replies wait behind it, to keep their order
			}
			if !d.send(ctx, l, msg) {
				// Left as it was (a record or a check failed): later
				// replies wait behind it, and the sweep comes back.
				l.backlog.Store(true)
				break
			}
			settled++
			news = true
		}
		if len(out) == 0 || settled < len(out) {
			break
		}
	}
	// The acks are recorded after the replies are sent: the agent's
	// outbound.db holds them durably already (a crash before this write
	// loses nothing: the next pass reads them again), and the commit
	// would otherwise stand between a reply and its person. Recording is
	// a durable write: skip it when no outcome changed since the last
	// pass recorded them all.
	var finished []string
	if mark := outcomes(acks); mark != l.recorded {
		if finished, err = l.db.Finish(ctx, acks); err != nil {
			return news, fmt.Errorf("record acks: %w", err)
		}
		l.recorded = mark
	}
	if len(finished) > 0 {
		l.touch()
		news = true
	}
	for _, id := range finished {
		delete(l.claimed, id)
	}
	traceStep(ctx, d.log, "acks-recorded", l.id)
	for _, id := range finished {
		if acks[id].Status == sessiondb.StatusFailed {
			continue // told below, with the reason
		}
		d.done(ctx, l, id, true, "")
	}
	failed, err := l.db.FailedUnnotified(ctx)
	if err != nil {
		return news, fmt.Errorf("read failures: %w", err)
	}
	for _, f := range failed {
		var err error
		// Only a message someone asked the agent is answered with an
		// apology; context and berth's own notices fail quietly.
		if f.Trigger && f.Kind != sessiondb.KindSystem {
			_, err = d.sendWithRetry(ctx, f.ChannelType, channels.Outbound{PlatformID: f.PlatformID, ThreadID: f.ThreadID,
				ReplyTo: f.Content.MessageID, Text: failureText(f.Error)})
		}
		if err != nil && ctx.Err() != nil {
			return news, ctx.Err()
		}
		if err != nil {
			d.log.Error("delivery-failed", "channel", f.ChannelType, "session", l.id, "group", l.group.Folder, "message", f.ID, "err", err)
		}
		if err := l.db.MarkNotified(ctx, f.ID); err != nil {
			return news, err
		}
		d.done(ctx, l, f.ID, false, f.Error)
		news = true
	}
	return news, nil
}

// refuseOutbound deals with a reply database berth will not read (the
// agent made it a view, a FIFO, garbage, …): the file is set aside in
// out/ so the runner starts a fresh one, the messages that were waiting
// fail with the reason, and the container is restarted. Only this
// session is affected. l.delivering is held.
func (d *delivery) refuseOutbound(ctx context.Context, l *handle, why error) {
	d.log.Error("outbound-refused", "session", l.id, "group", l.group.Folder, "err", why)
	out := l.db.OutboundPath()
	// rename(2) acts on the directory entry and follows no symlink, and
	// out/ itself is berth's folder (only its contents are the agent's).
	aside := fmt.Sprintf("%s.refused-%d", out, time.Now().UnixNano())
	if err := os.Rename(out, aside); err != nil && !errors.Is(err, os.ErrNotExist) {
		d.log.Warn("set aside refused outbound.db", "session", l.id, "group", l.group.Folder, "err", err)
	}
	l.recorded = outcomeMark{}
	l.failPending(ctx, "the agent's reply database was refused, so its answer could not be read")
	go l.stop(d.ctx, "restarted")
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
func (d *delivery) send(ctx context.Context, l *handle, msg sessiondb.OutMessage) bool {
	if msg.Kind == sessiondb.KindSystem {
		d.record(ctx, l, msg, sessiondb.DeliverySkipped, "system message")
		return true
	}
	switch d.guardReply(ctx, l, msg) {
	case guardHeld:
		return true
	case guardLater:
		return false
	}
	traceStep(ctx, d.log, "reply-checked", l.id)
	start := time.Now()
	if err := l.db.BeginDelivery(ctx, msg); err != nil {
		d.log.Warn("record delivery", "session", l.id, "err", err)
		return false // tried again on the next pass
	}
	traceStep(ctx, d.log, "sending-recorded", l.id)
	retrying := func() {
		l.tell(ctx, channels.Status{State: channels.StateRetrying, Detail: "sending the answer failed; trying again"}, nil, msg.InReplyTo)
	}
	var pid string
	var err error
	if len(msg.Content.Files) > 0 {
		pid, err = d.sendFiles(ctx, l, msg, retrying)
	} else {
		pid, err = d.sendRetrying(ctx, msg.ChannelType, d.outbound(ctx, l, msg), retrying)
	}
	if ctx.Err() != nil {
		return false // not recorded: the next process delivers it
	}
	traceStep(ctx, d.log, "handed-off", l.id)
	if err != nil {
		d.obs.DeliveryFailed(msg.ChannelType)
		d.log.Error("delivery-failed", "channel", msg.ChannelType, "session", l.id, "group", l.group.Folder, "reply", msg.ID, "err", err)
		d.record(ctx, l, msg, sessiondb.DeliveryFailed, err.Error())
		d.tellAgent(ctx, l, "delivery-failed-"+msg.ID, "delivery_failed", "Your reply could not be delivered: "+err.Error())
		l.tell(ctx, channels.Status{State: channels.StateFailed, Detail: "its answer could not be delivered: " + err.Error()}, nil, msg.InReplyTo)
		return true
	}
	if err := l.db.RecordDelivery(ctx, msg, pid, sessiondb.DeliveryDelivered, ""); err != nil {
		d.log.Error("record delivery", "session", l.id, "err", err)
	}
	traceStep(ctx, d.log, "delivery-recorded", l.id)
	d.clearOutbox(l, msg)
	l.touch()
	l.tell(ctx, channels.Status{State: channels.StateWorking}, []channels.State{channels.StateRetrying}, msg.InReplyTo)
	d.obs.Delivered(msg.ChannelType, d.roundTrip(ctx, l, msg))
	d.log.Info("delivered", "channel", msg.ChannelType, "session", l.id, "group", l.group.Folder, "reply", msg.ID,
		"platform_message", pid, "ms", time.Since(start).Milliseconds())
	return true
}

func (d *delivery) outbound(ctx context.Context, l *handle, msg sessiondb.OutMessage) channels.Outbound {
	return channels.Outbound{PlatformID: msg.PlatformID, ThreadID: msg.ThreadID,
		ReplyTo: d.platformMessageID(ctx, l, msg.InReplyTo), Text: msg.Content.Text, Key: msg.ID}
}

// resolveDoubt settles a reply whose send a crash interrupted: the
// platform is asked whether it arrived; when it cannot say, the reply is
// not sent again, because a duplicate is worse than the rare loss.
func (d *delivery) resolveDoubt(ctx context.Context, l *handle, msg sessiondb.OutMessage) {
	pid, found, ok, err := d.confirm(ctx, l, msg)
	if !ok {
		d.log.Warn("delivery-failed", "channel", msg.ChannelType, "session", l.id, "group", l.group.Folder, "reply", msg.ID,
			"reason", "outcome unknown after a crash; not resent to avoid a duplicate")
		d.record(ctx, l, msg, sessiondb.DeliveryUnknown, "outcome unknown after a crash")
		return
	}
	if err != nil {
		d.log.Warn("confirm delivery", "channel", msg.ChannelType, "session", l.id, "err", err)
		return // asked again on the next pass
	}
	if found {
		if err := l.db.RecordDelivery(ctx, msg, pid, sessiondb.DeliveryDelivered, ""); err != nil {
			d.log.Warn("record delivery", "session", l.id, "group", l.group.Folder, "reply", msg.ID, "err", err)
		}
		d.clearOutbox(l, msg)
		d.log.Info("delivered", "channel", msg.ChannelType, "session", l.id, "group", l.group.Folder, "reply", msg.ID, "confirmed", true)
		return
	}
	d.send(ctx, l, msg)
}

// roundTrip is how long ago the message this reply answers was accepted.
func (d *delivery) roundTrip(ctx context.Context, l *handle, msg sessiondb.OutMessage) time.Duration {
	l.amu.Lock()
	pt, ok := l.targets[msg.InReplyTo]
	l.amu.Unlock()
	if !ok || pt.at.IsZero() {
		return 0
	}
	return time.Since(pt.at)
}

// platformMessageID maps an inbound row id to the platform's message id.
func (d *delivery) platformMessageID(ctx context.Context, l *handle, inID string) string {
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

// sendWithRetry sends out, trying again after a failure that may pass.
func (d *delivery) sendWithRetry(ctx context.Context, channelType string, out channels.Outbound) (string, error) {
	return d.sendRetrying(ctx, channelType, out, nil)
}

// sendRetrying is sendWithRetry that calls retrying (if not nil) before
// each try after the first.
func (d *delivery) sendRetrying(ctx context.Context, channelType string, out channels.Outbound, retrying func()) (string, error) {
	ch := d.channel(channelType)
	if ch == nil {
		return "", fmt.Errorf("%s: %w", channelType, errNoChannel)
	}
	confirmer, canConfirm := ch.(channels.Confirmer)
	var err error
	for attempt := 0; attempt < d.cfg.SendTries; attempt++ {
		if attempt > 0 {
			d.log.Info("retried", "channel", channelType, "attempt", attempt+1, "err", err)
			if retrying != nil {
				retrying()
			}
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(d.cfg.SendBase << (attempt - 1)):
			}
			// A send that failed may still have arrived (a timeout after
			// the platform took it): ask before sending it again.
			if canConfirm && out.Key != "" {
				cctx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
				pid, found, cerr := confirmer.Confirm(cctx, out)
				cancel()
				if cerr == nil && found {
					return pid, nil
				}
			}
		}
		sctx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
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

// errNoChannel is why a reply for a channel type with no running adapter
// could not be sent.
var errNoChannel = errors.New("no adapter for this channel type is running")
