package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session/sessiondb"
)

// router takes an inbound message to the sessions it belongs to: it
// cleans and dedupes it, passes chat commands on, applies each wiring's
// engage rule and access policy, stores the message durably in each
// session's inbound.db and wakes the session. It also catches up missed
// messages after an outage and releases held ones.
type router struct {
	*core
	commands Commands
	access   accessState // notices told and rate buckets, per sender and conversation; guarded inside
	files    keyedMutex  // one routing at a time stores a message with files; guarded inside

	mu       sync.Mutex             // guards hints, catching, catchUps and gen
	hints    map[string]time.Time   // unwired-channel hints sent, per channel
	catching map[markKey]*freeze    // marks frozen while caught up
	catchUps map[string]*catchUpRun // the catch-up running per channel type
	gen      uint64                 // numbers catch-up plans, so a newer one's freeze is told from an older
}

// handle routes one inbound message (Manager.Handle): a chat command goes to the command
// handler; otherwise each wiring whose engage rule matches gets the
// message written durably to its session's inbound.db, and the session is
// woken. It returns nil once the message is stored or deliberately
// dropped (and, for a refusal, the sender told why), so a platform may ack
// it; an error means it was not stored and should be redelivered.
func (r *router) handle(ctx context.Context, in channels.Inbound) error {
	log := r.log.With("channel", in.ChannelType, "platform_id", in.PlatformID, "message", in.MessageID)
	text, problem := clean(in.Text, r.cfg.MaxText)
	in.Text = text
	if problem == problemEmpty && len(in.Attachments) > 0 {
		problem = "" // a file with no words is still a message
	}
	if len(in.Attachments) > 0 {
		var cancel context.CancelFunc
		ctx, cancel = r.filesContext(ctx)
		defer cancel()
	}
	if problem != "" {
		log.Info("dropped", "reason", problem)
		r.drop(ctx, in, problem)
		if in.Mentioned || in.IsDM {
			r.reply(ctx, in, "berth: message refused: "+problem)
		}
		return nil
	}
	if in.MessageID != "" {
		seen, err := r.store.Seen(ctx, in.ChannelType, in.PlatformID, in.MessageID)
		if err != nil {
			return fmt.Errorf("route message: %w", err)
		}
		if seen {
			log.Debug("dropped", "reason", "duplicate")
			return nil
		}
	}
	if err := r.store.EnsureUser(ctx, channels.UserKey(in.ChannelType, in.Sender.ID), in.Sender.Name); err != nil {
		return err
	}
	if strings.HasPrefix(strings.TrimSpace(in.Text), "!") {
		if r.commands == nil {
			r.reply(ctx, in, "berth: chat commands are not available in this build")
		} else if err := r.commands.Handle(ctx, in, func(t string) { r.reply(ctx, in, t) }); err != nil {
			return fmt.Errorf("command: %w", err)
		}
		return r.markSeen(ctx, in)
	}
	traceStep(ctx, r.log, "sender-known", "")
	if err := r.route(ctx, in, log); err != nil {
		return err
	}
	err := r.markSeen(ctx, in)
	traceStep(ctx, r.log, "handled", "")
	return err
}

