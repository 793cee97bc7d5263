package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session/gateway"
)

// groupConfigJSON is `berth groups config <group> --json`: the effective
// configuration, and after set or unset what changed.
type groupConfigJSON struct {
	Group    string           `json:"group"`
	Settings []groups.Setting `json:"settings"`
	Changed  []changeJSON     `json:"changed,omitempty"`
	Note     string           `json:"note,omitempty"`
}

// changeJSON is one key set or unset; "" is the default.
type changeJSON struct {
	Key  string `json:"key"`
	From string `json:"from"`
	To   string `json:"to"`
}

func (a *admin) groupsConfig(c *commandLine) *ffcli.Command {
	fs := a.flags(c, "config")
	// The install's settings, read as `berth run` reads them, so that the
	// defaults shown are the gateway's.
	a.cfg.settings(fs, flagProvider, flagIdleTimeout, flagImage, flagAllowedImages)
	cmd := a.verb(c, fs, "groups config <group> [set key=value …|unset key …] [--json]", 1, 1+2*groups.MaxCommandArgs, func(ctx context.Context, pos []string) error {
		g, err := a.group(ctx, pos[0])
		if err != nil {
			return err
		}
		in, err := gateway.Install(gatewayConfig(a.cfg, nil, nil, nil))
		if err != nil {
			return err
		}
		args := pos[1:]
		if len(args) == 0 {
			return a.showGroupConfig(g, in, nil)
		}
		var change func(data.AgentGroup) (data.AgentGroup, []groups.Change, error)
		switch verb, rest := args[0], args[1:]; {
		case verb == "set" && len(rest) > 0:
			as, err := groups.ParseAssignments(rest)
			if err != nil {
				return a.usageErr("%v", err)
			}
			change = func(g data.AgentGroup) (data.AgentGroup, []groups.Change, error) { return groups.Set(g, as, in) }
		case verb == "unset" && len(rest) > 0:
			change = func(g data.AgentGroup) (data.AgentGroup, []groups.Change, error) { return groups.Unset(g, rest, in) }
		case verb == "set" || verb == "unset":
			return a.usageErr("%s needs at least one key (keys: %s)", verb, strings.Join(groups.KeyNames(), ", "))
		default:
			return a.usageErr("%q: expected set or unset", verb)
		}
		log, closeLog, err := newLogger(a.cfg.Home, a.stderr, false, secretValues(a.cfg))
		if err != nil {
			return err
		}
		defer closeLog()
		out, chs, err := groups.ApplyChange(ctx, a.store, g, change, log.With("user", "cli:"+operatorName()))
		var ke *groups.KeyError
		var ce *groups.ConfigError
		if errors.As(err, &ke) || errors.As(err, &ce) {
			return exitError{code: 1, err: err}
		} else if err != nil {
			return err
		}
		if chs == nil {
			chs = []groups.Change{}
		}
		return a.showGroupConfig(out, in, chs)
	})
	cmd.ShortHelp = "a group's configuration, each value and where it comes from; set key=value or unset key to change it"
	return cmd
}

// showGroupConfig prints g's effective configuration; after a change
// (changes not nil), what changed first.
func (a *admin) showGroupConfig(g data.AgentGroup, in groups.Install, changes []groups.Change) error {
	ss, err := groups.Effective(g, in)
	if err != nil {
		return exitError{code: 1, err: fmt.Errorf("group %s: %w (repair it with berth groups config %s set or unset)", g.Folder, err, g.Folder)}
	}
	j := groupConfigJSON{Group: g.Folder, Settings: ss}
	if changes != nil {
		j.Changed = []changeJSON{}
		for _, ch := range changes {
			j.Changed = append(j.Changed, changeJSON{Key: ch.Key, From: ch.From, To: ch.To})
		}
		if len(changes) > 0 {
			j.Note = groups.AppliesNext
		}
	}
	if a.json {
		return a.emit(j, nil, nil)
	}
	if changes != nil {
		line := "group " + g.Folder + ": " + groups.DescribeChanges(changes)
		if len(changes) > 0 {
			line += ". " + groups.AppliesNext
		}
		if _, err := fmt.Fprintln(a.stdout, line); err != nil {
			return err
		}
	}
	rows := make([][]string, len(ss))
	for i, s := range ss {
		rows[i] = []string{s.Key, s.Value, string(s.Source), s.Allowed}
	}
	return a.emit(nil, []string{"KEY", "VALUE", "FROM", "ALLOWED"}, rows)
}

// operatorName names the operator in the log: $USER, else "operator".
func operatorName() string {
	if u := strings.TrimSpace(os.Getenv("USER")); u != "" {
		return u
	}
	return "operator"
}
