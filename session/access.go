package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
)

// Access limits, per sender.
const (
	// noticeEvery is how often one sender is told, in one conversation,
	// that they are not let in (or that their message is held).
	noticeEvery = time.Hour
	// maxHeldPerSender caps what one unknown sender can park in the store
	// for one group while no admin has answered.
	maxHeldPerSender = 20
	// maxTracked bounds the in-memory notice and rate maps; past it, stale
	// entries are pruned, so a crowd of new sender ids cannot grow them.
	maxTracked = 10000
)

// verdict is what a wiring's access policy decides for one sender.
type verdict int

const (
	letIn    verdict = iota // a user with a role for the group, or the operator
	stranger                // no role, but the wiring is open: let in, rate limited
	hold                    // no role, approval wiring: held for an admin
	refuse                  // no role, members wiring
	denied                  // turned away by a group admin with !deny
)

// admit applies w's access policy to sender (a store id, "slack:U1").
func (r *router) admit(ctx context.Context, w data.Wiring, sender string) (verdict, error) {
	ok, err := groups.Allowed(ctx, r.store, sender, data.RoleMember, w.AgentGroupID)
	if err != nil {
		return refuse, err
	}
	if ok {
		return letIn, nil
	}
	switch w.Access {
	case data.AccessOpen:
		return stranger, nil
	case data.AccessApproval:
		d, err := r.store.Denied(ctx, w.AgentGroupID, sender)
		if err != nil {
			return refuse, err
		}
		if d {
			return denied, nil
		}
		return hold, nil
	}
	return refuse, nil // members, and anything unknown: never fail open
}

// accessState is what the router remembers about senders. It is in
// memory only: a restart forgets it, which at worst repeats one notice
// or refills a sender's bucket.
type accessState struct {
	mu      sync.Mutex               // guards told and buckets
	told    map[string]time.Time     // notice key -> when last told
	buckets map[string]*rate.Limiter // sender and conversation -> their rate
}

// tell reports whether a notice under key is due (none in the last
// every), and if so records it as told now.
func (a *accessState) tell(key string, every time.Duration, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.told == nil {
		a.told = map[string]time.Time{}
	}
	if last, ok := a.told[key]; ok && now.Sub(last) < every {
		return false
	}
	if len(a.told) >= maxTracked {
		for k, t := range a.told {
			if now.Sub(t) >= noticeEvery {
				delete(a.told, k)
			}
		}
	}
	a.told[key] = now
	return true
}

// take spends one of key's tokens (a bucket of burst, refilled at
// perMinute), reporting false when there is none.
func (a *accessState) take(key string, perMinute, burst int, now time.Time) bool {
	if perMinute < 0 {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.buckets == nil {
		a.buckets = map[string]*rate.Limiter{}
	}
	lim := a.buckets[key]
	if lim == nil {
		if len(a.buckets) >= maxTracked {
			for k, o := range a.buckets {
				if o.TokensAt(now) >= float64(burst) {
					delete(a.buckets, k) // full again: the same as new
				}
			}
		}
		lim = rate.NewLimiter(rate.Limit(float64(perMinute)/60), burst)
		a.buckets[key] = lim
	}
	return lim.AllowN(now, 1)
}

// conversation names where a sender talks, for notices and rate limits:
// the wired channel (a thread counts as its channel, so that a sender
// cannot get a fresh allowance by starting threads).
func conversation(in channels.Inbound) string {
	return in.ChannelType + ":" + data.ConversationOf(in).Address
}

// refused records a message no wiring let its sender in for, and hints
// once an hour per sender and conversation how to get in.
func (r *router) refused(ctx context.Context, in channels.Inbound, sender string, folders []string) {
	r.drop(ctx, in, "sender has no role in group "+strings.Join(folders, ", "))
	if !r.access.tell("refused\x00"+sender+"\x00"+conversation(in), noticeEvery, time.Now()) {
		return
	}
	r.reply(ctx, in, fmt.Sprintf("berth: only members of agent group %s can talk to its agent here, so your message was not passed on. "+
		"An admin can add you with !grant %s member %s.", strings.Join(folders, ", "), sender, folders[0]))
}

// holdFor keeps in for an admin's !allow or !deny, unless the sender has
// too much held already, and asks the conversation's admins (once an
// hour per sender) to decide.
func (r *router) holdFor(ctx context.Context, in channels.Inbound, sender string, ws []data.Wiring, folders []string) error {
	raw, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("hold message: %w", err)
	}
	address := data.ConversationOf(in).Address
	var held []string
	for i, w := range ws {
		n, err := r.store.CountHeld(ctx, w.AgentGroupID, sender)
		if err != nil {
			return err
		}
		if n >= maxHeldPerSender {
			r.drop(ctx, in, fmt.Sprintf("too many held messages for group %s (%d)", folders[i], n))
			continue
		}
		if _, err := r.store.HoldMessage(ctx, data.Held{GroupID: w.AgentGroupID, ChannelType: in.ChannelType, PlatformID: address,
			MessageID: in.MessageID, SenderID: sender, SenderName: in.Sender.Name, Text: in.Text, Inbound: string(raw)}); err != nil {
			return err
		}
		held = append(held, folders[i])
	}
	if len(held) == 0 || !r.access.tell("held\x00"+sender+"\x00"+conversation(in), noticeEvery, time.Now()) {
		return nil
	}
	// The operator hears of it too: in a DM no admin is there to ask.
	r.log.Warn("held for approval", "channel", in.ChannelType, "group", strings.Join(held, ","), "user", sender)
	if in.IsDM {
		r.reply(ctx, in, fmt.Sprintf("berth: you are not a member of agent group %s, so your message is held until an admin of it "+
			"allows you (with !allow %s, which !held lists in the group's channels).", strings.Join(held, ", "), sender))
		return nil
	}
	// The id, not the display name: a stranger chooses their name, and
	// this notice is posted for them without anyone asking.
	r.reply(ctx, in, fmt.Sprintf("berth: %s is not a member of agent group %s, so their message is held until a group admin answers "+
		"!allow %s or !deny %s here.", sender, strings.Join(held, ", "), sender, sender))
	return nil
}

