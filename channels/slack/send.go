package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/berth-dev/berth/channels"
)

// Send posts a reply into its thread, split into ordered messages of at
// most MaxChars, each a Markdown block with a plain-text fallback. The
// text is escaped (see escape): a reply cannot ping @channel, a person or
// a user group, nor show a link under another address.
func (a *Adapter) Send(ctx context.Context, out channels.Outbound) (string, error) {
	chunks := parts(out.Text)
	if len(chunks) == 0 {
		chunks = []string{"…"}
	}
	if id := out.Mention; id != "" && strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == "" {
		chunks[0] = "<@" + id + "> " + chunks[0] // after escaping: the one markup berth itself writes
	}
	var first string
	for i, c := range chunks {
		opts := messageOptions(c, out.ThreadID)
		if i == 0 && out.Key != "" {
			// Lets Confirm find this reply after a crash.
			opts = append(opts, slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "berth_reply", EventPayload: map[string]any{"key": out.Key}}))
		}
		if i == 1 {
			var stop context.CancelFunc
			ctx, stop = a.finishing(ctx, len(chunks)-1)
			defer stop()
		}
		ts, err := a.post(ctx, out.PlatformID, opts)
		if err != nil {
			return first, fmt.Errorf("slack: post part %d of %d to %s: %w", i+1, len(chunks), out.PlatformID, err)
		}
		if i == 0 {
			first = ts
		}
	}
	return first, nil
}

// finishing is the context the rest of a reply is posted under once its
// first part is out: that part is what Confirm finds, so a retry would
// not send the rest, which must follow even past the caller's deadline
// for one attempt (pacing a long reply takes a second a part). Only the
// caller's cancellation (shutdown) or a bound of its own, generous for n
// parts, stops it.
func (a *Adapter) finishing(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	bound := time.Duration(n)*(a.cfg.PostInterval+10*time.Second) + 30*time.Second
	rest, cancel := context.WithTimeout(context.WithoutCancel(ctx), bound)
	stop := context.AfterFunc(ctx, func() {
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			cancel()
		}
	})
	return rest, func() { stop(); cancel() }
}

// messageOptions posts c, an escaped part, as a Markdown block with a
// plain-text fallback, in thread threadTS if set.
func messageOptions(c, threadTS string) []slack.MsgOption {
	opts := []slack.MsgOption{
		slack.MsgOptionText(c, false),
		slack.MsgOptionBlocks(slack.NewMarkdownBlock("", c)),
		slack.MsgOptionDisableLinkUnfurl(),
		// Slack's defaults, stated so a changed default cannot turn
		// a plain "@channel" into a ping.
		slack.MsgOptionParse(false),
		slack.MsgOptionLinkNames(false),
	}
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	return opts
}

// post sends one message, paced per channel (Config.PostInterval) so a
// long reply or a burst of replies stays under Slack's rate limit,
// waiting out a 429 all the same and retrying brief failures, so a long
// reply is not left half-sent.
func (a *Adapter) post(ctx context.Context, channel string, opts []slack.MsgOption) (string, error) {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var ts string
		if perr := a.pace.Do(ctx, channel, func() error {
			_, ts, err = a.api.PostMessageContext(ctx, channel, opts...)
			return nil
		}); perr != nil {
			return "", perr
		}
		if err == nil {
			return ts, nil
		}
		var rl *slack.RateLimitedError
		wait := time.Duration(attempt+1) * 500 * time.Millisecond
		switch {
		case errors.As(err, &rl):
			wait = rl.RetryAfter
		case permanent(err):
			return "", fmt.Errorf("%s: %w", a.scrub(err), channels.ErrPermanent)
		}
		if !sleep(ctx, wait) {
			return "", ctx.Err()
		}
	}
	return "", errors.New(a.scrub(err))
}

// permanent reports whether retrying a post cannot help.
func permanent(err error) bool {
	switch apiError(err) {
	case "channel_not_found", "not_in_channel", "is_archived", "msg_too_long", "invalid_blocks", "no_permission", "restricted_action":
		return true
	}
	return isAuthError(err)
}

