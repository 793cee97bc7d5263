package slack

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/slack-go/slack"
)

// errDeaf ends a connection the watchdog found deaf.
var errDeaf = errors.New("slack: connection up but deaf: no event while a wired channel has new messages")

// watch is the deaf watchdog of one connection: once it has delivered no
// event of any kind for DeafAfter (pings do not count: a deaf socket
// still answers them), it asks Slack whether a wired channel has a
// message newer than the last event, and if so ends the connection with
// errDeaf, so that Run makes exactly one new one, which is caught up.
// The check is a cheap conversations.history (limit 5) per wired
// channel, made at most once per DeafAfter.
func (a *Adapter) watch(ctx context.Context, end context.CancelCauseFunc) {
	tick := max(a.cfg.DeafAfter/4, 50*time.Millisecond)
	// Slack delivers an event well within this of posting it; a message
	// newer than that is not yet missed.
	grace := min(a.cfg.DeafAfter/4, 10*time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	var checked time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.mu.Lock()
		up, heard := a.state.Connected, a.connectedAt
		if a.state.LastEvent.After(heard) {
			heard = a.state.LastEvent
		}
		chans := a.watchedLocked()
		me := a.me
		a.mu.Unlock()
		now := time.Now()
		if !up || heard.IsZero() || now.Sub(heard) < a.cfg.DeafAfter || now.Sub(checked) < a.cfg.DeafAfter {
			continue
		}
		checked = now
		// Anything posted after the last event came was not heard (the
		// message that brought it was posted before it arrived); what
		// was posted in the last grace may still be on its way.
		ch, ts := a.unheard(ctx, chans, heard, now.Add(-grace), me)
		if ch == "" {
			continue
		}
		a.mu.Lock()
		a.state.DeafReconnects++
		n := a.state.DeafReconnects
		a.mu.Unlock()
		a.log.Warn("connection deaf; replacing it", "silent_for", now.Sub(heard).Round(time.Second).String(),
			"platform_id", ch, "message", ts, "deaf_reconnects", n)
		end(errDeaf)
		return
	}
}

// maxWatched bounds the channels one deaf check reads.
const maxWatched = 20

// watchChannel notes a channel as one the watchdog checks: a wired one
// (caught up) or one a message was heard in.
func (a *Adapter) watchChannel(platformID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.watched[platformID] = time.Now()
	if len(a.watched) > 4*maxWatched {
		for _, ch := range a.watchedLocked()[maxWatched:] {
			delete(a.watched, ch)
		}
	}
}

// watchedLocked is the channels to check, the latest first, at most
// maxWatched; a.mu is held.
func (a *Adapter) watchedLocked() []string {
	chans := slices.SortedFunc(maps.Keys(a.watched), func(x, y string) int { return a.watched[y].Compare(a.watched[x]) })
	return chans[:min(len(chans), maxWatched)]
}

// unheard returns a wired channel, and the ts of a message in it, posted
// by someone else between from and to: one an event should have told of.
// A channel Slack will not show is skipped.
func (a *Adapter) unheard(ctx context.Context, chans []string, from, to time.Time, me bot) (string, string) {
	if !from.Before(to) {
		return "", ""
	}
	for _, ch := range chans {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		r, err := a.api.GetConversationHistoryContext(cctx, &slack.GetConversationHistoryParameters{
			ChannelID: ch, Oldest: tsAt(from), Latest: tsAt(to), Limit: 5})
		cancel()
		if err != nil {
			a.log.Debug("deaf check", "platform_id", ch, "err", a.scrub(err))
			continue
		}
		for _, m := range r.Messages {
			if (m.User != "" && m.User == me.UserID) || (m.BotID != "" && m.BotID == me.BotID) {
				continue
			}
			if at, ok := timeOf(m.Timestamp); ok && at.After(from) && at.Before(to) {
				return ch, m.Timestamp
			}
		}
	}
	return "", ""
}
