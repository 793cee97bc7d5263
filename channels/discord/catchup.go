package discord

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/berth-dev/berth/channels"
)

// catchUpReason is why a catch-up is asked for, as the log says it.
type catchUpReason string

const (
	reasonNone        catchUpReason = ""
	reasonReidentify  catchUpReason = "resume failed, identified again" // a READY after the first
	reasonGap         catchUpReason = "gap in the event sequence"
	reasonDeaf        catchUpReason = "deaf connection replaced"
	reasonNotAccepted catchUpReason = "a message was not accepted"
)

// Bounds of a catch-up, so an outage costs a bounded number of calls.
const (
	historyPages   = 10 // of 100 messages, per channel or thread
	threadsPerChan = 50 // threads of one channel caught up, most recent first
)

// OnReconnect sets f, called (synchronously, before any message of the
// new connection reaches the handler) whenever events may have been
// missed after the first connection: a new READY (the resume failed and
// discordgo identified again), a gap in the sequence numbers, or a deaf
// connection replaced. The gateway's f notes each conversation's mark
// and catches up in the background, through Missed.
func (a *Adapter) OnReconnect(f func(ctx context.Context)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.onReconnect = f
}

// onEvent sees every dispatch, in order, with its sequence number (the
// typed handlers do not), before the message in it is handled: a gap is
// caught up before a live message could move a mark past it.
func (a *Adapter) onEvent(s *discordgo.Session, e *discordgo.Event) {
	if e == nil || e.Operation != 0 {
		return
	}
	a.mu.Lock()
	a.state.LastEvent = time.Now()
	reason := reasonNone
	switch e.Type {
	case "READY":
		a.readies++
		if a.readies > 1 {
			reason = reasonReidentify
		}
		a.lastSeq, a.deafPending = e.Sequence, false
	default:
		if a.deafPending {
			reason, a.deafPending = reasonDeaf, false
		} else if a.lastSeq != 0 && e.Sequence > a.lastSeq+1 {
			reason = reasonGap
		}
		a.lastSeq = max(a.lastSeq, e.Sequence)
	}
	f, ctx := a.onReconnect, a.ctx
	a.mu.Unlock()
	if reason != reasonNone {
		a.log.Info("catching up", "reason", string(reason), "seq", e.Sequence)
		if f != nil && ctx != nil {
			f(ctx)
		}
	}
	if m, ok := e.Struct.(*discordgo.MessageCreate); ok && m != nil && m.Message != nil {
		a.noteNewest(m.ChannelID, m.ID)
		a.onMessage(s, m)
	}
}

// catchUp asks the gateway for a catch-up outside the event loop (a
// message the handler did not accept); the gateway runs one at a time.
func (a *Adapter) catchUp(reason catchUpReason) {
	a.mu.Lock()
	f, ctx := a.onReconnect, a.ctx
	a.mu.Unlock()
	if f == nil || ctx == nil || ctx.Err() != nil {
		return
	}
	a.log.Info("catching up", "reason", string(reason))
	f(ctx)
}

// noteNewest records id as seen in channel, if it is the newest there:
// the deaf watchdog compares it with the channel's last_message_id.
func (a *Adapter) noteNewest(channel, id string) {
	if channel == "" || id == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if channels.CompareIDs(id, a.newest[channel]) > 0 {
		a.newest[channel] = id
	}
}

