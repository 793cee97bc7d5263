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
	home           string
	json           bool
	store          *data.Store
}

// cmdAdmin runs `berth <noun> <verb> …`: groups, wirings, sessions, users,
// roles, dropped and pair.
func cmdAdmin(ctx context.Context, noun string, args []string, stdout, stderr io.Writer) error {
	a := &admin{stdout: stdout, stderr: stderr}
	defer func() {
		if a.store != nil {
			a.store.Close()
		}
	}()
	if noun == "pair" {
		return a.pair(ctx, args)
	}
	verbs := map[string][]string{
		"groups":   {"list", "show", "create", "delete"},
		"wirings":  {"list", "create", "delete"},
		"sessions": {"list", "show", "stop"},
		"users":    {"list"},
		"roles":    {"grant", "revoke"},
		"dropped":  {"list"},
	}[noun]
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "usage: berth %s %s [flags]\n", noun, strings.Join(verbs, "|"))
		return errUsage
	}
	verb, rest := args[0], args[1:]
	switch noun + " " + verb {
	case "groups list":
		return a.groupsList(ctx, rest)
	case "groups show":
		return a.groupsShow(ctx, rest)
	case "groups create":
		return a.groupsCreate(ctx, rest)
	case "groups delete":
		return a.groupsDelete(ctx, rest)
	case "wirings list":
		return a.wiringsList(ctx, rest)
	case "wirings create":
		return a.wiringsCreate(ctx, rest)
	case "wirings delete":
		return a.wiringsDelete(ctx, rest)
	case "sessions list":
		return a.sessionsList(ctx, rest)
	case "sessions show":
		return a.sessionsShow(ctx, rest)
	case "sessions stop":
		return a.sessionsStop(ctx, rest)
	case "users list":
		return a.usersList(ctx, rest)
	case "roles grant", "roles revoke":
		return a.roles(ctx, verb, rest)
	case "dropped list":
		return a.droppedList(ctx, rest)
	}
	fmt.Fprintf(stderr, "berth: unknown command %q\nusage: berth %s %s [flags]\n", noun+" "+verb, noun, strings.Join(verbs, "|"))
	return errUsage
}

// flags starts a command's flag set with the flags every command takes.
func (a *admin) flags(usage string) *flag.FlagSet {
	a.usage = usage
	fs := flag.NewFlagSet("berth "+usage, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(a.stderr, "usage: berth %s\n", usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&a.home, "home", "", "state folder (default $BERTH_HOME or ~/.local/share/berth)")
	fs.BoolVar(&a.json, "json", false, "print JSON for scripts")
	return fs
}

// parse reads flags and between min and max positional arguments (flags
// may come after them), then opens the store.
func (a *admin) parse(ctx context.Context, fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			return nil, err
		} else if err != nil {
			return nil, errUsage // the flag package has said what is wrong
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	if len(pos) < min || len(pos) > max {
		return nil, a.usageErr("expected %s", adminArgCount(min, max))
	}
	home, err := paths.Resolve(a.home)
	if err != nil {
		return nil, err
	}
	a.home = home.String()
	if a.store, err = data.Open(ctx, home.Store()); err != nil {
		return nil, err
	}
	return pos, nil
}

func adminArgCount(min, max int) string {
	switch {
	case min == max && min == 0:
		return "no arguments"
	case min == max:
		return fmt.Sprintf("%d argument(s)", min)
	}
	return fmt.Sprintf("%d to %d arguments", min, max)
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
	return groups.Layout{Root: paths.Home(a.home).Groups(), UID: uid}
}

// adminChannel splits "slack:C123" into its channel type and platform id.
func adminChannel(s string) (string, string, bool) {
	t, id, ok := strings.Cut(s, ":")
	return t, id, ok && t != "" && id != ""
}

func (a *admin) pair(ctx context.Context, args []string) error {
	fs := a.flags("pair [--json]")
	if _, err := a.parse(ctx, fs, args, 0, 0); err != nil {
		return err
	}
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
}