// reactions are what a message shows in each state: ⏳ queued, ⚙️
// starting, 👀 working, 🔁 retrying, ❌ failed, ✅ done.
var reactions = map[channels.State]string{
	channels.StateQueued: "hourglass_flowing_sand", channels.StateStarting: "gear", channels.StateWorking: "eyes",
	channels.StateRetrying: "repeat", channels.StateFailed: "x", channels.StateDone: "white_check_mark",
}

// Status implements channels.Progress: the message's reaction follows its
// state and, in a thread, so does the assistant status line ("berth is
// thinking…") where the app may set it. Slack is called in the background.
func (a *Adapter) Status(ctx context.Context, t channels.Target, s channels.Status) {
	a.shown.Set(ctx, t, s)
}

// show replaces prev's reaction with next's and updates the status line.
func (a *Adapter) show(ctx context.Context, t channels.Target, prev, next channels.Status) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ref := slack.NewRefToMessage(t.PlatformID, t.MessageID)
	// The new reaction first, so the message never shows none.
	if r, old := reactions[next.State], reactions[prev.State]; r != old {
		if err := a.api.AddReactionContext(ctx, r, ref); err != nil && apiError(err) != "already_reacted" {
			a.log.Debug("reaction", "err", a.scrub(err))
		}
		if old != "" {
			if err := a.api.RemoveReactionContext(ctx, old, ref); err != nil && apiError(err) != "no_reaction" {
				a.log.Debug("reaction", "err", a.scrub(err))
			}
		}
	}
	a.statusLine(ctx, t, prev, next)
}

// statusText is the assistant status line for s: Slack shows it after the
// app's name ("berth is queued (2 ahead)…"); "" clears it.
func statusText(s channels.Status) string {
	switch s.State {
	case channels.StateQueued:
		if s.Ahead == 0 {
			return "is queued (next in line)…"
		}
		return fmt.Sprintf("is queued (%d ahead)…", s.Ahead)
	case channels.StateStarting:
		return "is starting up…"
	case channels.StateWorking:
		return "is thinking…"
	case channels.StateRetrying:
		return "is retrying…"
	}
	return ""
}

// statusLine sets the assistant status line of t's thread. It exists only
// in assistant threads, and only for apps with the assistant:write scope:
// once Slack refuses the app the method, berth stops asking.
func (a *Adapter) statusLine(ctx context.Context, t channels.Target, prev, next channels.Status) {
	text := statusText(next)
	if t.ThreadID == "" || text == statusText(prev) {
		return
	}
	a.mu.Lock()
	noStat := a.noStat
	a.mu.Unlock()
	if noStat {
		return
	}
	err := a.api.SetAssistantThreadsStatusContext(ctx, slack.AssistantThreadsSetStatusParameters{
		ChannelID: t.PlatformID, ThreadTS: t.ThreadID, Status: text})
	switch apiError(err) {
	case "":
		if err != nil {
			a.log.Debug("assistant status", "err", a.scrub(err))
		}
	case "missing_scope", "not_allowed_token_type", "no_permission", "not_allowed", "access_denied", "unknown_method":
		a.mu.Lock()
		a.noStat = true
		a.mu.Unlock()
		a.log.Debug("assistant status unavailable to this app; not asked again", "err", a.scrub(err))
	default:
		a.log.Debug("assistant status", "err", a.scrub(err)) // not an assistant thread, say
	}
}

// Confirm looks for a reply berth may have posted before a crash, by the
// key in its metadata.
func (a *Adapter) Confirm(ctx context.Context, out channels.Outbound) (string, bool, error) {
	var msgs []slack.Message
	if out.ThreadID != "" {
		m, _, _, err := a.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
			ChannelID: out.PlatformID, Timestamp: out.ThreadID, Limit: 200, IncludeAllMetadata: true})
		if err != nil {
			return "", false, fmt.Errorf("slack: read thread: %s", a.scrub(err))
		}
		msgs = m
	} else {
		r, err := a.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
			ChannelID: out.PlatformID, Limit: 100, IncludeAllMetadata: true})
		if err != nil {
			return "", false, fmt.Errorf("slack: read history: %s", a.scrub(err))
		}
		msgs = r.Messages
	}
	for _, m := range msgs {
		if m.Metadata.EventType == "berth_reply" && fmt.Sprint(m.Metadata.EventPayload["key"]) == out.Key {
			return m.Timestamp, true, nil
		}
	}
	return "", false, nil
}
