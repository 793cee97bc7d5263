package slack

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/berth-dev/berth/channels"
)

// maxPages bounds the pages of 200 messages one history or thread read
// fetches (the catch-up's window is bounded in time too).
const maxPages = 10

// Missed returns the messages posted in a conversation after the message
// with ts after (or after the time since), oldest first: the top-level
// ones from conversations.history, and the replies of every thread whose
// parent there shows a reply after that point (latest_reply), from
// conversations.replies, since history leaves replies out. It notes the
// channel as wired, for the deaf watchdog.
func (a *Adapter) Missed(ctx context.Context, platformID, after string, since time.Time) ([]channels.Inbound, error) {
	oldest := after
	if oldest == "" {
		oldest = tsAt(since)
	}
	me, err := a.waitReady(ctx, platformID)
	if err != nil {
		return nil, err
	}
	var out []channels.Inbound
	cursor := ""
	for page := 0; page < maxPages; page++ {
		r, err := a.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
			ChannelID: platformID, Oldest: oldest, Limit: 200, Cursor: cursor})
		if err != nil {
			return nil, fmt.Errorf("slack: read history of %s: %s", platformID, a.scrub(err))
		}
		for _, m := range r.Messages {
			if in, ok := a.decodeHistory(ctx, platformID, m, me); ok && channels.CompareIDs(m.Timestamp, oldest) > 0 {
				out = append(out, in)
			}
			if m.ReplyCount > 0 && channels.CompareIDs(m.LatestReply, oldest) > 0 {
				replies, err := a.replies(ctx, platformID, m.Timestamp, oldest, me)
				if err != nil {
					return nil, err
				}
				out = append(out, replies...)
			}
		}
		cursor = r.ResponseMetaData.NextCursor
		if !r.HasMore || cursor == "" {
			break
		}
		if page == maxPages-1 {
			// History comes newest first: what is older than these pages
			// is not fetched. Said, so an operator knows.
			a.log.Warn("catch-up read only the newest messages", "platform_id", platformID, "pages", maxPages, "after", oldest)
		}
	}
	sortByTS(out)
	return out, nil
}

// MissedInThreads implements channels.ThreadBackfiller: the replies of
// each thread posted after its mark (or since), oldest first
// (conversations.replies). A thread whose parent is gone is skipped.
func (a *Adapter) MissedInThreads(ctx context.Context, platformID string, threads []channels.ThreadMark, since time.Time) ([]channels.Inbound, error) {
	me, err := a.waitReady(ctx, platformID)
	if err != nil {
		return nil, err
	}
	var out []channels.Inbound
	for _, t := range threads {
		oldest := t.After
		if oldest == "" {
			oldest = tsAt(since)
		}
		replies, err := a.replies(ctx, platformID, t.ThreadID, oldest, me)
		if err != nil {
			return nil, err
		}
		out = append(out, replies...)
	}
	sortByTS(out)
	return out, nil
}

// replies reads the replies of thread (not its parent) after oldest.
func (a *Adapter) replies(ctx context.Context, platformID, thread, oldest string, me bot) ([]channels.Inbound, error) {
	var out []channels.Inbound
	cursor := ""
	for page := 0; page < maxPages; page++ {
		msgs, more, next, err := a.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
			ChannelID: platformID, Timestamp: thread, Oldest: oldest, Limit: 200, Cursor: cursor})
		if apiError(err) == "thread_not_found" {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("slack: read thread %s of %s: %s", thread, platformID, a.scrub(err))
		}
		for _, m := range msgs {
			if m.Timestamp == thread || channels.CompareIDs(m.Timestamp, oldest) <= 0 {
				continue // the parent is a message of the channel
			}
			if m.ThreadTimestamp == "" {
				m.ThreadTimestamp = thread
			}
			if in, ok := a.decodeHistory(ctx, platformID, m, me); ok {
				out = append(out, in)
			}
		}
		if !more || next == "" {
			break
		}
		if page == maxPages-1 {
			a.log.Warn("catch-up read only the first replies of a thread", "platform_id", platformID, "thread", thread, "pages", maxPages)
		}
		cursor = next
	}
	return out, nil
}

// decodeHistory decodes a message read from history as Run would the
// event, or reports false for one berth ignores (its own, a bot's).
func (a *Adapter) decodeHistory(ctx context.Context, platformID string, m slack.Message, me bot) (channels.Inbound, bool) {
	ev := event{Type: "message", Subtype: m.SubType, User: m.User, BotID: m.BotID, Text: m.Text, TS: m.Timestamp,
		ThreadTS: m.ThreadTimestamp, Channel: platformID, Files: historyFiles(m.Files)}
	if strings.HasPrefix(platformID, "D") {
		ev.ChannelType = "im"
	}
	d, err := decodeEvent(ev, me)
	if err != nil || d.Skip != "" {
		return channels.Inbound{}, false
	}
	a.resolveNames(ctx, &d.In)
	return d.In, true
}

// waitReady waits for the first connection (which says who the bot is)
// and notes platformID as a wired channel for the watchdog.
func (a *Adapter) waitReady(ctx context.Context, platformID string) (bot, error) {
	select {
	case <-a.ready:
	case <-ctx.Done():
		return bot{}, ctx.Err()
	}
	a.watchChannel(platformID)
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.me, nil
}

func sortByTS(ins []channels.Inbound) {
	slices.SortStableFunc(ins, func(x, y channels.Inbound) int { return channels.CompareIDs(x.MessageID, y.MessageID) })
}

// tsAt is t as a Slack timestamp.
func tsAt(t time.Time) string { return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000) }

// timeOf is the time a Slack timestamp stands for, or false.
func timeOf(ts string) (time.Time, bool) {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	var us int64
	if frac != "" {
		frac = (frac + "000000")[:6]
		if us, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, false
		}
	}
	return time.Unix(s, us*1000), true
}
