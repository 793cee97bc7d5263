package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
)

// sessionJSON is a session as `--json` prints it.
type sessionJSON struct {
	ID             string             `json:"id"`
	Group          string             `json:"group"`
	GroupID        string             `json:"group_id"`
	Channel        string             `json:"channel"`
	ThreadID       string             `json:"thread_id"`
	Status         data.SessionStatus `json:"status"`
	ContainerState string             `json:"container_state"`
	ContainerID    string             `json:"container_id"`
	Dir            string             `json:"dir"`
	LastActive     time.Time          `json:"last_active"`
	CreatedAt      time.Time          `json:"created_at"`
}

func (a *admin) sessionJSON(ctx context.Context, s data.Session, g data.AgentGroup) sessionJSON {
	ch := ""
	if mg, err := a.store.MessagingGroupByID(ctx, s.MessagingGroupID); err == nil {
		ch = mg.ChannelType + ":" + mg.PlatformID
	}
	return sessionJSON{ID: s.ID, Group: g.Folder, GroupID: g.ID, Channel: ch, ThreadID: s.ThreadID, Status: s.Status,
		ContainerState: string(s.ContainerState), ContainerID: s.ContainerID, Dir: paths.Home(a.cfg.Home).Session(s.AgentGroupID, s.ID),
		LastActive: s.LastActive, CreatedAt: s.CreatedAt}
}

func (a *admin) sessionsList(c *commandLine) *ffcli.Command {
	fs := a.flags(c, "list")
	group := fs.String("group", "", "only this agent group's sessions")
	all := fs.Bool("all", false, "include closed sessions")
	return a.verb(c, fs, "sessions list [--group G] [--all] [--json]", 0, 0, func(ctx context.Context, _ []string) error {
		f := data.SessionFilter{ActiveOnly: !*all}
		if *group != "" {
			g, err := a.group(ctx, *group)
			if err != nil {
				return err
			}
			f.AgentGroupID = g.ID
		}
		ss, err := a.store.Sessions(ctx, f)
		if err != nil {
			return err
		}
		gs, err := a.store.Groups(ctx)
		if err != nil {
			return err
		}
		byID := map[string]data.AgentGroup{}
		for _, g := range gs {
			byID[g.ID] = g
		}
		out := []sessionJSON{}
		var rows [][]string
		for _, s := range ss {
			j := a.sessionJSON(ctx, s, byID[s.AgentGroupID])
			out = append(out, j)
			rows = append(rows, []string{s.ID, j.Group, adminDash(j.Channel), adminDash(s.ThreadID), string(s.Status), string(s.ContainerState), adminTime(s.LastActive)})
		}
		return a.emit(out, []string{"SESSION", "GROUP", "CHANNEL", "THREAD", "STATUS", "CONTAINER", "LAST ACTIVE"}, rows)
	})
}

// session finds a session by id or unique id prefix.
func (a *admin) session(ctx context.Context, id string) (data.Session, data.AgentGroup, error) {
	s, err := a.store.Session(ctx, id)
	if errors.Is(err, data.ErrNotFound) {
		return s, data.AgentGroup{}, adminNotFound(fmt.Errorf("no session %q", id))
	} else if err != nil {
		return s, data.AgentGroup{}, exitError{code: 1, err: err}
	}
	g, err := a.store.Group(ctx, s.AgentGroupID)
	return s, g, err
}

func (a *admin) sessionsShow(c *commandLine) *ffcli.Command {
	fs := a.flags(c, "show")
	return a.verb(c, fs, "sessions show <session> [--json]", 1, 1, func(ctx context.Context, pos []string) error {
		s, g, err := a.session(ctx, pos[0])
		if err != nil {
			return err
		}
		j := a.sessionJSON(ctx, s, g)
		if a.json {
			return a.emit(j, nil, nil)
		}
		return a.emit(nil, []string{"FIELD", "VALUE"}, [][]string{
			{"id", j.ID}, {"group", j.Group}, {"channel", adminDash(j.Channel)}, {"thread", adminDash(j.ThreadID)}, {"status", string(j.Status)},
			{"container", j.ContainerState}, {"container id", adminDash(j.ContainerID)}, {"dir", j.Dir},
			{"last active", adminTime(j.LastActive)}, {"created", adminTime(j.CreatedAt)},
		})
	})
}

