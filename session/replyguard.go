package session

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/session/sessiondb"
)

// maxFailureText is the most of an agent's error text a person is shown;
// the agent writes it, so it is bounded like any other agent output.
const maxFailureText = 1 << 10

// replyWindow is the span the per-session reply cap counts over.
const replyWindow = time.Minute

// floodState counts a session's delivered replies against its caps. It is
// guarded by the session's delivering mutex: only the delivery pass uses it.
type floodState struct {
	windowStart time.Time
	inWindow    int    // replies delivered since windowStart
	turn        string // the inbound message the latest replies answer
	inTurn      int    // replies delivered to turn
	told        string // the turn or window the person was last told about
}

// admit reports whether one more reply answering inReplyTo may go out now,
// and if not, why, and whether the person has yet to be told.
func (f *floodState) admit(now time.Time, inReplyTo string, perTurn, perWindow int) (why string, tell bool) {
	if now.Sub(f.windowStart) >= replyWindow {
		f.windowStart, f.inWindow = now, 0
	}
	if inReplyTo != f.turn {
		f.turn, f.inTurn = inReplyTo, 0
	}
	var key string
	switch {
	case inReplyTo != "" && f.inTurn >= perTurn:
		why = fmt.Sprintf("the agent sent more than %d replies to one message", perTurn)
		key = "turn:" + inReplyTo
	case f.inWindow >= perWindow:
		why = fmt.Sprintf("the agent sent more than %d replies in a minute", perWindow)
		key = "window:" + f.windowStart.String()
	default:
		f.inTurn++
		f.inWindow++
		return "", false
	}
	tell = f.told != key
	f.told = key
	return why, tell
}

// guardVerdict is what guardReply decided about one reply.
type guardVerdict int

const (
	guardSend  guardVerdict = iota // deliver it
	guardHeld                      // refused or capped, and recorded: never sent
	guardLater                     // undecided (the check failed): looked at again on a later pass
)

// guardReply decides whether a reply the agent wrote may be delivered. A
// reply to a cancelled message is dropped; one addressed outside its
// session's conversation is refused and the agent told; one past the
// reply caps is held back and the person told once. Each is recorded, so
// it is never retried. l.delivering is held.
func (d *delivery) guardReply(ctx context.Context, l *handle, msg sessiondb.OutMessage) guardVerdict {
	if msg.InReplyTo != "" {
		cancelled, err := d.answersCancelled(ctx, l, msg.InReplyTo)
		if err != nil {
			d.log.Warn("check reply", "session", l.id, "group", l.group.Folder, "reply", msg.ID, "err", err)
			return guardLater
		}
		if cancelled {
			// The person stopped that turn and was told so: a late answer
			// to it would only confuse.
			d.log.Info("reply-dropped", "channel", msg.ChannelType, "session", l.id, "group", l.group.Folder, "reply", msg.ID,
				"reason", "it answers a cancelled message")
			d.record(ctx, l, msg, sessiondb.DeliveryCancelled, "it answers a cancelled message")
			return guardHeld
		}
	}
	addr := sessiondb.Address{ChannelType: msg.ChannelType, PlatformID: msg.PlatformID, ThreadID: msg.ThreadID}
	ok := l.addresses[addr]
	if !ok {
		var err error
		if ok, err = l.db.InConversation(ctx, addr); err != nil {
			d.log.Warn("check reply address", "session", l.id, "group", l.group.Folder, "err", err)
			return guardLater
		}
		if ok {
			if l.addresses == nil {
				l.addresses = map[sessiondb.Address]bool{}
			}
			l.addresses[addr] = true
		}
	}
	if !ok {
		d.obs.DeliveryFailed(msg.ChannelType)
		d.log.Warn("reply-refused", "session", l.id, "group", l.group.Folder, "reply", msg.ID,
			"reason", "addressed outside the session's conversation", "to_channel", truncate(msg.ChannelType, 40))
		d.record(ctx, l, msg, sessiondb.DeliveryRefused, "addressed outside the session's conversation")
		// The agent hears of it on its next turn, in its own conversation.
		d.tellAgent(ctx, l, "reply-refused-"+msg.ID, "reply_refused",
			"Your reply was not delivered: a reply may go only to this conversation.")
		return guardHeld
	}
	why, tell := l.flood.admit(time.Now(), msg.InReplyTo, d.cfg.MaxRepliesPerTurn, d.cfg.MaxRepliesPerMinute)
	if why == "" {
		return guardSend
	}
	d.obs.DeliveryFailed(msg.ChannelType)
	d.log.Warn("reply-capped", "session", l.id, "group", l.group.Folder, "reply", msg.ID, "reason", why)
	d.record(ctx, l, msg, sessiondb.DeliveryCapped, why)
	if tell {
		text := "⚠️ " + why + "; berth did not deliver the rest."
		if _, err := d.sendWithRetry(ctx, msg.ChannelType, channels.Outbound{PlatformID: msg.PlatformID, ThreadID: msg.ThreadID,
			ReplyTo: d.platformMessageID(ctx, l, msg.InReplyTo), Text: text}); err != nil {
			d.log.Warn("delivery-failed", "channel", msg.ChannelType, "session", l.id, "group", l.group.Folder, "err", err)
		}
	}
	return guardHeld
}

// record notes a reply's outcome; a failure to record is logged, and the
// reply is looked at again on the next pass.
func (d *delivery) record(ctx context.Context, l *handle, msg sessiondb.OutMessage, status sessiondb.DeliveryStatus, why string) {
	if err := l.db.RecordDelivery(ctx, msg, "", status, why); err != nil {
		d.log.Warn("record delivery", "session", l.id, "group", l.group.Folder, "reply", msg.ID, "err", err)
	}
	d.clearOutbox(l, msg) // settled: its files are not sent later
}

// tellAgent leaves the agent a context-only system message in its own
// conversation, read on its next turn.
func (d *delivery) tellAgent(ctx context.Context, l *handle, id, event, text string) {
	chType, platformID, threadID, err := l.db.Routing(ctx)
	if err == nil {
		_, err = l.db.Append(ctx, sessiondb.InMessage{ID: id, Kind: sessiondb.KindSystem, Trigger: false,
			ChannelType: chType, PlatformID: platformID, ThreadID: threadID,
			Content: sessiondb.Content{Event: event, Text: text}})
	}
	if err != nil {
		d.log.Warn("tell agent", "session", l.id, "group", l.group.Folder, "event", event, "err", err)
	}
}

// failureText is what a person is told when their message failed: the
// reason, bounded, since the agent may have written it.
func failureText(reason string) string {
	text := "⚠️ Sorry, I could not answer your message"
	if reason == "" {
		return text
	}
	return text + ": " + truncate(reason, maxFailureText)
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimRight(s[:cut], " ") + "… [cut]"
}
