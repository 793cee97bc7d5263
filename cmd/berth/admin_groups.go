package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
)

// groupJSON is an agent group as `--json` prints it.
type groupJSON struct {
	ID              string        `json:"id"`
	Name            string        `json:"name"`
	Folder          string        `json:"folder"`
	Dir             string        `json:"dir"`
	IsAdmin         bool          `json:"is_admin"`
	Provider        string        `json:"provider"`
	Model           string        `json:"model"`
	ContainerConfig string        `json:"container_config"`
	CreatedAt       time.Time     `json:"created_at"`
	Wirings         []wiringJSON  `json:"wirings"`
	ActiveSessions  int           `json:"active_sessions"`
	Sessions        []sessionJSON `json:"sessions,omitempty"`
	Runner          *runnerJSON   `json:"runner,omitempty"` // groups show only
}

// wiringJSON is a wiring as `--json` prints it.
type wiringJSON struct {
	ID          string           `json:"id"`
	Channel     string           `json:"channel"` // "slack:C123"
	IsDM        bool             `json:"is_dm"`
	Group       string           `json:"group"`
	GroupID     string           `json:"group_id"`
	Engage      data.Engage      `json:"engage"`
	Pattern     string           `json:"pattern"`
	Ignored     data.Ignored     `json:"ignored"`
	SessionMode data.SessionMode `json:"session_mode"`
	Access      string           `json:"access"` // members, open or approval
	CreatedAt   time.Time        `json:"created_at"`
}

// wirings lists wirings with their channels and group folders, of one
// group when groupID is not empty.
func (a *admin) wirings(ctx context.Context, groupID string) ([]wiringJSON, error) {
	ws, err := a.store.Wirings(ctx, "")
	if err != nil {
		return nil, err
	}
	mgs, err := a.store.MessagingGroups(ctx)
	if err != nil {
		return nil, err
	}
	gs, err := a.store.Groups(ctx)
	if err != nil {
		return nil, err
	}
	mgByID := map[string]data.MessagingGroup{}
	for _, m := range mgs {
		mgByID[m.ID] = m
	}
	folder := map[string]string{}
	for _, g := range gs {
		folder[g.ID] = g.Folder
	}
	out := []wiringJSON{}
	for _, w := range ws {
		if groupID != "" && w.AgentGroupID != groupID {
			continue
		}
		m := mgByID[w.MessagingGroupID]
		out = append(out, wiringJSON{ID: w.ID, Channel: m.ChannelType + ":" + m.PlatformID, IsDM: m.IsDM, Group: folder[w.AgentGroupID],
			GroupID: w.AgentGroupID, Engage: w.Engage, Pattern: w.Pattern, Ignored: w.Ignored, SessionMode: w.SessionMode, Access: string(w.Access), CreatedAt: w.CreatedAt})
	}
	return out, nil
}

func (a *admin) groupJSON(ctx context.Context, g data.AgentGroup) (groupJSON, error) {
	ws, err := a.wirings(ctx, g.ID)
	if err != nil {
		return groupJSON{}, err
	}
	ss, err := a.store.Sessions(ctx, data.SessionFilter{AgentGroupID: g.ID, ActiveOnly: true})
	if err != nil {
		return groupJSON{}, err
	}
	return groupJSON{ID: g.ID, Name: g.Name, Folder: g.Folder, Dir: a.layout().Dir(g.Folder), IsAdmin: g.IsAdmin, Provider: g.Provider,
		Model: g.Model, ContainerConfig: g.ContainerConfig, CreatedAt: g.CreatedAt, Wirings: ws, ActiveSessions: len(ss)}, nil
}

func (a *admin) groupsList(c *commandLine) *ffcli.Command {
	fs := a.flags(c, "list")
	return a.verb(c, fs, "groups list [--json]", 0, 0, func(ctx context.Context, _ []string) error {
		gs, err := a.store.Groups(ctx)
		if err != nil {
			return err
		}
		out := []groupJSON{}
		var rows [][]string
		for _, g := range gs {
			j, err := a.groupJSON(ctx, g)
			if err != nil {
				return err
			}
			out = append(out, j)
			rows = append(rows, []string{g.Folder, strconv.FormatBool(g.IsAdmin), adminDash(g.Provider), strconv.Itoa(len(j.Wirings)),
				strconv.Itoa(j.ActiveSessions), adminTime(g.CreatedAt)})
		}
		return a.emit(out, []string{"GROUP", "ADMIN", "PROVIDER", "WIRINGS", "SESSIONS", "CREATED"}, rows)
	})
}

