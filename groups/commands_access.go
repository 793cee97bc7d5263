package groups

import (
	"context"
	"fmt"
	"strings"

	"github.com/berth-dev/berth/data"
)

// accessArgs reads "<user> [<group>]" of !allow and !deny: the user, and
// the groups wired here that the sender administers (the named one only).
func (c *Commands) accessArgs(ctx context.Context, x *call) (data.User, []wired, error) {
	_, ws, err := c.wiredHere(ctx, x, data.RoleAdmin)
	if err != nil {
		return data.User{}, nil, err
	}
	u, err := c.resolveUser(ctx, x.in.ChannelType, x.cmd.Args[0])
	if err != nil {
		return u, nil, err
	}
	var out []wired
	if len(x.cmd.Args) == 2 {
		g, err := c.group(ctx, x.cmd.Args[1])
		if err != nil {
			return u, nil, err
		}
		for _, w := range ws {
			if w.g.ID != g.ID {
				continue
			}
			if !w.allowed {
				return u, nil, c.refuseRole(ctx, x, data.RoleAdmin, g)
			}
			out = append(out, w)
		}
		if len(out) == 0 {
			return u, nil, refusef("this channel is not wired to agent group %s", g.Folder)
		}
		return u, out, nil
	}
	for _, w := range ws {
		if w.allowed {
			out = append(out, w)
		}
	}
	return u, out, nil
}

// allow makes a user a member of this channel's groups (those the sender
// administers) and routes what was held from them for those groups, here
// or elsewhere (a DM has no admin in it to ask).
func (c *Commands) allow(ctx context.Context, x *call) (string, error) {
	u, ws, err := c.accessArgs(ctx, x)
	if err != nil {
		return "", err
	}
	var lines []string
	for _, w := range ws {
		if err := c.store.Grant(ctx, data.Role{UserID: u.ID, Role: data.RoleMember, GroupID: w.g.ID, GrantedBy: x.user}); err != nil {
			return "", err
		}
		if err := c.store.Undeny(ctx, w.g.ID, u.ID); err != nil {
			return "", err
		}
		c.log.Info("sender allowed", "user", u.ID, "group", w.g.Folder, "by", x.user)
		n, err := c.sessions.ReleaseHeld(ctx, w.g.ID, u.ID)
		if err != nil {
			// The role stands; the messages stay held, and !allow again retries.
			return "", fmt.Errorf("%s is now member of %s, but passing on their held messages failed: %w", userName(u), w.g.Folder, err)
		}
		line := fmt.Sprintf("%s is now %s", userName(u), roleName(data.RoleMember, w.g))
		if n > 0 {
			line += fmt.Sprintf("; %d held message(s) passed on to its agent", n)
		}
		lines = append(lines, line+".")
	}
	return strings.Join(lines, "\n"), nil
}

// deny turns a user away from this channel's groups (those the sender
// administers): what was held from them for those groups is dropped, and
// later messages to an approval wiring are dropped without asking again.
func (c *Commands) deny(ctx context.Context, x *call) (string, error) {
	u, ws, err := c.accessArgs(ctx, x)
	if err != nil {
		return "", err
	}
	var names, member []string
	dropped := 0
	for _, w := range ws {
		if err := c.store.Deny(ctx, w.g.ID, u.ID, x.user); err != nil {
			return "", err
		}
		hs, err := c.store.HeldMessages(ctx, data.HeldFilter{GroupID: w.g.ID, SenderID: u.ID})
		if err != nil {
			return "", err
		}
		for _, h := range hs {
			if err := c.store.RecordDropped(ctx, data.Dropped{ChannelType: h.ChannelType, PlatformID: h.PlatformID, MessageID: h.MessageID,
				SenderID: h.SenderID, Reason: "sender denied by an admin of group " + w.g.Folder, Text: h.Text}); err != nil {
				return "", err
			}
			if err := c.store.DeleteHeld(ctx, h.ID); err != nil {
				return "", err
			}
			dropped++
		}
		if ok, err := Allowed(ctx, c.store, u.ID, data.RoleMember, w.g.ID); err != nil {
			return "", err
		} else if ok {
			member = append(member, w.g.Folder)
		}
		c.log.Info("sender denied", "user", u.ID, "group", w.g.Folder, "by", x.user, "dropped", len(hs))
		names = append(names, w.g.Folder)
	}
	msg := fmt.Sprintf("%s may not talk to agent group %s here; %d held message(s) dropped. %s: an admin declined to pass your messages on.",
		userName(u), strings.Join(names, ", "), dropped, userName(u))
	if len(member) > 0 {
		msg += fmt.Sprintf(" (They hold a role for %s, which still lets them in: !revoke takes it back.)", strings.Join(member, ", "))
	}
	return msg, nil
}

// held lists what is held for this channel's groups that the sender
// administers, here and in other conversations (DMs) of those groups.
func (c *Commands) held(ctx context.Context, x *call) (string, error) {
	_, ws, err := c.wiredHere(ctx, x, data.RoleAdmin)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	n := 0
	for _, w := range ws {
		if !w.allowed {
			continue
		}
		hs, err := c.store.HeldMessages(ctx, data.HeldFilter{GroupID: w.g.ID})
		if err != nil {
			return "", err
		}
		type sender struct {
			name, first string
			count       int
			where       map[string]bool // conversations other than this one
		}
		var order []string
		by := map[string]*sender{}
		for _, h := range hs {
			s := by[h.SenderID]
			if s == nil {
				s = &sender{name: h.SenderName, first: h.Text, where: map[string]bool{}}
				by[h.SenderID] = s
				order = append(order, h.SenderID)
			}
			s.count++
			if h.ChannelType != x.in.ChannelType || h.PlatformID != x.address {
				s.where[h.ChannelType+":"+h.PlatformID] = true
			}
		}
		for i, id := range order {
			if i == maxListed {
				fmt.Fprintf(&b, "… and %d more senders\n", len(order)-i)
				break
			}
			s := by[id]
			fmt.Fprintf(&b, "- %s for %s: %d message(s), the first %q", userName(data.User{ID: id, DisplayName: s.name}), w.g.Folder,
				s.count, truncate(s.first, 60))
			if len(s.where) > 0 {
				fmt.Fprintf(&b, " (some in %d other conversation(s))", len(s.where))
			}
			b.WriteString("\n")
			n++
		}
	}
	if n == 0 {
		return "Nothing is held for this channel's groups.", nil
	}
	return "Held messages (answer !allow <user> or !deny <user>):\n" + strings.TrimSuffix(b.String(), "\n"), nil
}