// sessionsStop stops a session's container through its runtime (the
// Docker engine, or the session's Pod), by its labels. The gateway, if
// running, sees the container exit.
func (a *admin) sessionsStop(c *commandLine) *ffcli.Command {
	fs := a.flags(c, "stop")
	grace := fs.Duration("grace", 5*time.Second, "time between SIGTERM and SIGKILL")
	a.cfg.settings(fs, append([]string{flagDockerHost}, runtimeSettings...)...)
	return a.verb(c, fs, "sessions stop <session> [--grace 5s] [--docker-host H | --runtime kubernetes]", 1, 1, func(ctx context.Context, pos []string) error {
		s, _, err := a.session(ctx, pos[0])
		if err != nil {
			return err
		}
		d, err := openEngine(a.cfg)
		if err != nil {
			return err
		}
		defer d.Close()
		list, err := container.StopLabelled(ctx, d, container.SessionLabels(a.cfg.Home, s.ID), *grace)
		if err != nil && len(list) == 0 && a.cfg.Kube.Runtime == runtimeKubernetes {
			return fmt.Errorf("%w\n  does the Kubernetes API answer? (try: berth doctor --runtime kubernetes)", err)
		}
		if err != nil && len(list) == 0 {
			return fmt.Errorf("%w\n  is the Docker engine running? (try: docker info)", err)
		}
		var stopped []string
		for _, c := range list {
			stopped = append(stopped, c.Name)
		}
		if err != nil {
			return err
		}
		if stopped == nil {
			stopped = []string{}
		}
		if len(stopped) == 0 {
			return a.say(map[string]any{"session": s.ID, "stopped": stopped}, "session %s has no running container", s.ID)
		}
		return a.say(map[string]any{"session": s.ID, "stopped": stopped}, "stopped %s (session %s); its next message starts it again",
			strings.Join(stopped, ", "), s.ID)
	})
}

// userJSON is a user with their roles as `--json` prints it.
type userJSON struct {
	ID          string     `json:"id"`
	DisplayName string     `json:"display_name"`
	Roles       []roleJSON `json:"roles"`
	CreatedAt   time.Time  `json:"created_at"`
}

// roleJSON is one grant as `--json` prints it.
type roleJSON struct {
	Role      data.RoleName `json:"role"`
	Group     string        `json:"group"` // "" for global
	GrantedBy string        `json:"granted_by"`
	GrantedAt time.Time     `json:"granted_at"`
}

func (a *admin) usersList(c *commandLine) *ffcli.Command {
	fs := a.flags(c, "list")
	return a.verb(c, fs, "users list [--json]", 0, 0, func(ctx context.Context, _ []string) error {
		users, err := a.store.Users(ctx)
		if err != nil {
			return err
		}
		roles, err := a.store.Roles(ctx, "")
		if err != nil {
			return err
		}
		gs, err := a.store.Groups(ctx)
		if err != nil {
			return err
		}
		folder := map[string]string{}
		for _, g := range gs {
			folder[g.ID] = g.Folder
		}
		held := map[string][]roleJSON{}
		for _, r := range roles {
			held[r.UserID] = append(held[r.UserID], roleJSON{Role: r.Role, Group: folder[r.GroupID], GrantedBy: r.GrantedBy, GrantedAt: r.GrantedAt})
		}
		out := []userJSON{}
		var rows [][]string
		for _, u := range users {
			j := userJSON{ID: u.ID, DisplayName: u.DisplayName, Roles: held[u.ID], CreatedAt: u.CreatedAt}
			if j.Roles == nil {
				j.Roles = []roleJSON{}
			}
			out = append(out, j)
			var names []string
			for _, r := range j.Roles {
				if r.Group != "" {
					names = append(names, string(r.Role)+" of "+r.Group)
				} else {
					names = append(names, string(r.Role))
				}
			}
			rows = append(rows, []string{u.ID, adminDash(u.DisplayName), adminDash(strings.Join(names, ", ")), adminTime(u.CreatedAt)})
		}
		return a.emit(out, []string{"USER", "NAME", "ROLES", "SEEN FIRST"}, rows)
	})
}