// route passes a message to every wiring of its conversation that it
// engages and whose access policy lets its sender in. The access check
// comes before any session is resolved, so a refused sender never
// creates a session or starts a container. One wiring's failure (its
// session's files unusable) does not stop the others: every wiring is
// tried, and the error, returned after, makes the platform redeliver,
// which the wirings already done absorb (a message's id is deterministic).
func (r *router) route(ctx context.Context, in channels.Inbound, log *slog.Logger) error {
	conv := data.ConversationOf(in)
	mg, err := r.store.MessagingGroup(ctx, in.ChannelType, conv.Address)
	if errors.Is(err, data.ErrNotFound) {
		if in.Mentioned || in.IsDM {
			log.Info("dropped", "reason", "unwired channel")
			r.drop(ctx, in, "unwired channel")
			r.hint(ctx, in)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("route message: %w", err)
	}
	wirings, err := r.store.Wirings(ctx, mg.ID)
	if err != nil {
		return fmt.Errorf("route message: %w", err)
	}
	if len(wirings) == 0 {
		if in.Mentioned || in.IsDM {
			log.Info("dropped", "reason", "unwired channel")
			r.drop(ctx, in, "unwired channel")
			r.hint(ctx, in)
		}
		return nil
	}

	// Decide every wiring first: a store error here changes nothing.
	sender := channels.UserKey(in.ChannelType, in.Sender.ID)
	type pick struct {
		w        data.Wiring
		engaged  bool
		stranger bool // let in by an open wiring, without a role
	}
	var picks []pick
	var refusedIn, heldIn []data.Wiring
	var refusedNames, heldNames []string
	decided := false // recorded as refused, held or denied: not "trigger not matched"
	for _, w := range wirings {
		engaged, err := r.engages(ctx, w, mg, in, conv.Thread)
		if err != nil {
			log.Info("dropped", "reason", err.Error(), "group", w.AgentGroupID)
			r.drop(ctx, in, err.Error())
			continue
		}
		if !engaged && w.Ignored != data.IgnoredAccumulate {
			continue
		}
		v, err := r.admit(ctx, w, sender)
		if err != nil {
			return fmt.Errorf("route message: check access: %w", err)
		}
		if v == letIn || v == stranger {
			picks = append(picks, pick{w: w, engaged: engaged, stranger: v == stranger})
			continue
		}
		if !engaged {
			continue // a stranger's chatter is not even kept as context
		}
		folder := r.folder(ctx, w.AgentGroupID)
		decided = true
		switch v {
		case refuse:
			refusedIn, refusedNames = append(refusedIn, w), append(refusedNames, folder)
		case hold:
			heldIn, heldNames = append(heldIn, w), append(heldNames, folder)
		case denied:
			log.Info("dropped", "reason", "sender denied", "group", folder, "user", sender)
			r.drop(ctx, in, "sender denied by an admin of group "+folder)
		}
	}

	// A sender without a role may start only so much work.
	strangerWork := len(heldIn) > 0
	for _, p := range picks {
		strangerWork = strangerWork || (p.stranger && p.engaged)
	}
	if strangerWork && !r.access.take(sender+"\x00"+conversation(in), r.cfg.SenderRate, r.cfg.SenderBurst, time.Now()) {
		log.Info("dropped", "reason", "rate limited", "user", sender)
		r.drop(ctx, in, "rate limited")
		if r.access.tell("rate\x00"+sender+"\x00"+conversation(in), time.Minute, time.Now()) {
			r.reply(ctx, in, fmt.Sprintf("berth: you are sending faster than %d messages a minute, so your messages are not passed on; "+
				"wait a minute and try again.", r.cfg.SenderRate))
		}
		picks = slices.DeleteFunc(picks, func(p pick) bool { return p.stranger })
		heldIn, decided = nil, true
	}
	if len(refusedIn) > 0 {
		log.Info("dropped", "reason", "sender has no role", "group", strings.Join(refusedNames, ","), "user", sender)
		r.refused(ctx, in, sender, refusedNames)
	}
	if len(heldIn) > 0 {
		if err := r.holdFor(ctx, in, sender, heldIn, heldNames); err != nil {
			return fmt.Errorf("route message: %w", err)
		}
	}

	routed := false
	var failed []error
	var failedNames, notes []string
	for _, p := range picks {
		ok, left, err := r.routeTo(ctx, in, mg, p.w, p.engaged)
		notes = append(notes, left...)
		if err != nil {
			folder := r.folder(ctx, p.w.AgentGroupID)
			log.Warn("not stored", "group", folder, "err", err)
			failed, failedNames = append(failed, err), append(failedNames, folder)
			continue
		}
		routed = routed || ok
	}
	if len(failed) > 0 {
		// Refuse rather than half-write: the sender hears why, and the
		// platform redelivers to the wirings that failed.
		why := "please try again later"
		if sessiondb.DiskFull(errors.Join(failed...)) {
			why = "the server's disk is full; please try again later"
		}
		r.reply(ctx, in, "berth: your message was not accepted by agent group "+strings.Join(failedNames, ", ")+": "+why)
		return fmt.Errorf("route message: %w", errors.Join(failed...))
	}
	r.tellFiles(ctx, in, notes)
	if !routed && !decided && !in.IsDM {
		r.drop(ctx, in, "trigger not matched")
	}
	return nil
}

// folder names an agent group for logs and answers: its folder, or its id.
func (r *router) folder(ctx context.Context, groupID string) string {
	if g, err := r.store.Group(ctx, groupID); err == nil {
		return g.Folder
	}
	return groupID
}

// routeTo stores in in the session w keys it to, its files fetched into
// the session's inbox first, and wakes that session when the message
// engages. It reports whether it woke one, and a line per file left out
// (for the person, told once by the caller); a message already stored (a
// redelivery) is not stored or woken again.
func (r *router) routeTo(ctx context.Context, in channels.Inbound, mg data.MessagingGroup, w data.Wiring, engaged bool) (bool, []string, error) {
	key, err := data.ConversationKey(in, mg, w)
	if err != nil {
		return false, nil, fmt.Errorf("resolve session: %w", err)
	}
	s, created, err := r.store.ResolveSession(ctx, key)
	if err != nil {
		return false, nil, err
	}
	l, err := r.session(ctx, s)
	if err != nil {
		return false, nil, err
	}
	traceStep(ctx, r.log, "routed", s.ID)
	msg := sessiondb.InMessage{
		ID: inboundID(in, w.AgentGroupID), Kind: sessiondb.KindChat, Timestamp: in.Time, Trigger: engaged,
		ChannelType: in.ChannelType, PlatformID: in.PlatformID, ThreadID: in.ThreadID,
		SenderID: channels.UserKey(in.ChannelType, in.Sender.ID),
		Content: sessiondb.Content{Text: in.Text, SenderID: channels.UserKey(in.ChannelType, in.Sender.ID),
			SenderName: in.Sender.Name, Platform: in.ChannelType, MessageID: in.MessageID, Attachments: attachments(in)},
	}
	if msg.ThreadID == "" && key.Opens {
		msg.ThreadID = key.ThreadID // the agent answers in the thread the message opens
	}
	var notes []string
	if len(in.Attachments) > 0 {
		unlock := r.files.lock(s.ID + "/" + msg.ID)
		defer unlock()
		fresh, left, err := r.fetchFiles(ctx, l, &msg, in)
		if err != nil {
			return false, nil, fmt.Errorf("fetch files for session %s: %w", s.ID, err)
		}
		if !fresh {
			return false, nil, nil // a redelivery already stored, with its files
		}
		notes = left
	}
	ids, err := l.db.Append(ctx, msg)
	if err != nil {
		return false, nil, fmt.Errorf("store message for session %s: %w", s.ID, err)
	}
	if len(ids) == 0 {
		return false, nil, nil // a redelivery already stored
	}
	traceStep(ctx, r.log, "inbound-written", s.ID)
	if err := r.store.TouchSession(ctx, s.ID); err != nil {
		r.log.Warn("touch session", "session", s.ID, "group", l.group.Folder, "err", err)
	}
	traceStep(ctx, r.log, "session-touched", s.ID)
	r.log.Info("routed", "channel", in.ChannelType, "group", l.group.Folder, "session", s.ID, "message", msg.ID,
		"engaged", engaged, "new_session", created)
	if !engaged {
		return false, notes, nil // context only: it puts off no idle stop either
	}
	l.touch()
	r.obs.Routed(in.ChannelType)
	l.amu.Lock()
	if l.queued.IsZero() {
		l.queued = time.Now()
	}
	l.amu.Unlock()
	r.dlv.accepted(ctx, l, msg.ID, in)
	traceStep(ctx, r.log, "state-told", s.ID)
	r.wakeAsync(l)
	return true, notes, nil
}

// engages reports whether a wiring's engage rule takes the message.
func (r *router) engages(ctx context.Context, w data.Wiring, mg data.MessagingGroup, in channels.Inbound, thread string) (bool, error) {
	if in.IsDM || mg.IsDM {
		return true, nil
	}
	switch w.Engage {
	case data.EngageMention:
		return in.Mentioned, nil
	case data.EngageMentionSticky:
		if in.Mentioned {
			return true, nil
		}
		if thread == "" {
			return false, nil
		}
		_, err := r.store.FindSession(ctx, w.AgentGroupID, mg.ID, thread)
		return err == nil, nil
	case data.EngagePattern:
		re, err := regexp.Compile(w.Pattern)
		if err != nil {
			// Never fail open: a broken pattern engages nothing.
			return false, fmt.Errorf("wiring pattern does not compile: %v", err)
		}
		return re.MatchString(in.Text), nil
	}
	return false, fmt.Errorf("unknown engage rule %q", w.Engage)
}

func (r *router) drop(ctx context.Context, in channels.Inbound, reason string) {
	r.obs.Dropped(in.ChannelType, reason)
	if err := r.store.RecordDropped(ctx, data.Dropped{ChannelType: in.ChannelType, PlatformID: in.PlatformID, ThreadID: in.ThreadID,
		MessageID: in.MessageID, SenderID: channels.UserKey(in.ChannelType, in.Sender.ID), Reason: reason, Text: in.Text}); err != nil {
		r.log.Warn("record dropped message", "err", err)
	}
}

// hint tells an unwired channel, at most once an hour, how to wire it.
func (r *router) hint(ctx context.Context, in channels.Inbound) {
	key := in.ChannelType + ":" + in.PlatformID
	r.mu.Lock()
	last, ok := r.hints[key]
	if ok && time.Since(last) < time.Hour {
		r.mu.Unlock()
		return
	}
	r.hints[key] = time.Now()
	r.mu.Unlock()
	r.reply(ctx, in, "This channel is not registered with berth; an admin can run !register <name>.")
}

// reply sends host-side text (a refusal, a command's answer) to where in came from.
func (r *router) reply(ctx context.Context, in channels.Inbound, text string) {
	ch := r.channel(in.ChannelType)
	if ch == nil {
		return
	}
	if _, err := ch.Send(ctx, channels.Outbound{PlatformID: in.PlatformID, ThreadID: in.ThreadID, ReplyTo: in.MessageID, Text: text}); err != nil {
		r.log.Warn("delivery-failed", "channel", in.ChannelType, "err", err)
	}
}

// inboundID is deterministic, so a platform redelivery maps to the same row.
func inboundID(in channels.Inbound, groupID string) string {
	h := sha256.Sum256([]byte(in.ChannelType + "\x00" + in.PlatformID + "\x00" + in.MessageID + "\x00" + groupID))
	return hex.EncodeToString(h[:8])
}

func attachments(in channels.Inbound) []sessiondb.Attachment {
	var out []sessiondb.Attachment
	for _, a := range in.Attachments {
		out = append(out, sessiondb.Attachment{Name: a.Name, ContentType: a.ContentType, Size: a.Size})
	}
	return out
}

const problemEmpty = "message is empty"

// clean makes text safe to store and show: valid UTF-8, no control
// characters but newline and tab. It names the problem when the message
// cannot be taken at all.
func clean(text string, maxBytes int) (string, string) {
	if len(text) > maxBytes {
		return "", fmt.Sprintf("message is too long (%d bytes; the limit is %d)", len(text), maxBytes)
	}
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	text = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, text)
	if strings.TrimSpace(text) == "" {
		return "", problemEmpty
	}
	return text, ""
}
