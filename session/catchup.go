package session

import (
	"context"
	"fmt"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data"
)

// backfillWindow is how far back berth catches up after an outage.
const backfillWindow = 24 * time.Hour

// markKey names one high-water mark: a wired conversation's (thread "")
// or one of its threads'.
type markKey struct {
	channelType, address, thread string
}

// markOf is the mark a message moves once handled.
func markOf(in channels.Inbound) markKey {
	conv := data.ConversationOf(in)
	k := markKey{channelType: in.ChannelType, address: conv.Address, thread: conv.Thread}
	if k.thread == in.MessageID {
		k.thread = "" // a thread's parent is a message of the channel
	}
	return k
}

// freeze holds a mark while its conversation is caught up: moving it past
// messages not yet fetched would lose them if berth died, or if the
// connection dropped again, now.
type freeze struct {
	gen  uint64 // the plan that froze it
	live string // the newest id handled live meanwhile
}

// catchUpRun is the catch-up running for one channel type; a reconnect
// while it runs leaves the next plan in pending.
type catchUpRun struct {
	pending *catchUpPlan
}

// catchUpPlan is where each wired conversation of a channel left off,
// read before the connection it catches up delivered anything.
type catchUpPlan struct {
	gen   uint64
	floor time.Time
	convs []convMark
}

// convMark is one wired conversation's marks.
type convMark struct {
	platformID, after string
	since             time.Time
	threads           []channels.ThreadMark
}

func (r *router) markSeen(ctx context.Context, in channels.Inbound) error {
	if in.MessageID == "" {
		return nil
	}
	if _, err := r.store.MarkSeen(ctx, in.ChannelType, in.PlatformID, in.MessageID); err != nil {
		return err
	}
	k := markOf(in)
	r.mu.Lock()
	f, frozen := r.catching[k]
	if frozen && channels.CompareIDs(in.MessageID, f.live) > 0 {
		f.live = in.MessageID
	}
	if !frozen && k.thread != "" {
		// A thread the catch-up does not ask about: its earlier replies
		// may be in the gap, so its mark waits for the next message.
		_, frozen = r.catching[markKey{channelType: k.channelType, address: k.address}]
	}
	r.mu.Unlock()
	if frozen {
		return nil
	}
	return r.advance(ctx, k, in.MessageID)
}

// advance moves mark k to id, unless it is past id already.
func (r *router) advance(ctx context.Context, k markKey, id string) error {
	if k.thread != "" {
		return r.store.AdvanceThreadHighWater(ctx, k.channelType, k.address, k.thread, id)
	}
	return r.store.AdvanceHighWater(ctx, k.channelType, k.address, id)
}

// prepareBackfill (Manager.PrepareBackfill) notes, before ch starts, where each of its wired
// conversations and their recent threads left off, and returns the
// catch-up to run once it has: it routes what was posted after that
// point (deduplicated against what was already handled). The marks must
// be read before ch delivers new messages, or those would hide what came
// before them. When a catch-up of ch runs already, the new plan waits for
// it and the returned func does nothing.
func (r *router) prepareBackfill(ctx context.Context, ch channels.Channel) (func(context.Context) error, error) {
	nothing := func(context.Context) error { return nil }
	if _, ok := ch.(channels.Backfiller); !ok {
		return nothing, nil
	}
	plan, err := r.plan(ctx, ch.Type())
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if run := r.catchUps[ch.Type()]; run != nil {
		run.pending = plan // a newer plan replaces one not started
		return nothing, nil
	}
	run := &catchUpRun{}
	r.catchUps[ch.Type()] = run
	return func(ctx context.Context) error { return r.runCatchUps(ctx, ch, run, plan) }, nil
}

// reconnected (Manager.Reconnected) plans a catch-up of ch synchronously
// and runs it in the background.
func (r *router) reconnected(ctx context.Context, ch channels.Channel) {
	run, err := r.prepareBackfill(ctx, ch)
	if err != nil {
		// The marks were not frozen: live messages may move them, so
		// what the gap held is caught up only at the next start.
		r.log.Warn("prepare catch-up after reconnect", "channel", ch.Type(), "err", err)
		return
	}
	go func() {
		if err := run(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("catch-up after reconnect", "channel", ch.Type(), "err", err)
		}
	}()
}