func (a *admin) groupsShow(c *commandLine) *ffcli.Command {
	fs := a.flags(c, "show")
	return a.verb(c, fs, "groups show <group> [--json]", 1, 1, func(ctx context.Context, pos []string) error {
		g, err := a.group(ctx, pos[0])
		if err != nil {
			return err
		}
		j, err := a.groupJSON(ctx, g)
		if err != nil {
			return err
		}
		ss, err := a.store.Sessions(ctx, data.SessionFilter{AgentGroupID: g.ID, ActiveOnly: true})
		if err != nil {
			return err
		}
		for _, s := range ss {
			j.Sessions = append(j.Sessions, a.sessionJSON(ctx, s, g))
		}
		runner := a.runnerStatus(g.Folder)
		j.Runner = &runner
		if a.json {
			return a.emit(j, nil, nil)
		}
		rows := [][]string{
			{"id", g.ID}, {"name", g.Name}, {"folder", g.Folder}, {"dir", j.Dir}, {"admin", strconv.FormatBool(g.IsAdmin)},
			{"provider", adminDash(g.Provider)}, {"model", adminDash(g.Model)}, {"container config", g.ContainerConfig},
			{"created", adminTime(g.CreatedAt)}, {"active sessions", strconv.Itoa(len(ss))},
		}
		rows = append(rows, runner.rows()...)
		for _, w := range j.Wirings {
			rows = append(rows, []string{"wired", w.Channel + " (" + groups.Describe(w.Engage, w.Pattern, w.SessionMode, data.Access(w.Access)) + ")"})
		}
		return a.emit(nil, []string{"FIELD", "VALUE"}, rows)
	})
}

// configHelp is --config's help: the container_config keys of the
// registry (groups.Keys).
var configHelp = func() string {
	var keys []string
	for _, k := range groups.Keys {
		if k.Column == "" { // provider and model are flags of their own
			keys = append(keys, k.Field)
		}
	}
	return "the group's container_config, a JSON object; every key is optional: " + strings.Join(keys, ", ") +
		` (and network, only "none"). Here memory and max_*_bytes are bytes, nano_cpus billionths of a CPU, the disk quotas MiB; ` +
		"berth groups config <group> shows the defaults and sets keys one by one in the units people write (memory=2g, cpus=1.5)"
}()

func (a *admin) groupsCreate(c *commandLine) *ffcli.Command {
	fs := a.flags(c, "create")
	isAdmin := fs.Bool("admin", false, "the admin group: it may write the global memory")
	provider := fs.String("provider", "", "agent provider: "+strings.Join(groups.Providers, ", ")+" (default: the install's)")
	model := fs.String("model", "", "model name for the provider")
	config := fs.String("config", "", configHelp)
	return a.verb(c, fs, "groups create <name> [--admin] [--provider P] [--model M] [--config '<json>']", 1, 1, func(ctx context.Context, pos []string) error {
		name := pos[0]
		if err := groups.ValidateFolder(name); err != nil {
			return exitError{code: 1, err: err}
		}
		// The parser every reader uses: what it refuses is never written.
		if _, err := groups.ParseConfig(*provider, *model, *config); err != nil {
			return exitError{code: 1, err: err}
		}
		containerConfig := "{}"
		if strings.TrimSpace(*config) != "" {
			var b bytes.Buffer
			if err := json.Compact(&b, []byte(*config)); err != nil {
				return exitError{code: 1, err: fmt.Errorf("--config: %w", err)}
			}
			containerConfig = b.String()
		}
		g := data.AgentGroup{Name: name, Folder: name, IsAdmin: *isAdmin, Provider: *provider, Model: *model, ContainerConfig: containerConfig}
		if err := groups.Create(ctx, a.store, a.layout(), &g); errors.Is(err, data.ErrExists) {
			return exitError{code: 1, err: fmt.Errorf("agent group %s already exists", name)}
		} else if err != nil {
			return err
		}
		j, err := a.groupJSON(ctx, g)
		if err != nil {
			return err
		}
		return a.say(j, "created agent group %s (folder %s)", g.Folder, j.Dir)
	})
}

func (a *admin) groupsDelete(c *commandLine) *ffcli.Command {
	fs := a.flags(c, "delete")
	return a.verb(c, fs, "groups delete <group> [--json]", 1, 1, func(ctx context.Context, pos []string) error {
		g, err := a.group(ctx, pos[0])
		if err != nil {
			return err
		}
		if err := a.store.DeleteGroup(ctx, g.ID); err != nil {
			return err
		}
		dir := a.layout().Dir(g.Folder)
		return a.say(map[string]string{"deleted": g.Folder, "kept_dir": dir},
			"deleted agent group %s with its wirings and sessions; its folder %s is kept", g.Folder, dir)
	})
}

