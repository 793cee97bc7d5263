package groups

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data"
)

// Sessions controls sessions' turns and containers; session.Manager
// implements it.
type Sessions interface {
	// StopTurn cancels what a session's agent is working on (!stop): the
	// messages its turn claimed are cancelled, never retried nor answered,
	// and its container is stopped. The session and its state stay; the
	// next message starts a fresh turn.
	StopTurn(ctx context.Context, sessionID string) (Halted, error)
	// ResetSession closes a session for good (!reset): its turn is
	// cancelled, its container stopped, the messages still waiting in it
	// fail (their senders told), and nothing wakes it again. The
	// conversation's next message starts a new session.
	ResetSession(ctx context.Context, sessionID string) (Halted, error)
	// ReleaseHeld routes the messages held for groupID from userID, in
	// every conversation, and reports how many it passed on.
	ReleaseHeld(ctx context.Context, groupID, userID string) (int, error)
}

// Halted is what stopping a session's work did, for the person's answer.
type Halted struct {
	Cancelled int  // messages of the running turn cancelled: never answered
	Failed    int  // messages still waiting that failed, their senders told (a reset)
	Container bool // a running container was stopped
}

// Commands handles chat commands ("!help", "!register team", …) on the
// host; a command never reaches an agent. It implements session.Commands.
type Commands struct {
	// Now is the clock pairing codes are checked against; tests replace it.
	Now func() time.Time
	// Install is what the operator's installation decides about groups'
	// keys, for !config; set before the first command.
	Install Install

	store    *data.Store
	layout   Layout
	sessions Sessions
	tasks    TaskDesk // nil: no scheduler (SetTasks)
	log      *slog.Logger
	table    []command

	mu        sync.Mutex
	pairFails map[string][]time.Time // recent wrong !pair codes, per user
}

// NewCommands returns the chat command handler. log may be nil.
func NewCommands(store *data.Store, layout Layout, sessions Sessions, log *slog.Logger) *Commands {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Commands{Now: time.Now, store: store, layout: layout, sessions: sessions, log: log, pairFails: map[string][]time.Time{}}
	wireFlags := []string{"engage", "session", "access"} // the options of !register and !wire
	c.table = []command{
		{name: "help", summary: "the commands you can use", run: c.help},
		{name: "status", summary: "this channel's wirings and sessions", need: data.RoleMember, scoped: true, run: c.status},
		{name: "reset", summary: "start a fresh session for this channel or thread", need: data.RoleMember, scoped: true, run: c.reset},
		{name: "stop", summary: "stop what the agent is working on now; the session stays", need: data.RoleMember, scoped: true, run: c.stop},
		{name: "groups", summary: "agent groups and the channels wired to each", need: data.RoleAdmin, run: c.groups},
		{name: "register", args: "<name>", flags: wireFlags, min: 1, max: 1, need: data.RoleAdmin,
			summary: "create agent group <name> and wire this channel to it", run: c.register},
		{name: "wire", args: "<group>", flags: wireFlags, min: 1, max: 1, need: data.RoleAdmin, scoped: true,
			summary: "wire this channel to an agent group", run: c.wire},
		{name: "unwire", args: "[<group>]", max: 1, need: data.RoleAdmin, scoped: true,
			summary: "unwire this channel (from one group, or from all)", run: c.unwire},
		{name: "grant", args: "<user> <admin|member> [<group>]", min: 2, max: 3, need: data.RoleAdmin, scoped: true,
			summary: "give a user a role, globally or for one group", run: c.grant},
		{name: "revoke", args: "<user> <admin|member> [<group>]", min: 2, max: 3, need: data.RoleAdmin, scoped: true,
			summary: "take a role back", run: c.revoke},
		{name: "users", summary: "known users and their roles", need: data.RoleAdmin, run: c.users},
		{name: "allow", args: "<user> [<group>]", min: 1, max: 2, need: data.RoleAdmin, scoped: true,
			summary: "make a user a member of this channel's groups and pass on their held messages", run: c.allow},
		{name: "deny", args: "<user> [<group>]", min: 1, max: 2, need: data.RoleAdmin, scoped: true,
			summary: "turn a user away from this channel's approval groups and drop their held messages", run: c.deny},
		{name: "held", need: data.RoleAdmin, scoped: true, summary: "messages held for this channel's groups, awaiting !allow or !deny", run: c.held},
		{name: "config", args: "[<group>] [set <key>=<value> …|unset <key> …]", max: MaxCommandArgs, need: data.RoleMember, scoped: true,
			summary: "the group's configuration; a group admin sets and unsets keys (!config set memory=2g)", run: c.config},
		{name: "model", args: "<name> [<group>]", min: 1, max: 2, need: data.RoleAdmin, scoped: true,
			summary: "set the group's model (!config set model=<name>)", run: c.model},
		{name: "pair", args: "<code>", min: 1, max: 1, summary: "become an owner with the code `berth pair` prints", run: c.pair},
		{name: "schedule", args: "<when> <prompt>", need: data.RoleMember, scoped: true,
			summary: "schedule a task for this conversation's agent: in 20m, at 09:00, tomorrow 9:00, every 1h, or a cron expression", run: c.schedule},
		{name: "tasks", args: "[all]", max: 1, need: data.RoleMember, scoped: true, summary: "this conversation's scheduled tasks", run: c.listTasks},
		{name: "cancel", args: "<task>", min: 1, max: 1, need: data.RoleMember, scoped: true, summary: "cancel a scheduled task", run: c.cancelTask},
		{name: "pause", args: "<task>", min: 1, max: 1, need: data.RoleMember, scoped: true, summary: "pause a scheduled task", run: c.pauseTask},
		{name: "resume", args: "<task>", min: 1, max: 1, need: data.RoleMember, scoped: true, summary: "resume a paused task", run: c.resumeTask},
	}
	return c
}

