package groups

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/berth-dev/berth/data"
)

// The chat commands of a group's configuration: !config shows it to any
// member, !config set/unset and !model change it for a group admin.
// Every key, value and refusal comes from Keys (keys.go).

const configUsage = "!config [<group>] [set <key>=<value> …|unset <key> …]"

func (c *Commands) config(ctx context.Context, x *call) (string, error) {
	args := x.cmd.Args
	name := ""
	if len(args) > 0 && args[0] != "set" && args[0] != "unset" {
		name, args = args[0], args[1:]
	}
	g, err := c.configGroup(ctx, x, name)
	if err != nil {
		return "", err
	}
	verb := ""
	if len(args) > 0 {
		verb, args = args[0], args[1:]
	}
	switch verb {
	case "":
		if err := c.require(ctx, x, data.RoleMember, g); err != nil {
			return "", err
		}
		return c.showConfig(g)
	case "set":
		if len(args) == 0 {
			return "", refusef("!config set needs key=value (keys: %s)\nusage: %s", strings.Join(KeyNames(), ", "), configUsage)
		}
		as, err := ParseAssignments(args)
		if err != nil {
			return "", refusal(err.Error())
		}
		for _, a := range as {
			if err := chatSettable(a.Key, g); err != nil {
				return "", err
			}
		}
		return c.changeConfig(ctx, x, g, func(g data.AgentGroup) (data.AgentGroup, []Change, error) { return Set(g, as, c.Install) })
	case "unset":
		if len(args) == 0 {
			return "", refusef("!config unset needs a key (keys: %s)\nusage: %s", strings.Join(KeyNames(), ", "), configUsage)
		}
		for _, k := range args {
			if err := chatSettable(k, g); err != nil {
				return "", err
			}
		}
		return c.changeConfig(ctx, x, g, func(g data.AgentGroup) (data.AgentGroup, []Change, error) { return Unset(g, args, c.Install) })
	}
	return "", refusef("%q: expected set or unset\nusage: %s", truncate(verb, 40), configUsage)
}

// chatSettable refuses a key only the operator sets (Key.Operator).
func chatSettable(name string, g data.AgentGroup) error {
	if k, ok := LookupKey(name); ok && k.Operator {
		return refusef("%s is set by the operator only, with berth groups config %s set %s=…", k.Name, g.Folder, k.Name)
	}
	return nil
}

// model is !model <name> [<group>]: !config set model=<name>.
func (c *Commands) model(ctx context.Context, x *call) (string, error) {
	name := ""
	if len(x.cmd.Args) > 1 {
		name = x.cmd.Args[1]
	}
	g, err := c.configGroup(ctx, x, name)
	if err != nil {
		return "", err
	}
	as := []Assignment{{Key: "model", Value: x.cmd.Args[0]}}
	return c.changeConfig(ctx, x, g, func(g data.AgentGroup) (data.AgentGroup, []Change, error) { return Set(g, as, c.Install) })
}

// configGroup is the group a configuration command is about: the one
// named, else this channel's one group.
func (c *Commands) configGroup(ctx context.Context, x *call, name string) (data.AgentGroup, error) {
	if name != "" {
		return c.group(ctx, name)
	}
	_, ws, _, err := c.here(ctx, x)
	if err != nil {
		return data.AgentGroup{}, err
	}
	var ids []string
	for _, w := range ws {
		if !slices.Contains(ids, w.AgentGroupID) {
			ids = append(ids, w.AgentGroupID)
		}
	}
	switch len(ids) {
	case 0:
		return data.AgentGroup{}, refusal(notWired + " Or name a group: " + configUsage)
	case 1:
		return c.store.Group(ctx, ids[0])
	}
	var names []string
	for _, id := range ids {
		g, err := c.store.Group(ctx, id)
		if err != nil {
			return data.AgentGroup{}, err
		}
		names = append(names, g.Folder)
	}
	return data.AgentGroup{}, refusef("this channel is wired to %s: name the group, as in !%s %s …", strings.Join(names, ", "), x.cmd.Name, names[0])
}

func (c *Commands) showConfig(g data.AgentGroup) (string, error) {
	ss, err := Effective(g, c.Install)
	if err != nil {
		return "", refusef("group %s's configuration is refused (%v); an admin can fix it with !config %s set or unset", g.Folder, err, g.Folder)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Configuration of group %s (value, and where it comes from):\n", g.Folder)
	for _, s := range ss {
		fmt.Fprintf(&b, "  %s = %s (%s)\n", s.Key, s.Value, s.Source)
	}
	b.WriteString("An admin changes it with !config set <key>=<value> or !config unset <key>.")
	return b.String(), nil
}

// changeConfig makes a change to g's row as a group admin, records it in
// the log and answers with what changed and when it applies.
func (c *Commands) changeConfig(ctx context.Context, x *call, g data.AgentGroup, change func(data.AgentGroup) (data.AgentGroup, []Change, error)) (string, error) {
	if err := c.require(ctx, x, data.RoleAdmin, g); err != nil {
		return "", err
	}
	_, chs, err := ApplyChange(ctx, c.store, g, change, c.log.With("user", x.user))
	var ke *KeyError
	var ce *ConfigError
	switch {
	case errors.As(err, &ke) || errors.As(err, &ce):
		return "", refusal(err.Error())
	case err != nil:
		return "", err
	case len(chs) == 0:
		return fmt.Sprintf("group %s: nothing changed.", g.Folder), nil
	}
	return fmt.Sprintf("group %s: %s. %s", g.Folder, DescribeChanges(chs), AppliesNext), nil
}

// ApplyChange computes a change to g's row, stores it and logs each key
// changed (with who, when log carries a "user"). A value the change
// refuses is returned as it is (a *KeyError, or a *ConfigError when the
// row is not a JSON object at all); the row is then left as it was.
func ApplyChange(ctx context.Context, store *data.Store, g data.AgentGroup,
	change func(data.AgentGroup) (data.AgentGroup, []Change, error), log *slog.Logger) (data.AgentGroup, []Change, error) {
	var out data.AgentGroup
	var chs []Change
	for try := 0; ; try++ {
		var err error
		if out, chs, err = change(g); err != nil {
			return g, nil, err
		}
		if len(chs) == 0 {
			return g, nil, nil
		}
		err = store.SwapGroupConfig(ctx, g, out)
		if err == nil {
			break
		}
		if !errors.Is(err, data.ErrChanged) || try == 3 {
			return g, nil, fmt.Errorf("store group %s's configuration: %w", g.Folder, err)
		}
		// Another writer changed the row meanwhile: the change is made
		// again on what it wrote.
		if g, err = store.Group(ctx, g.ID); err != nil {
			return g, nil, fmt.Errorf("read group %s: %w", g.Folder, err)
		}
	}
	for _, ch := range chs {
		log.Info("group config changed", "group", g.Folder, "key", ch.Key, "from", ch.From, "to", ch.To)
	}
	return out, chs, nil
}
