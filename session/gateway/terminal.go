package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/terminal"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
)

// WireTerminal makes sure the terminal conversation (`berth chat`) is
// wired to the agent group in folder, creating the group (and its folder,
// once) if needed. The terminal's user is the operator and so the owner.
// One terminal conversation talks to one group at a time.
func (g *Gateway) WireTerminal(ctx context.Context, folder string) error {
	store := g.store
	ag, err := store.Group(ctx, folder)
	if errors.Is(err, data.ErrNotFound) {
		ag = data.AgentGroup{Name: folder, Folder: folder}
		if err := groups.Create(ctx, store, g.layout, &ag); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	mg, err := store.EnsureMessagingGroup(ctx, terminal.Type, terminal.PlatformID, "terminal", true)
	if err != nil {
		return err
	}
	ws, err := store.Wirings(ctx, mg.ID)
	if err != nil {
		return err
	}
	for _, w := range ws {
		if w.AgentGroupID == ag.ID {
			return nil
		}
	}
	if _, err := store.Unwire(ctx, mg.ID, ""); err != nil {
		return err
	}
	if err := store.Wire(ctx, &data.Wiring{MessagingGroupID: mg.ID, AgentGroupID: ag.ID, Engage: data.EngagePattern, Pattern: ".",
		SessionMode: data.SessionShared}); err != nil {
		return err
	}
	operator := channels.UserKey(terminal.Type, terminal.UserID)
	if err := store.EnsureUser(ctx, operator, "operator"); err != nil {
		return err
	}
	return store.Grant(ctx, data.Role{UserID: operator, Role: data.RoleOwner, GrantedBy: "berth"})
}

// WarmTerminal starts the container of the terminal conversation with
// the group in folder before its first message, so that `berth chat`
// shows its prompt once the agent is ready and the first reply does not
// wait for a container. A session new to the conversation says so on
// Config.Progress; an existing one starts quietly. WireTerminal first.
func (g *Gateway) WarmTerminal(ctx context.Context, folder string) error {
	store := g.store
	ag, err := store.Group(ctx, folder)
	if err != nil {
		return err
	}
	mg, err := store.EnsureMessagingGroup(ctx, terminal.Type, terminal.PlatformID, "terminal", true)
	if err != nil {
		return err
	}
	ws, err := store.Wirings(ctx, mg.ID)
	if err != nil {
		return err
	}
	for _, w := range ws {
		if w.AgentGroupID != ag.ID {
			continue
		}
		// The session the terminal's next message would be routed to.
		in := channels.Inbound{ChannelType: terminal.Type, PlatformID: terminal.PlatformID, IsDM: true}
		key, err := data.ConversationKey(in, mg, w)
		if err != nil {
			return err
		}
		s, created, err := store.ResolveSession(ctx, key)
		if err != nil {
			return err
		}
		if created {
			g.say("starting the agent's container…")
		}
		if err := g.mgr.Wake(ctx, s.ID); err != nil {
			return fmt.Errorf("start the agent's container: %w", err)
		}
		return nil
	}
	return fmt.Errorf("the terminal is not wired to group %s", folder)
}