// releaseHeld (Manager.ReleaseHeld) routes the messages held for groupID from senderID, in
// every conversation, now that the sender was allowed, and reports how
// many it passed on. A message stays held if routing it fails, so that
// asking again retries it (routing twice stores it once: its id is
// deterministic); one whose conversation is no longer wired to the group
// is dropped, as it would be if it came now.
func (r *router) releaseHeld(ctx context.Context, groupID, senderID string) (int, error) {
	hs, err := r.store.HeldMessages(ctx, data.HeldFilter{GroupID: groupID, SenderID: senderID})
	if err != nil {
		return 0, err
	}
	type target struct {
		mg data.MessagingGroup
		w  data.Wiring // zero: not wired to the group
	}
	targets := map[string]target{} // channel type and address -> where it goes
	n := 0
	for _, h := range hs {
		key := h.ChannelType + ":" + h.PlatformID
		tg, ok := targets[key]
		if !ok {
			mg, err := r.store.MessagingGroup(ctx, h.ChannelType, h.PlatformID)
			if err != nil && !errors.Is(err, data.ErrNotFound) {
				return n, fmt.Errorf("release held messages: %w", err)
			}
			tg.mg = mg
			if err == nil {
				ws, err := r.store.Wirings(ctx, mg.ID)
				if err != nil {
					return n, fmt.Errorf("release held messages: %w", err)
				}
				for _, w := range ws {
					if w.AgentGroupID == groupID {
						tg.w = w
					}
				}
			}
			targets[key] = tg
		}
		var in channels.Inbound
		switch err := json.Unmarshal([]byte(h.Inbound), &in); {
		case err != nil:
			// Only berth writes this column; say so rather than loop on it.
			r.log.Error("held message unreadable; dropped", "group", groupID, "message", h.MessageID, "err", err)
			r.drop(ctx, channels.Inbound{ChannelType: h.ChannelType, PlatformID: h.PlatformID, MessageID: h.MessageID, Text: h.Text},
				"held message unreadable")
		case tg.w.ID == "":
			r.drop(ctx, in, "held message: the conversation is no longer wired to the group")
		default:
			_, notes, err := r.routeTo(ctx, in, tg.mg, tg.w, true)
			if err != nil {
				return n, fmt.Errorf("release held message %s: %w", h.MessageID, err)
			}
			r.tellFiles(ctx, in, notes)
			n++
		}
		if err := r.store.DeleteHeld(ctx, h.ID); err != nil {
			return n, err
		}
	}
	return n, nil
}
