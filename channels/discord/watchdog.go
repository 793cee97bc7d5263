package discord

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"

	"github.com/berth-dev/berth/channels"
)

// DefaultDeafAfter is how long a connection may deliver nothing, while
// its heartbeats are answered and a watched channel has a newer message,
// before the watchdog replaces it.
const DefaultDeafAfter = 2 * time.Minute

// watchLimit bounds the channels and threads one check reads.
const watchLimit = 50

// watch replaces a deaf connection until ctx is done: one that is up,
// whose heartbeats Discord ACKs, but that has dispatched nothing for
// deafAfter while a watched channel's last_message_id (one cheap REST call
// per channel) is newer than the newest message berth saw there. A quiet
// server is not deaf: without a newer message nothing happens, and the
// next check waits another deafAfter.
func (a *Adapter) watch(ctx context.Context) {
	every := min(max(a.deafAfter/4, 100*time.Millisecond), 30*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !a.silent(time.Now()) {
			continue
		}
		channel, news := a.news(ctx)
		a.mu.Lock()
		a.checked = time.Now()
		a.mu.Unlock()
		if news {
			a.replace(ctx, channel)
		}
	}
}

// silent reports whether the connection is up, its heartbeats answered,
// and neither an event nor a check came for deafAfter.
func (a *Adapter) silent(now time.Time) bool {
	a.mu.Lock()
	quiet := a.state.Connected && a.readies > 0 && now.Sub(a.state.LastEvent) > a.deafAfter && now.Sub(a.checked) > a.deafAfter
	a.mu.Unlock()
	if !quiet {
		return false
	}
	a.s.RLock()
	ack, sent := a.s.LastHeartbeatAck, a.s.LastHeartbeatSent
	a.s.RUnlock()
	// The last heartbeat was ACKed, or was sent just now; a connection
	// whose ACKs stopped is discordgo's to replace (it does, after five
	// heartbeat intervals).
	return !ack.IsZero() && (!ack.Before(sent) || now.Sub(sent) < ackGrace)
}

// ackGrace is how long a heartbeat may wait for its ACK and still count
// as answered.
const ackGrace = 10 * time.Second

// watchChannel makes the watchdog read channel: one the gateway caught up (a
// wired one) or handed a message from. Any channel the bot can read is
// evidence: Discord dispatches every message in it, so a newer one that
// never came means the connection is deaf.
func (a *Adapter) watchChannel(channel string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.watched[channel] = true
}

// news reports a watched channel (or a thread of one) whose newest
// message is newer than the newest berth saw in it; it reads at most
// watchLimit, the most recently active first.
func (a *Adapter) news(ctx context.Context) (string, bool) {
	a.mu.Lock()
	ids := make([]string, 0, len(a.watched))
	for c := range a.watched {
		ids = append(ids, c)
	}
	for th, p := range a.parents {
		if _, ok := a.watched[p]; ok {
			ids = append(ids, th)
		}
	}
	rank := func(id string) string { return a.newest[id] }
	sort.Slice(ids, func(i, j int) bool { return channels.CompareIDs(rank(ids[i]), rank(ids[j])) > 0 })
	a.mu.Unlock()
	if len(ids) > watchLimit {
		ids = ids[:watchLimit]
	}
	for _, id := range ids {
		c, err := a.s.Channel(id, discordgo.WithContext(ctx))
		if err != nil {
			a.log.Debug("deaf check", "platform_id", id, "err", a.scrub(err))
			continue
		}
		a.mu.Lock()
		seen := a.newest[id]
		a.mu.Unlock()
		if c.LastMessageID != "" && channels.CompareIDs(c.LastMessageID, seen) > 0 && a.overdue(c.LastMessageID, time.Now()) {
			return id, true
		}
	}
	return "", false
}

// overdue reports whether message id was posted long enough ago that its
// dispatch should have come: one posted a moment ago may be on its way
// (a snowflake is its time), and is no evidence of deafness yet.
func (a *Adapter) overdue(id string, now time.Time) bool {
	at, err := discordgo.SnowflakeTimestamp(id)
	if err != nil {
		return true // not a snowflake: its newness is the evidence
	}
	return now.Sub(at) >= min(a.deafAfter/4, 10*time.Second)
}

// replace closes the deaf connection and opens exactly one new one
// (retrying only a failed open); the first event on it asks for a
// catch-up (onEvent).
func (a *Adapter) replace(ctx context.Context, channel string) {
	a.mu.Lock()
	a.state.DeafReconnects++
	a.deafPending = true
	silence := time.Since(a.state.LastEvent).Round(time.Second)
	a.mu.Unlock()
	a.log.Warn("gateway deaf: heartbeats answered but no event while a wired channel has newer messages; replacing the connection",
		"silent_for", silence.String(), "platform_id", channel)
	// Not 1000 or 1001: the session stays resumable.
	if err := a.s.CloseWithCode(websocket.CloseServiceRestart); err != nil {
		a.log.Debug("close deaf connection", "err", a.scrub(err))
	}
	for backoff := time.Second; ; backoff = min(2*backoff, time.Minute) {
		if ctx.Err() != nil {
			return
		}
		err := a.s.Open()
		if err == nil || errors.Is(err, discordgo.ErrWSAlreadyOpen) {
			return
		}
		if fatal := fatalClose(err); fatal != nil {
			select {
			case a.fatal <- fatal:
			default:
			}
			return
		}
		a.log.Warn("gateway unreachable; retrying", "err", a.scrub(err), "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}