// Missed returns the messages posted in a channel after the message with
// id after (or after the time since), oldest first, and those posted
// after the same point in its threads: the guild's active threads under
// it and the threads berth saw under it (a thread is its own channel on
// Discord; snowflakes are times, so one point bounds them all). Each
// channel or thread is read at most historyPages pages; threads whose
// last message is not newer are not read. A channel asked for is wired:
// the deaf watchdog reads it.
func (a *Adapter) Missed(ctx context.Context, platformID, after string, since time.Time) ([]channels.Inbound, error) {
	after = from(after, since)
	select {
	case <-a.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	a.watchChannel(platformID)
	a.noteNewest(platformID, after) // nothing older is news
	out, err := a.history(ctx, platformID, after)
	if err != nil {
		return nil, err
	}
	threads, err := a.threadsOf(ctx, platformID, after)
	if err != nil {
		// The channel's own messages are still worth routing; the
		// threads are asked for again at the next catch-up.
		a.log.Warn("list threads for catch-up", "platform_id", platformID, "err", a.scrub(err))
	}
	for _, th := range threads {
		got, err := a.history(ctx, th, after)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	sort.SliceStable(out, func(i, j int) bool { return channels.CompareIDs(out[i].MessageID, out[j].MessageID) < 0 })
	return out, nil
}

// MissedInThreads returns the messages posted in the given threads of
// channel platformID after each thread's mark (or after since), oldest
// first per thread, as Missed decodes them (PlatformID the thread,
// ParentID the channel).
func (a *Adapter) MissedInThreads(ctx context.Context, platformID string, threads []channels.ThreadMark, since time.Time) ([]channels.Inbound, error) {
	select {
	case <-a.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var out []channels.Inbound
	for _, th := range threads {
		if th.ThreadID == "" || th.ThreadID == platformID {
			continue
		}
		a.mu.Lock()
		a.parents[th.ThreadID] = platformID
		a.mu.Unlock()
		got, err := a.history(ctx, th.ThreadID, from(th.After, since))
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// from is where a catch-up reads from: after the mark, but never before
// since (the catch-up window), a time that is a snowflake on Discord.
func from(after string, since time.Time) string {
	if since.IsZero() {
		return after
	}
	if s := snowflakeAt(since); channels.CompareIDs(after, s) < 0 {
		return s
	}
	return after
}

// snowflakeAt is the smallest snowflake of a time: Discord's epoch is
// 2015-01-01.
func snowflakeAt(t time.Time) string {
	return strconv.FormatInt(max(t.UnixMilli()-1420070400000, 0)<<22, 10)
}

// history reads a channel's messages after id after, oldest first,
// decoded as Run would (those Run drops are left out).
func (a *Adapter) history(ctx context.Context, channelID, after string) ([]channels.Inbound, error) {
	a.mu.Lock()
	botID := a.botID
	a.mu.Unlock()
	var out []channels.Inbound
	for page := 0; page < historyPages; page++ {
		msgs, err := a.s.ChannelMessages(channelID, 100, "", after, "", discordgo.WithContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("discord: read messages of %s: %s", channelID, a.scrub(err))
		}
		sort.Slice(msgs, func(i, j int) bool { return channels.CompareIDs(msgs[i].ID, msgs[j].ID) < 0 })
		for _, m := range msgs {
			if channels.CompareIDs(after, m.ID) >= 0 {
				continue
			}
			after = m.ID
			a.noteNewest(channelID, m.ID)
			in, skip := decodeMessage(m, me{UserID: botID, Roles: a.botRoles(ctx, m.GuildID)})
			if skip != "" {
				continue
			}
			in.ParentID = a.parent(ctx, in.PlatformID)
			out = append(out, in)
		}
		if len(msgs) < 100 {
			break
		}
	}
	return out, nil
}

// threadsOf lists the threads of channel that may hold messages after
// id after: the guild's active threads under it whose last message is
// newer, and the threads seen under it live; at most threadsPerChan, the
// most recently active first.
func (a *Adapter) threadsOf(ctx context.Context, channel, after string) ([]string, error) {
	last := map[string]string{} // thread id -> its last message id, "" unknown
	a.mu.Lock()
	for th, p := range a.parents {
		if p == channel {
			last[th] = ""
		}
	}
	a.mu.Unlock()
	var err error
	if guild := a.guildOf(ctx, channel); guild != "" {
		var active []*discordgo.Channel
		if active, err = a.activeThreads(ctx, guild); err == nil {
			for _, th := range active {
				if th.ParentID != channel {
					continue
				}
				a.mu.Lock()
				a.parents[th.ID] = channel
				a.mu.Unlock()
				last[th.ID] = th.LastMessageID
				if th.LastMessageID != "" && channels.CompareIDs(th.LastMessageID, after) <= 0 {
					delete(last, th.ID) // nothing new in it
				}
			}
		}
	}
	ids := make([]string, 0, len(last))
	for th := range last {
		ids = append(ids, th)
	}
	sort.Slice(ids, func(i, j int) bool {
		if c := channels.CompareIDs(last[ids[i]], last[ids[j]]); c != 0 {
			return c > 0
		}
		return ids[i] < ids[j]
	})
	if len(ids) > threadsPerChan {
		ids = ids[:threadsPerChan]
	}
	return ids, err
}

// guildOf returns the guild of a channel, "" for a DM or when unknown.
func (a *Adapter) guildOf(ctx context.Context, channel string) string {
	if c, err := a.s.State.Channel(channel); err == nil {
		return c.GuildID
	}
	c, err := a.s.Channel(channel, discordgo.WithContext(ctx))
	if err != nil {
		return ""
	}
	return c.GuildID
}

// activeThreads lists a guild's active threads.
func (a *Adapter) activeThreads(ctx context.Context, guild string) ([]*discordgo.Channel, error) {
	l, err := a.s.GuildThreadsActive(guild, discordgo.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("discord: active threads of %s: %s", guild, a.scrub(err))
	}
	return l.Threads, nil
}