// runCatchUps runs plan, then every plan a reconnect left meanwhile, one
// at a time, so a channel's catch-ups never overlap.
func (r *router) runCatchUps(ctx context.Context, ch channels.Channel, run *catchUpRun, plan *catchUpPlan) error {
	for {
		err := r.catchUp(ctx, ch, plan)
		r.mu.Lock()
		plan, run.pending = run.pending, nil
		if err != nil || plan == nil {
			if r.catchUps[ch.Type()] == run {
				delete(r.catchUps, ch.Type())
			}
			r.mu.Unlock()
			return err
		}
		r.mu.Unlock()
	}
}

// plan reads the marks of every wired conversation of channelType, and
// of its recent threads, and freezes them.
func (r *router) plan(ctx context.Context, channelType string) (*catchUpPlan, error) {
	mgs, err := r.store.MessagingGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("plan catch-up: %w", err)
	}
	p := &catchUpPlan{floor: time.Now().Add(-backfillWindow)}
	for _, mg := range mgs {
		if mg.ChannelType != channelType {
			continue
		}
		if ws, err := r.store.Wirings(ctx, mg.ID); err != nil || len(ws) == 0 {
			continue
		}
		after, err := r.store.HighWater(ctx, mg.ChannelType, mg.PlatformID)
		if err != nil {
			return nil, fmt.Errorf("plan catch-up: %w", err)
		}
		since := mg.CreatedAt
		if since.Before(p.floor) {
			since = p.floor
		}
		threads, err := r.store.RecentThreads(ctx, mg, p.floor)
		if err != nil {
			return nil, fmt.Errorf("plan catch-up: %w", err)
		}
		p.convs = append(p.convs, convMark{platformID: mg.PlatformID, after: after, since: since, threads: threads})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	p.gen = r.gen
	for _, c := range p.convs {
		r.catching[markKey{channelType: channelType, address: c.platformID}] = &freeze{gen: p.gen}
		for _, t := range c.threads {
			r.catching[markKey{channelType: channelType, address: c.platformID, thread: t.ThreadID}] = &freeze{gen: p.gen}
		}
	}
	return p, nil
}

// catchUp routes what each conversation of plan missed and its threads,
// then moves each mark to the newest message fetched or, if no newer
// plan froze it meanwhile, handled live. A conversation whose history
// cannot be read keeps its marks frozen: the next catch-up starts there.
func (r *router) catchUp(ctx context.Context, ch channels.Channel, plan *catchUpPlan) error {
	bf := ch.(channels.Backfiller)
	tbf, threaded := ch.(channels.ThreadBackfiller)
	for _, c := range plan.convs {
		missed, err := bf.Missed(ctx, c.platformID, c.after, c.since)
		if err != nil {
			r.log.Warn("backfill", "channel", ch.Type(), "platform_id", c.platformID, "err", err)
			continue
		}
		if threaded && len(c.threads) > 0 {
			replies, err := tbf.MissedInThreads(ctx, c.platformID, c.threads, c.since)
			if err != nil {
				r.log.Warn("backfill threads", "channel", ch.Type(), "platform_id", c.platformID, "err", err)
				continue
			}
			missed = append(missed, replies...)
		}
		newest := map[markKey]string{}
		n := 0
		for _, in := range missed {
			if in.Time.Before(plan.floor) {
				continue
			}
			if err := r.handle(ctx, in); err != nil {
				return fmt.Errorf("backfill %s:%s: %w", ch.Type(), c.platformID, err)
			}
			k := markOf(in)
			if channels.CompareIDs(in.MessageID, newest[k]) > 0 {
				newest[k] = in.MessageID
			}
			n++
		}
		keys := map[markKey]bool{{channelType: ch.Type(), address: c.platformID}: true}
		for _, t := range c.threads {
			keys[markKey{channelType: ch.Type(), address: c.platformID, thread: t.ThreadID}] = true
		}
		for k := range newest {
			// A thread found through its parent in the history: all its
			// replies since the channel's mark were fetched with it, so
			// its own mark may start.
			keys[k] = true
		}
		for k := range keys {
			id := newest[k]
			r.mu.Lock()
			if f := r.catching[k]; f != nil && f.gen == plan.gen {
				if channels.CompareIDs(f.live, id) > 0 {
					id = f.live
				}
				delete(r.catching, k)
			}
			r.mu.Unlock()
			if err := r.advance(ctx, k, id); err != nil {
				return fmt.Errorf("backfill %s:%s: %w", ch.Type(), c.platformID, err)
			}
		}
		if n > 0 {
			r.log.Info("backfilled", "channel", ch.Type(), "platform_id", c.platformID, "messages", n)
		}
	}
	return nil
}
