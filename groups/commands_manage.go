package groups

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/berth-dev/berth/data"
)

// Output caps, so a big install cannot make one answer enormous.
const (
	maxListed    = 50 // groups or users in one answer
	maxPerListed = 10 // wirings or sessions under one entry
)

const notWired = "This channel is not wired to an agent group. An admin can run !register <name> or !wire <group>."

// wired is one wiring of this channel with its group, if the sender may act on it.
type wired struct {
	w       data.Wiring
	g       data.AgentGroup
	allowed bool
}

// wiredHere lists this channel's wirings, marking those whose group the
// sender holds need for. It refuses when there is none, or none allowed.
func (c *Commands) wiredHere(ctx context.Context, x *call, need data.RoleName) (data.MessagingGroup, []wired, error) {
	mg, ws, _, err := c.here(ctx, x)
	if err != nil {
		return mg, nil, err
	}
	if len(ws) == 0 {
		return mg, nil, refusal(notWired)
	}
	out := make([]wired, 0, len(ws))
	some := false
	for _, w := range ws {
		g, err := c.store.Group(ctx, w.AgentGroupID)
		if err != nil {
			return mg, nil, err
		}
		ok, err := Allowed(ctx, c.store, x.user, need, g.ID)
		if err != nil {
			return mg, nil, err
		}
		some = some || ok
		out = append(out, wired{w: w, g: g, allowed: ok})
	}
	if !some {
		return mg, nil, c.refuseRole(ctx, x, need, out[0].g)
	}
	return mg, out, nil
}

// current finds the active session of this conversation under a wiring:
// the one the router would store this message in. ok is false when there
// is none.
func (c *Commands) current(ctx context.Context, x *call, mg data.MessagingGroup, w data.Wiring) (s data.Session, ok bool, err error) {
	k, err := data.ConversationKey(x.in, mg, w)
	if err != nil {
		return s, false, err
	}
	if k.Opens {
		return s, false, nil // the command opens a thread of its own: no session has it yet
	}
	s, err = c.store.KeyedSession(ctx, k)
	if errors.Is(err, data.ErrNotFound) {
		return s, false, nil
	}
	return s, err == nil, err
}