// command describes one chat command.
type command struct {
	name, args, summary string
	flags               []string
	min, max            int           // positional arguments
	need                data.RoleName // role needed, as !help shows it; "" for anyone
	scoped              bool          // need may be held for one group rather than globally
	run                 func(ctx context.Context, x *call) (string, error)
}

// wireOptionsHelp spells out the options of !register and !wire.
const wireOptionsHelp = `--engage mention|mention-sticky|all|"pattern:<regex>", --session shared|per-thread|agent-shared, ` +
	`--access members|open|approval (who may talk to the agent: users with a role, anyone here, or those an admin allows; default members)`

// usage is the command's synopsis; long spells its options out.
func (s command) usage(long bool) string {
	u := "!" + s.name
	if s.args != "" {
		u += " " + s.args
	}
	switch {
	case len(s.flags) > 0 && long:
		u += " [options]\noptions: " + wireOptionsHelp
	case len(s.flags) > 0:
		u += " [--engage E] [--session S] [--access A]"
	}
	return u
}

// check validates a parsed command's arguments and options against s.
func (s command) check(cmd Command) error {
	for k := range cmd.Flags {
		if !slices.Contains(s.flags, k) {
			return fmt.Errorf("!%s has no option --%s", s.name, k)
		}
	}
	switch {
	case len(cmd.Args) < s.min:
		return fmt.Errorf("!%s is missing an argument", s.name)
	case len(cmd.Args) > s.max:
		return fmt.Errorf("!%s takes at most %d argument(s)", s.name, s.max)
	}
	return nil
}

// call is one command being handled.
type call struct {
	in      channels.Inbound
	cmd     Command
	user    string // the sender's store id, "slack:U123"
	address string // the messaging group's platform id
	rest    string // a raw command's text after its name (rawCommands)
}

// refusal is an answer that changes nothing: bad input or a missing role.
type refusal string

func (r refusal) Error() string { return string(r) }

func refusef(format string, args ...any) error { return refusal(fmt.Sprintf(format, args...)) }

// Handle runs the command in in.Text and answers through reply. Bad input
// and refusals are answered and change nothing; so is a failure, which is
// logged too. Text that is no known command is answered only when the bot
// was addressed (a mention or a DM), so that a channel's other "!" bots
// and exclamations are left alone. Handle returns nil: the sender has
// been told the outcome, and a redelivery must not run the command again.
func (c *Commands) Handle(ctx context.Context, in channels.Inbound, reply func(text string)) error {
	x := &call{in: in, user: channels.UserKey(in.ChannelType, in.Sender.ID), address: data.ConversationOf(in).Address}
	log := c.log.With("channel", in.ChannelType, "platform_id", x.address, "user", x.user)
	addressed := in.Mentioned || in.IsDM
	cmd, err := ParseCommand(in.Text)
	if name, rest, ok := rawCommand(in.Text); ok {
		cmd, err, x.rest = Command{Name: name, Flags: map[string]string{}}, nil, rest
	}
	if err != nil {
		log.Info("command refused", "reason", err.Error(), "answered", addressed)
		if addressed {
			reply("berth: " + err.Error())
		}
		return nil
	}
	x.cmd = cmd
	log = log.With("command", cmd.Name)
	i := slices.IndexFunc(c.table, func(s command) bool { return s.name == cmd.Name })
	if i < 0 {
		log.Info("command refused", "reason", "unknown command", "answered", addressed)
		if addressed {
			reply(fmt.Sprintf("berth: unknown command !%s; try !help", cmd.Name))
		}
		return nil
	}
	spec := c.table[i]
	if err := spec.check(cmd); err != nil {
		log.Info("command refused", "reason", err.Error())
		reply("berth: " + err.Error() + "\nusage: " + spec.usage(true))
		return nil
	}
	text, err := spec.run(ctx, x)
	var r refusal
	switch {
	case errors.As(err, &r):
		log.Info("command refused", "reason", string(r))
		reply("berth: " + string(r))
	case err != nil:
		log.Error("command failed", "err", err)
		reply(fmt.Sprintf("berth: !%s failed: %v", cmd.Name, err))
	default:
		log.Info("command")
		reply(text)
	}
	return nil
}

