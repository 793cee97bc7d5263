package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/berth-dev/berth/data"
)

// commandLine is one run of the berth command line.
type commandLine struct {
	argv           []string // the whole command line (see parseArgs)
	stdin          io.Reader
	stdout, stderr io.Writer
}

// root is the command tree: berth and every command under it.
func (c *commandLine) root() *ffcli.Command {
	a := &admin{stdout: c.stdout, stderr: c.stderr}
	root := &ffcli.Command{
		Name:      "berth",
		FlagSet:   c.flagSet("berth"),
		UsageFunc: rootUsage,
		Subcommands: []*ffcli.Command{
			c.chatCommand(),
			c.runCommand(),
			c.group("image", "image build [flags]", "build the agent image locally (no registry needed)", c.imageBuildCommand()),
			c.logsCommand(),
			c.statusCommand(),
			c.doctorCommand(),
			c.group("groups", "groups <verb>", "agent groups: list, show, create, delete, config, runner",
				a.groupsList(c), a.groupsShow(c), a.groupsCreate(c), a.groupsDelete(c), a.groupsConfig(c), a.groupsRunner(c)),
			c.group("wirings", "wirings <verb>", "which channels reach which group: list, create, delete",
				a.wiringsList(c), a.wiringsCreate(c), a.wiringsDelete(c)),
			c.group("sessions", "sessions <verb>", "conversations and their containers: list, show, stop",
				a.sessionsList(c), a.sessionsShow(c), a.sessionsStop(c)),
			c.group("tasks", "tasks <verb>", "scheduled tasks: list, show, cancel, pause, resume", a.tasksList(c), a.tasksShow(c),
				a.tasksSet(c, "cancel", data.TaskCancelled, "cancelled"), a.tasksSet(c, "pause", data.TaskPaused, "paused"),
				a.tasksSet(c, "resume", data.TaskActive, "resumed")),
			c.group("users", "users list", "known users and their roles", a.usersList(c)),
			c.group("roles", "roles <verb>", "grant or revoke a role", a.roles(c, "grant"), a.roles(c, "revoke")),
			c.group("dropped", "dropped list", "messages berth did not route, and why", a.droppedList(c)),
			a.pair(c),
			c.group("discord", "discord invite-url", "the link that adds the Discord bot to a server with the permissions berth needs",
				c.discordInviteCommand()),
			c.group("console", "console token [--rotate]", "the web console (berth run --http-addr): its access token",
				c.consoleTokenCommand()),
			c.group("slack", "slack manifest", "the Slack app manifest to create berth's app from", c.slackManifestCommand()),
			c.versionCommand(),
		},
	}
	root.Exec = func(_ context.Context, args []string) error {
		if len(args) == 0 {
			fmt.Fprint(c.stderr, rootUsage(root))
		} else {
			fmt.Fprintf(c.stderr, "berth: unknown command %q\n\n%s", args[0], rootUsage(root))
		}
		return errUsage
	}
	return root
}

// flagSet is a command's flag set: errors are returned, and said on stderr.
func (c *commandLine) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	return fs
}

// leaf is a command that runs something.
type leaf struct {
	fs      *flag.FlagSet // named for the command, with its settings and options
	usage   string        // after "berth ": "groups create <name> [flags]"
	help    string        // one line for the parent's list
	cfg     *config       // resolved before run; nil: the command reads no configuration
	minArgs int
	maxArgs int
	check   func() error // optional: checks the options before the configuration is resolved
	run     func(ctx context.Context, args []string) error
}

// command is l as an ffcli command: it parses the flags that may follow
// its arguments, checks their number, resolves its configuration, then
// runs it.
func (c *commandLine) command(l leaf) *ffcli.Command {
	return &ffcli.Command{
		Name: l.fs.Name(), ShortUsage: "berth " + l.usage, ShortHelp: l.help, FlagSet: l.fs, UsageFunc: usageText,
		Exec: func(ctx context.Context, rest []string) error {
			args, err := c.parseArgs(l.fs, rest)
			if err != nil {
				return errUsage // the flag package has said what is wrong
			}
			if len(args) < l.minArgs || len(args) > l.maxArgs {
				fmt.Fprintf(c.stderr, "berth: expected %s\nusage: berth %s\n", argCount(l.minArgs, l.maxArgs), l.usage)
				return errUsage
			}
			if l.check != nil {
				if err := l.check(); err != nil {
					return err
				}
			}
			if l.cfg != nil {
				if err := l.cfg.resolve(l.fs); err != nil {
					return err
				}
			}
			return l.run(ctx, args)
		},
	}
}