// roles grants or revokes a role. A full id ("slack:U123") may name a user
// berth has not seen yet; otherwise the user must be known by display name.
func (a *admin) roles(c *commandLine, verb string) *ffcli.Command {
	fs := a.flags(c, verb)
	group := fs.String("group", "", "scope admin or member to one agent group")
	return a.verb(c, fs, "roles "+verb+" <user> <owner|admin|member> [--group G]", 2, 2, func(ctx context.Context, pos []string) error {
		role := data.RoleName(strings.ToLower(pos[1]))
		if role != data.RoleOwner && role != data.RoleAdmin && role != data.RoleMember {
			return a.usageErr("role %q: use owner, admin or member", pos[1])
		}
		if role == data.RoleOwner && *group != "" {
			return a.usageErr("owner is always global; drop --group")
		}
		var g data.AgentGroup
		if *group != "" {
			var err error
			if g, err = a.group(ctx, *group); err != nil {
				return err
			}
		}
		uid, err := a.user(ctx, pos[0], verb == "grant")
		if err != nil {
			return err
		}
		scope := "all groups"
		if g.ID != "" {
			scope = "group " + g.Folder
		}
		j := map[string]string{"user": uid, "role": string(role), "group": g.Folder}
		if verb == "revoke" {
			had, err := a.store.Revoke(ctx, uid, role, g.ID)
			if err != nil {
				return err
			}
			if !had {
				return adminNotFound(fmt.Errorf("%s is not %s (%s)", uid, role, scope))
			}
			return a.say(j, "revoked %s (%s) from %s", role, scope, uid)
		}
		if err := a.store.Grant(ctx, data.Role{UserID: uid, Role: role, GroupID: g.ID, GrantedBy: "berth roles grant"}); err != nil {
			return err
		}
		return a.say(j, "granted %s (%s) to %s", role, scope, uid)
	})
}

// user resolves a user argument: a full id (recorded if new, when create
// is set) or a known user's display name.
func (a *admin) user(ctx context.Context, arg string, create bool) (string, error) {
	users, err := a.store.Users(ctx)
	if err != nil {
		return "", err
	}
	var byName []string
	for _, u := range users {
		if u.ID == arg {
			return u.ID, nil
		}
		if u.DisplayName != "" && strings.EqualFold(u.DisplayName, arg) {
			byName = append(byName, u.ID)
		}
	}
	switch {
	case len(byName) == 1:
		return byName[0], nil
	case len(byName) > 1:
		return "", exitError{code: 1, err: fmt.Errorf("%q names several users (%s); give the full id", arg, strings.Join(byName, ", "))}
	}
	if _, _, ok := adminChannel(arg); ok && create {
		if err := a.store.EnsureUser(ctx, arg, ""); err != nil {
			return "", err
		}
		return arg, nil
	}
	return "", adminNotFound(fmt.Errorf("unknown user %q: give a full id such as slack:U0123 (berth users list shows who berth knows)", arg))
}

func (a *admin) droppedList(c *commandLine) *ffcli.Command {
	fs := a.flags(c, "list")
	limit := fs.Int("limit", 50, "show at most this many, newest first")
	return a.verb(c, fs, "dropped list [--limit N] [--json]", 0, 0, func(ctx context.Context, _ []string) error {
		if *limit <= 0 {
			return a.usageErr("--limit must be positive")
		}
		ds, err := a.store.DroppedMessages(ctx, *limit)
		if err != nil {
			return err
		}
		type droppedJSON struct {
			ID        int64     `json:"id"`
			Channel   string    `json:"channel"`
			ThreadID  string    `json:"thread_id"`
			MessageID string    `json:"message_id"`
			SenderID  string    `json:"sender_id"`
			Reason    string    `json:"reason"`
			Text      string    `json:"text"`
			CreatedAt time.Time `json:"created_at"`
		}
		out := []droppedJSON{}
		var rows [][]string
		for _, d := range ds {
			ch := d.ChannelType + ":" + d.PlatformID
			out = append(out, droppedJSON{ID: d.ID, Channel: ch, ThreadID: d.ThreadID, MessageID: d.MessageID, SenderID: d.SenderID,
				Reason: d.Reason, Text: d.Text, CreatedAt: d.CreatedAt})
			rows = append(rows, []string{adminTime(d.CreatedAt), ch, adminDash(d.SenderID), d.Reason, strconv.Quote(d.Text)})
		}
		return a.emit(out, []string{"TIME", "CHANNEL", "SENDER", "REASON", "TEXT"}, rows)
	})
}