// require refuses unless x's sender holds need for g (the zero group: globally).
func (c *Commands) require(ctx context.Context, x *call, need data.RoleName, g data.AgentGroup) error {
	ok, err := Allowed(ctx, c.store, x.user, need, g.ID)
	if err != nil || ok {
		return err
	}
	return c.refuseRole(ctx, x, need, g)
}

// refuseRole words a refusal: which role is needed, and why nobody has it
// when the install has no owner yet.
func (c *Commands) refuseRole(ctx context.Context, x *call, need data.RoleName, g data.AgentGroup) error {
	what := "the " + string(need) + " role"
	if g.ID != "" {
		what += " for group " + g.Folder
	}
	msg := fmt.Sprintf("!%s needs %s", x.cmd.Name, what)
	owned, err := c.store.HasOwner(ctx)
	if err != nil {
		return err
	}
	if !owned && need != data.RoleMember {
		return refusal(msg + ". " + noOwner)
	}
	return refusal(msg + "; ask an admin to !grant it")
}

const noOwner = "This install has no owner yet, so nobody can run admin commands: " +
	"run `berth pair` on the host and send !pair <code> here."

// here returns this channel's messaging group and wirings; found is false
// when the channel was never wired.
func (c *Commands) here(ctx context.Context, x *call) (mg data.MessagingGroup, ws []data.Wiring, found bool, err error) {
	mg, err = c.store.MessagingGroup(ctx, x.in.ChannelType, x.address)
	if errors.Is(err, data.ErrNotFound) {
		return mg, nil, false, nil
	}
	if err != nil {
		return mg, nil, false, err
	}
	ws, err = c.store.Wirings(ctx, mg.ID)
	return mg, ws, true, err
}

func (c *Commands) help(ctx context.Context, x *call) (string, error) {
	var b strings.Builder
	b.WriteString("berth commands you can use:\n")
	hidden, opts := 0, false
	for _, s := range c.table {
		ok, err := c.holds(ctx, x.user, s.need, s.scoped)
		if err != nil {
			return "", err
		}
		if !ok {
			hidden++
			continue
		}
		fmt.Fprintf(&b, "  %s: %s\n", s.usage(false), s.summary)
		opts = opts || len(s.flags) > 0
	}
	if opts {
		b.WriteString("Options of !register and !wire: " + wireOptionsHelp + "\n")
	}
	if hidden > 0 {
		fmt.Fprintf(&b, "%d more need a role you do not have.\n", hidden)
	}
	owned, err := c.store.HasOwner(ctx)
	if err != nil {
		return "", err
	}
	if !owned {
		b.WriteString(noOwner + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// holds reports whether user holds need globally or, when scoped, for
// at least one group.
func (c *Commands) holds(ctx context.Context, user string, need data.RoleName, scoped bool) (bool, error) {
	if need == "" {
		return true, nil
	}
	ok, err := Allowed(ctx, c.store, user, need, "")
	if err != nil || ok || !scoped {
		return ok, err
	}
	roles, err := c.store.Roles(ctx, user)
	if err != nil {
		return false, err
	}
	for _, r := range roles {
		if r.GroupID == "" {
			continue
		}
		if ok, err := Allowed(ctx, c.store, user, need, r.GroupID); err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// group looks an agent group up by folder name or id, refusing if none.
func (c *Commands) group(ctx context.Context, name string) (data.AgentGroup, error) {
	g, err := c.store.Group(ctx, name)
	if errors.Is(err, data.ErrNotFound) {
		return g, refusef("there is no agent group %q", truncate(name, 40))
	}
	return g, err
}

// ago says how long ago t was, roughly.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