// parseArgs parses the flags among a command's arguments: ffcli's parse
// stops at the first argument, and berth has always taken flags after them
// too (berth groups create team --home H). rest is a suffix of c.argv, so
// the word before it says whether "--" ended the flags.
func (c *commandLine) parseArgs(fs *flag.FlagSet, rest []string) ([]string, error) {
	var args []string
	for len(rest) > 0 {
		if n := len(c.argv) - len(rest); n > 0 && c.argv[n-1] == "--" {
			return append(args, rest...), nil
		}
		args = append(args, rest[0])
		if err := fs.Parse(rest[1:]); err != nil {
			return nil, err
		}
		rest = fs.Args()
	}
	return args, nil
}

func argCount(min, max int) string {
	switch {
	case min == max && min == 0:
		return "no arguments"
	case min == max:
		return fmt.Sprintf("%d argument(s)", min)
	}
	return fmt.Sprintf("%d to %d arguments", min, max)
}

// group is a command that only holds others: berth groups, berth image.
func (c *commandLine) group(name, usage, help string, subs ...*ffcli.Command) *ffcli.Command {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.Name
	}
	line := fmt.Sprintf("berth %s %s [flags]", name, strings.Join(names, "|"))
	return &ffcli.Command{
		Name: name, ShortUsage: "berth " + usage, ShortHelp: help, FlagSet: c.flagSet(name), Subcommands: subs,
		UsageFunc: func(*ffcli.Command) string { return "usage: " + line },
		Exec: func(_ context.Context, args []string) error {
			if len(args) > 0 {
				fmt.Fprintf(c.stderr, "berth: unknown command %q\n", name+" "+args[0])
			}
			fmt.Fprintf(c.stderr, "usage: %s\n", line)
			return errUsage
		},
	}
}

// rootUsage is berth's own help: every command, one line each.
func rootUsage(root *ffcli.Command) string {
	var b strings.Builder
	b.WriteString("berth: a chat-bot gateway that runs each conversation's agent in its own container\n\nUsage:\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, s := range root.Subcommands {
		fmt.Fprintf(tw, "  %s\t%s\n", s.ShortUsage, s.ShortHelp)
	}
	tw.Flush()
	b.WriteString("\nRun 'berth <command> -h' for a command's flags.\n")
	return b.String()
}

// usageText is a command's -h: its usage line, then each flag with its
// type, default and, for a setting, its environment variable.
func usageText(cmd *ffcli.Command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s\n", cmd.ShortUsage)
	if cmd.ShortHelp != "" {
		fmt.Fprintf(&b, "\n%s\n", cmd.ShortHelp)
	}
	settings := false
	n := 0
	cmd.FlagSet.VisitAll(func(f *flag.Flag) {
		if n++; n == 1 {
			b.WriteString("\nflags:\n")
		}
		plain := *f
		if s, ok := f.Value.(setting); ok {
			plain.Value = s.Value
		}
		typ, help := flag.UnquoteUsage(&plain)
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		fmt.Fprintf(&b, "  %s%s", dash, f.Name)
		if typ != "" {
			fmt.Fprintf(&b, " %s", typ)
		}
		var notes []string
		switch f.DefValue {
		case "", "0", "0s", "false":
		default:
			if typ == "string" {
				notes = append(notes, fmt.Sprintf("default %q", f.DefValue))
			} else {
				notes = append(notes, "default "+f.DefValue)
			}
		}
		if env := settingEnv(f); env != "" {
			settings = true
			notes = append(notes, "env "+env)
		}
		fmt.Fprintf(&b, "\n    \t%s", help)
		if len(notes) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(notes, "; "))
		}
		b.WriteString("\n")
	})
	if settings {
		b.WriteString("\nA flag with an env name that is not given is read from that variable, else from its line in $BERTH_HOME/config\n(--home from BERTH_HOME only: it says where that file is).\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}
