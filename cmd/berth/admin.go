package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/berth-dev/berth/channels/terminal"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
)

// The operator CLI reads and writes the store directly: SQLite in WAL mode
// with a busy timeout lets it do so while `berth run` is running, so it
// never takes the gateway's lock.

// admin is one operator command being run.
type admin struct {
	stdout, stderr io.Writer
	usage          string // "groups create <name> [flags]"
	cfg            config
	json           bool
	store          *data.Store
}

// flags starts the flag set of the operator command name with the flags
// every one takes.
func (a *admin) flags(c *commandLine, name string) *flag.FlagSet {
	fs := c.flagSet(name)
	a.cfg.settings(fs, flagHome)
	fs.BoolVar(&a.json, "json", false, "print JSON for scripts")
	return fs
}

// verb is the operator command whose flag set is fs: it takes between min
// and max arguments, and runs with the store of the resolved home open.
func (a *admin) verb(c *commandLine, fs *flag.FlagSet, usage string, min, max int, run func(ctx context.Context, args []string) error) *ffcli.Command {
	return c.command(leaf{fs: fs, usage: usage, cfg: &a.cfg, minArgs: min, maxArgs: max,
		run: func(ctx context.Context, args []string) error {
			a.usage = usage
			var err error
			if a.store, err = data.Open(ctx, paths.Home(a.cfg.Home).Store()); err != nil {
				return err
			}
			defer a.store.Close()
			return run(ctx, args)
		}})
}

// usageErr reports a command-line mistake, with the usage line: exit code 2.
func (a *admin) usageErr(format string, args ...any) error {
	fmt.Fprintf(a.stderr, "berth: %s\nusage: berth %s\n", fmt.Sprintf(format, args...), a.usage)
	return errUsage
}

// emit prints v as JSON, or rows as an aligned table under header.
func (a *admin) emit(v any, header []string, rows [][]string) error {
	if a.json {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		for i := range r {
			r[i] = adminCell(r[i])
		}
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// say prints a confirmation: a line of text, or v as JSON.
func (a *admin) say(v any, format string, args ...any) error {
	if a.json {
		return a.emit(v, nil, nil)
	}
	_, err := fmt.Fprintf(a.stdout, format+"\n", args...)
	return err
}

// adminCell keeps a table cell on one line, short and free of terminal
// controls (a cell may hold a name or text a chat user chose).
func adminCell(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, terminal.StripControls(s))
	if r := []rune(s); len(r) > 60 {
		s = string(r[:59]) + "…"
	}
	return s
}

func adminDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func adminTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// adminNotFound is an exit-code-1 answer: what was asked for does not exist.
func adminNotFound(err error) error { return exitError{code: 1, err: err} }

// group finds a group by folder or id.
func (a *admin) group(ctx context.Context, name string) (data.AgentGroup, error) {
	g, err := a.store.Group(ctx, name)
	if errors.Is(err, data.ErrNotFound) {
		return g, adminNotFound(fmt.Errorf("no agent group %q", name))
	}
	return g, err
}

// layout is where group folders live, owned as the gateway would own them.
func (a *admin) layout() groups.Layout {
	uid := -1
	if os.Getuid() == 0 {
		uid = container.AgentUID
	}
	return groups.Layout{Root: paths.Home(a.cfg.Home).Groups(), UID: uid}
}

// adminChannel splits "slack:C123" into its channel type and platform id.
func adminChannel(s string) (string, string, bool) {
	t, id, ok := strings.Cut(s, ":")
	return t, id, ok && t != "" && id != ""
}

func (a *admin) pair(c *commandLine) *ffcli.Command {
	cmd := a.verb(c, a.flags(c, "pair"), "pair [--json]", 0, 0, func(ctx context.Context, _ []string) error {
		now := time.Now()
		code, err := groups.NewPairCode(ctx, a.store, now, groups.PairCodeTTL)
		if err != nil {
			return err
		}
		expires := now.Add(groups.PairCodeTTL)
		return a.say(map[string]any{"code": code, "expires_at": expires.UTC()},
			"Pairing code: %s (valid once, for %d minutes, until %s)\n"+
				"Send this to berth in chat from the account that should own this install:\n\n  !pair %s",
			code, int(groups.PairCodeTTL.Minutes()), expires.Local().Format("15:04:05"), code)
	})
	cmd.ShortHelp = "print a one-time code; sending !pair <code> in chat makes you an owner"
	return cmd
}