func (a *admin) wiringsList(c *commandLine) *ffcli.Command {
	fs := a.flags(c, "list")
	group := fs.String("group", "", "only this agent group's wirings")
	return a.verb(c, fs, "wirings list [--group G] [--json]", 0, 0, func(ctx context.Context, _ []string) error {
		gid := ""
		if *group != "" {
			g, err := a.group(ctx, *group)
			if err != nil {
				return err
			}
			gid = g.ID
		}
		ws, err := a.wirings(ctx, gid)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, w := range ws {
			rows = append(rows, []string{w.Channel, strconv.FormatBool(w.IsDM), w.Group, string(w.Engage), adminDash(w.Pattern), string(w.SessionMode), string(w.Ignored),
				w.Access})
		}
		return a.emit(ws, []string{"CHANNEL", "DM", "GROUP", "ENGAGE", "PATTERN", "SESSIONS", "IGNORED", "ACCESS"}, rows)
	})
}

func (a *admin) wiringsCreate(c *commandLine) *ffcli.Command {
	fs := a.flags(c, "create")
	engage := fs.String("engage", "", `engage rule: mention, mention-sticky, all or "pattern:<regex>" (default: all in a DM, else mention-sticky)`)
	mode := fs.String("session", "", "session mode: shared, per-thread or agent-shared (default: shared in a DM, else per-thread)")
	access := fs.String("access", "", "who may talk to the agent: members (users with a role), open (anyone in the channel) or approval (default members)")
	dm := fs.Bool("dm", false, "the channel is a direct message")
	accumulate := fs.Bool("accumulate", false, "keep messages that do not engage as context for the next that does")
	name := fs.String("name", "", "a name for the channel")
	return a.verb(c, fs, "wirings create <channel_type:platform_id> <group> [--engage E] [--session M] [--access A] [--dm] [--accumulate]", 2, 2, func(ctx context.Context, pos []string) error {
		ct, pid, ok := adminChannel(pos[0])
		if !ok {
			return a.usageErr("channel %q: expected channel_type:platform_id, e.g. slack:C0123", pos[0])
		}
		o, err := groups.DefaultWireOptions(*dm).Apply(*engage, *mode, *access)
		if err != nil {
			return exitError{code: 1, err: err}
		}
		g, err := a.group(ctx, pos[1])
		if err != nil {
			return err
		}
		mg, err := a.store.EnsureMessagingGroup(ctx, ct, pid, *name, *dm)
		if err != nil {
			return err
		}
		w := data.Wiring{MessagingGroupID: mg.ID, AgentGroupID: g.ID, Engage: o.Engage, Pattern: o.Pattern, SessionMode: o.SessionMode,
			Access: o.Access}
		if *accumulate {
			w.Ignored = data.IgnoredAccumulate
		}
		if err := a.store.Wire(ctx, &w); err != nil {
			return err
		}
		j := wiringJSON{ID: w.ID, Channel: ct + ":" + pid, IsDM: mg.IsDM, Group: g.Folder, GroupID: g.ID, Engage: w.Engage, Pattern: w.Pattern,
			Ignored: w.Ignored, SessionMode: w.SessionMode, Access: string(w.Access), CreatedAt: w.CreatedAt}
		return a.say(j, "wired %s to agent group %s (%s)", j.Channel, g.Folder, groups.Describe(o.Engage, o.Pattern, o.SessionMode, o.Access))
	})
}

func (a *admin) wiringsDelete(c *commandLine) *ffcli.Command {
	fs := a.flags(c, "delete")
	return a.verb(c, fs, "wirings delete <channel_type:platform_id> [<group>] [--json]", 1, 2, func(ctx context.Context, pos []string) error {
		ct, pid, ok := adminChannel(pos[0])
		if !ok {
			return a.usageErr("channel %q: expected channel_type:platform_id, e.g. slack:C0123", pos[0])
		}
		mg, err := a.store.MessagingGroup(ctx, ct, pid)
		if errors.Is(err, data.ErrNotFound) {
			return adminNotFound(fmt.Errorf("channel %s is not known", pos[0]))
		} else if err != nil {
			return err
		}
		gid := ""
		if len(pos) == 2 {
			g, err := a.group(ctx, pos[1])
			if err != nil {
				return err
			}
			gid = g.ID
		}
		n, err := a.store.Unwire(ctx, mg.ID, gid)
		if err != nil {
			return err
		}
		if n == 0 {
			return adminNotFound(fmt.Errorf("channel %s has no such wiring", pos[0]))
		}
		return a.say(map[string]int{"deleted": n}, "deleted %d wiring(s) of %s", n, pos[0])
	})
}