func (c *Commands) status(ctx context.Context, x *call) (string, error) {
	mg, ws, err := c.wiredHere(ctx, x, data.RoleMember)
	if err != nil {
		return "", err
	}
	now := c.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "This channel (%s:%s) is wired to:\n", x.in.ChannelType, truncate(x.address, 40))
	for _, w := range ws {
		fmt.Fprintf(&b, "- %s: %s\n", w.g.Folder, Describe(w.w.Engage, w.w.Pattern, w.w.SessionMode, w.w.Access))
	}
	b.WriteString("Sessions:\n")
	n := 0
	for _, w := range ws {
		if !w.allowed {
			continue
		}
		cur, _, err := c.current(ctx, x, mg, w.w)
		if err != nil {
			return "", err
		}
		ss, err := c.store.Sessions(ctx, data.SessionFilter{AgentGroupID: w.g.ID, ActiveOnly: true})
		if err != nil {
			return "", err
		}
		shown := 0
		for _, s := range ss {
			if s.MessagingGroupID != mg.ID && w.w.SessionMode != data.SessionAgentShared {
				continue
			}
			if shown == maxPerListed {
				b.WriteString("  … and more (berth sessions list shows all)\n")
				break
			}
			shown++
			fmt.Fprintf(&b, "- %s (%s", shortID(s.ID), w.g.Folder)
			if s.ThreadID != "" {
				fmt.Fprintf(&b, ", thread %s", truncate(s.ThreadID, 24))
			}
			fmt.Fprintf(&b, "): container %s, last active %s", s.ContainerState, ago(s.LastActive, now))
			if s.ID == cur.ID {
				b.WriteString(" (this conversation)")
			}
			b.WriteString("\n")
		}
		n += shown
	}
	if n == 0 {
		b.WriteString("- none yet; the next message that engages starts one\n")
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// eachSession calls fn with the current session of every wiring of this
// conversation that the sender may act on, and returns what fn did.
func (c *Commands) eachSession(ctx context.Context, x *call, fn func(w wired, s data.Session) (bool, error)) ([]string, error) {
	mg, ws, err := c.wiredHere(ctx, x, data.RoleMember)
	if err != nil {
		return nil, err
	}
	var done []string
	for _, w := range ws {
		if !w.allowed {
			continue
		}
		s, ok, err := c.current(ctx, x, mg, w.w)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		acted, err := fn(w, s)
		if err != nil {
			return nil, err
		}
		if acted {
			done = append(done, fmt.Sprintf("%s (group %s)", shortID(s.ID), w.g.Folder))
		}
	}
	return done, nil
}

func (c *Commands) reset(ctx context.Context, x *call) (string, error) {
	var stopped, failed int
	done, err := c.eachSession(ctx, x, func(w wired, s data.Session) (bool, error) {
		h, err := c.sessions.ResetSession(ctx, s.ID)
		if err != nil {
			return false, fmt.Errorf("reset session %s: %w", s.ID, err)
		}
		stopped += h.Cancelled
		failed += h.Failed
		c.log.Info("session reset", "channel", x.in.ChannelType, "group", w.g.Folder, "session", s.ID, "user", x.user,
			"cancelled", h.Cancelled, "failed", h.Failed)
		return true, nil
	})
	if err != nil {
		return "", err
	}
	if len(done) == 0 {
		return "There is no session here to reset; the next message starts a new one.", nil
	}
	var b strings.Builder
	b.WriteString("Closed session " + strings.Join(done, ", ") + "; its folder is kept.")
	if stopped > 0 {
		b.WriteString(" The turn it was working on was stopped and will not be answered.")
	}
	if failed > 0 {
		fmt.Fprintf(&b, " %s waiting for it will not be answered either; each sender was told.", plural(failed, "message"))
	}
	b.WriteString(" The next message starts a fresh session.")
	return b.String(), nil
}

func (c *Commands) stop(ctx context.Context, x *call) (string, error) {
	var lines []string
	_, err := c.eachSession(ctx, x, func(w wired, s data.Session) (bool, error) {
		h, err := c.sessions.StopTurn(ctx, s.ID)
		if err != nil {
			return false, fmt.Errorf("stop session %s: %w", s.ID, err)
		}
		name := fmt.Sprintf("session %s (group %s)", shortID(s.ID), w.g.Folder)
		switch {
		case h.Cancelled > 0:
			lines = append(lines, fmt.Sprintf("Stopped the turn of %s: %s will not be answered.", name, plural(h.Cancelled, "message")))
		case h.Container:
			lines = append(lines, "Nothing was running in "+name+"; its idle container is being stopped.")
		default:
			return false, nil
		}
		c.log.Info("session stopped", "channel", x.in.ChannelType, "group", w.g.Folder, "session", s.ID, "user", x.user,
			"cancelled", h.Cancelled, "container", h.Container)
		return true, nil
	})
	if err != nil {
		return "", err
	}
	if len(lines) == 0 {
		return "Nothing was running for this conversation.", nil
	}
	return strings.Join(lines, "\n") + "\nThe next message starts a fresh turn, in the same session.", nil
}

// plural counts n of a noun: "1 message", "2 messages".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func (c *Commands) groups(ctx context.Context, x *call) (string, error) {
	if err := c.require(ctx, x, data.RoleAdmin, data.AgentGroup{}); err != nil {
		return "", err
	}
	gs, err := c.store.Groups(ctx)
	if err != nil {
		return "", err
	}
	if len(gs) == 0 {
		return "There are no agent groups yet; !register <name> creates one.", nil
	}
	mgs, err := c.store.MessagingGroups(ctx)
	if err != nil {
		return "", err
	}
	where := map[string]string{}
	for _, m := range mgs {
		where[m.ID] = m.ChannelType + ":" + m.PlatformID
	}
	ws, err := c.store.Wirings(ctx, "")
	if err != nil {
		return "", err
	}
	byGroup := map[string][]data.Wiring{}
	for _, w := range ws {
		byGroup[w.AgentGroupID] = append(byGroup[w.AgentGroupID], w)
	}
	var b strings.Builder
	b.WriteString("Agent groups:\n")
	for i, g := range gs {
		if i == maxListed {
			fmt.Fprintf(&b, "… and %d more (berth groups list shows all)\n", len(gs)-i)
			break
		}
		fmt.Fprintf(&b, "- %s", g.Folder)
		if g.IsAdmin {
			b.WriteString(" (admin group)")
		}
		gw := byGroup[g.ID]
		if len(gw) == 0 {
			b.WriteString(": not wired\n")
			continue
		}
		b.WriteString(":\n")
		for j, w := range gw {
			if j == maxPerListed {
				fmt.Fprintf(&b, "  … and %d more\n", len(gw)-j)
				break
			}
			fmt.Fprintf(&b, "  - %s: %s\n", truncate(where[w.MessagingGroupID], 60), Describe(w.Engage, w.Pattern, w.SessionMode, w.Access))
		}
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// wireOptions reads --engage, --session and --access over base.
func wireOptions(x *call, base WireOptions) (WireOptions, error) {
	o, err := base.Apply(x.cmd.Flags["engage"], x.cmd.Flags["session"], x.cmd.Flags["access"])
	if err != nil {
		return o, refusal(err.Error())
	}
	return o, nil
}

func (c *Commands) register(ctx context.Context, x *call) (string, error) {
	if err := c.require(ctx, x, data.RoleAdmin, data.AgentGroup{}); err != nil {
		return "", err
	}
	name := x.cmd.Args[0]
	if err := ValidateFolder(name); err != nil {
		return "", refusal(err.Error())
	}
	o, err := wireOptions(x, DefaultWireOptions(x.in.IsDM))
	if err != nil {
		return "", err
	}
	if _, err := c.store.Group(ctx, name); err == nil {
		return "", refusef("agent group %s already exists; !wire %s wires this channel to it", name, name)
	} else if !errors.Is(err, data.ErrNotFound) {
		return "", err
	}
	g := data.AgentGroup{Name: name, Folder: name}
	if err := Create(ctx, c.store, c.layout, &g); errors.Is(err, data.ErrExists) {
		return "", refusef("agent group %s already exists; !wire %s wires this channel to it", name, name)
	} else if err != nil {
		return "", err
	}
	c.log.Info("group created", "group", g.Folder, "user", x.user)
	if err := c.wireHere(ctx, x, g, o); err != nil {
		return "", err
	}
	return fmt.Sprintf("Created agent group %s and wired this channel to it (%s).", g.Folder,
		Describe(o.Engage, o.Pattern, o.SessionMode, o.Access)), nil
}

func (c *Commands) wireHere(ctx context.Context, x *call, g data.AgentGroup, o WireOptions) error {
	mg, err := c.store.EnsureMessagingGroup(ctx, x.in.ChannelType, x.address, "", x.in.IsDM)
	if err != nil {
		return err
	}
	w := data.Wiring{MessagingGroupID: mg.ID, AgentGroupID: g.ID, Engage: o.Engage, Pattern: o.Pattern, SessionMode: o.SessionMode,
		Access: o.Access}
	if err := c.store.Wire(ctx, &w); err != nil {
		return err
	}
	c.log.Info("wired", "channel", x.in.ChannelType, "platform_id", x.address, "group", g.Folder, "user", x.user, "access", o.Access)
	return nil
}

func (c *Commands) wire(ctx context.Context, x *call) (string, error) {
	g, err := c.group(ctx, x.cmd.Args[0])
	if err != nil {
		return "", err
	}
	if err := c.require(ctx, x, data.RoleAdmin, g); err != nil {
		return "", err
	}
	base := DefaultWireOptions(x.in.IsDM)
	_, ws, _, err := c.here(ctx, x)
	if err != nil {
		return "", err
	}
	verb := "Wired"
	for _, w := range ws {
		if w.AgentGroupID == g.ID {
			base, verb = WireOptions{Engage: w.Engage, Pattern: w.Pattern, SessionMode: w.SessionMode, Access: w.Access}, "Rewired"
		}
	}
	o, err := wireOptions(x, base)
	if err != nil {
		return "", err
	}
	if err := c.wireHere(ctx, x, g, o); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s this channel to agent group %s (%s).", verb, g.Folder, Describe(o.Engage, o.Pattern, o.SessionMode, o.Access)), nil
}

func (c *Commands) unwire(ctx context.Context, x *call) (string, error) {
	mg, ws, _, err := c.here(ctx, x)
	if err != nil {
		return "", err
	}
	if len(ws) == 0 {
		return "", refusal(notWired)
	}
	var target data.AgentGroup
	if len(x.cmd.Args) == 1 {
		if target, err = c.group(ctx, x.cmd.Args[0]); err != nil {
			return "", err
		}
	}
	var names []string
	for _, w := range ws {
		if target.ID != "" && w.AgentGroupID != target.ID {
			continue
		}
		g, err := c.store.Group(ctx, w.AgentGroupID)
		if err != nil {
			return "", err
		}
		if err := c.require(ctx, x, data.RoleAdmin, g); err != nil {
			return "", err
		}
		names = append(names, g.Folder)
	}
	if len(names) == 0 {
		return "", refusef("this channel is not wired to agent group %s", target.Folder)
	}
	if _, err := c.store.Unwire(ctx, mg.ID, target.ID); err != nil {
		return "", err
	}
	c.log.Info("unwired", "channel", x.in.ChannelType, "platform_id", x.address, "group", strings.Join(names, ","), "user", x.user)
	return "Unwired this channel from agent group " + strings.Join(names, ", ") + ". Its sessions and folders are kept.", nil
}
