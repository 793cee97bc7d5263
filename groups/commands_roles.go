package groups

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/data"
)

// Wrong !pair codes a user may send within pairWindow before being told to wait.
const (
	maxPairFails = 5
	pairWindow   = 10 * time.Minute
)

// roleArgs reads "<user> <admin|member> [<group>]" and refuses unless the
// sender may grant or revoke that role: an admin of the group (or a global
// admin) for member, a global admin for admin of a group, an owner for
// global admin.
func (c *Commands) roleArgs(ctx context.Context, x *call) (data.User, data.RoleName, data.AgentGroup, error) {
	var g data.AgentGroup
	role := data.RoleName(strings.ToLower(x.cmd.Args[1]))
	if role != data.RoleAdmin && role != data.RoleMember {
		return data.User{}, "", g, refusef("role %q is not one !%s gives: use admin or member (an owner pairs with !pair)",
			truncate(x.cmd.Args[1], 20), x.cmd.Name)
	}
	if len(x.cmd.Args) == 3 {
		var err error
		if g, err = c.group(ctx, x.cmd.Args[2]); err != nil {
			return data.User{}, "", g, err
		}
	}
	u, err := c.resolveUser(ctx, x.in.ChannelType, x.cmd.Args[0])
	if err != nil {
		return u, "", g, err
	}
	need, on := data.RoleAdmin, g
	switch {
	case role == data.RoleAdmin && g.ID == "":
		need = data.RoleOwner
	case role == data.RoleAdmin:
		on = data.AgentGroup{}
	}
	return u, role, g, c.require(ctx, x, need, on)
}

// resolveUser finds a known user by full id ("slack:U123"), by platform
// id in this channel type ("U123", or mention syntax "<@U123>"), or by
// display name ("Ann", "@Ann").
func (c *Commands) resolveUser(ctx context.Context, channelType, arg string) (data.User, error) {
	users, err := c.store.Users(ctx)
	if err != nil {
		return data.User{}, err
	}
	byID := func(id string) (data.User, bool) {
		i := slices.IndexFunc(users, func(u data.User) bool { return u.ID == id })
		if i < 0 {
			return data.User{}, false
		}
		return users[i], true
	}
	if inner, ok := strings.CutPrefix(arg, "<@"); ok && strings.HasSuffix(inner, ">") {
		id, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSuffix(inner, ">"), "!"), "|")
		arg = id
	}
	if u, ok := byID(arg); ok && strings.Contains(arg, ":") {
		return u, nil
	}
	if u, ok := byID(channelType + ":" + arg); ok {
		return u, nil
	}
	name := strings.TrimPrefix(arg, "@")
	var found []data.User
	for _, u := range users {
		if u.DisplayName != "" && strings.EqualFold(u.DisplayName, name) {
			found = append(found, u)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return data.User{}, refusef("unknown user %q: berth knows a person once they have sent it a message; then use their name, id or @mention",
			truncate(arg, 40))
	}
	ids := make([]string, 0, len(found))
	for _, u := range found[:min(len(found), 5)] {
		ids = append(ids, u.ID)
	}
	return data.User{}, refusef("%q names several users (%s); give the full id", truncate(arg, 40), strings.Join(ids, ", "))
}

// roleName words a grant: "admin of team", "member" (global).
func roleName(role data.RoleName, g data.AgentGroup) string {
	if g.ID == "" {
		return string(role) + " (all groups)"
	}
	return string(role) + " of " + g.Folder
}

func userName(u data.User) string {
	if u.DisplayName == "" {
		return u.ID
	}
	return fmt.Sprintf("%s (%s)", truncate(u.DisplayName, 40), u.ID)
}

func (c *Commands) grant(ctx context.Context, x *call) (string, error) {
	u, role, g, err := c.roleArgs(ctx, x)
	if err != nil {
		return "", err
	}
	roles, err := c.store.Roles(ctx, u.ID)
	if err != nil {
		return "", err
	}
	if slices.ContainsFunc(roles, func(r data.Role) bool { return r.Role == role && r.GroupID == g.ID }) {
		return fmt.Sprintf("%s is already %s.", userName(u), roleName(role, g)), nil
	}
	if err := c.store.Grant(ctx, data.Role{UserID: u.ID, Role: role, GroupID: g.ID, GrantedBy: x.user}); err != nil {
		return "", err
	}
	c.log.Info("role granted", "user", u.ID, "role", role, "group", g.Folder, "by", x.user)
	return fmt.Sprintf("%s is now %s.", userName(u), roleName(role, g)), nil
}

func (c *Commands) revoke(ctx context.Context, x *call) (string, error) {
	u, role, g, err := c.roleArgs(ctx, x)
	if err != nil {
		return "", err
	}
	had, err := c.store.Revoke(ctx, u.ID, role, g.ID)
	if err != nil {
		return "", err
	}
	if !had {
		return "", refusef("%s is not %s", userName(u), roleName(role, g))
	}
	c.log.Info("role revoked", "user", u.ID, "role", role, "group", g.Folder, "by", x.user)
	return fmt.Sprintf("%s is no longer %s.", userName(u), roleName(role, g)), nil
}

func (c *Commands) users(ctx context.Context, x *call) (string, error) {
	if err := c.require(ctx, x, data.RoleAdmin, data.AgentGroup{}); err != nil {
		return "", err
	}
	users, err := c.store.Users(ctx)
	if err != nil {
		return "", err
	}
	roles, err := c.store.Roles(ctx, "")
	if err != nil {
		return "", err
	}
	gs, err := c.store.Groups(ctx)
	if err != nil {
		return "", err
	}
	folder := map[string]string{}
	for _, g := range gs {
		folder[g.ID] = g.Folder
	}
	held := map[string][]string{}
	for _, r := range roles {
		name := string(r.Role)
		if r.GroupID != "" {
			name += " of " + folder[r.GroupID]
		}
		held[r.UserID] = append(held[r.UserID], name)
	}
	var b strings.Builder
	b.WriteString("Users:\n")
	for i, u := range users {
		if i == maxListed {
			fmt.Fprintf(&b, "… and %d more (berth users list shows all)\n", len(users)-i)
			break
		}
		r := "no role"
		if len(held[u.ID]) > 0 {
			r = strings.Join(held[u.ID], ", ")
		}
		if u.ID == Operator {
			r += " (the terminal operator counts as owner)"
		}
		fmt.Fprintf(&b, "- %s: %s\n", userName(u), r)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func (c *Commands) pair(ctx context.Context, x *call) (string, error) {
	now := c.Now()
	c.mu.Lock()
	fails := slices.DeleteFunc(c.pairFails[x.user], func(t time.Time) bool { return now.Sub(t) > pairWindow })
	c.pairFails[x.user] = fails
	c.mu.Unlock()
	if len(fails) >= maxPairFails {
		return "", refusef("too many wrong pairing codes; wait %d minutes and try again", int(pairWindow.Minutes()))
	}
	if err := ClaimPairCode(ctx, c.store, x.cmd.Args[0], x.user, now); err != nil {
		if errors.Is(err, errPairInvalid) || errors.Is(err, errPairUsed) || errors.Is(err, errPairExpired) {
			c.mu.Lock()
			c.pairFails[x.user] = append(c.pairFails[x.user], now)
			c.mu.Unlock()
			return "", refusal(err.Error())
		}
		return "", err
	}
	c.log.Warn("paired: new owner", "user", x.user, "channel", x.in.ChannelType)
	return "You are now an owner of this berth install. !help lists what you can do.", nil
}
