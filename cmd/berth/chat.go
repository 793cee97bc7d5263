package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"golang.org/x/term"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/terminal"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
)

// defaultGroup is the agent group `berth chat` talks to.
const defaultGroup = "main"

// chatCommand is `berth chat`.
func (c *commandLine) chatCommand() *ffcli.Command {
	fs := c.flagSet("chat")
	var cfg config
	cfg.settings(fs, gatewaySettings...)
	cfg.verboseFlag(fs)
	group := fs.String("group", defaultGroup, "agent group to talk to (created if missing)")
	return c.command(leaf{fs: fs, usage: "chat [flags]", help: "talk to an agent in this terminal (builds the agent image if needed)", cfg: &cfg,
		run: func(ctx context.Context, _ []string) error {
			return cmdChat(ctx, cfg, *group, c.stdin, c.stdout, c.stderr)
		}})
}

// cmdChat runs a gateway with the terminal as its one channel, wired to group.
func cmdChat(ctx context.Context, cfg config, group string, stdin io.Reader, stdout, stderr io.Writer) error {
	g, err := openGateway(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer g.close()
	if err := ensureTerminalWiring(ctx, g.store, g.layout, group); err != nil {
		return err
	}
	interactive := isTerminal(stdin)
	user := os.Getenv("USER")
	if user == "" {
		user = "operator"
	}
	term := terminal.New(stdin, stdout, stderr, interactive, user)
	g.mgr.AddChannel(term)
	return serve(ctx, g, []channels.Channel{term}, func(ctx context.Context) error {
		if interactive {
			fmt.Fprintf(stdout, "berth: talking to agent group %q (provider %s). Ctrl-D to quit.\n", group, cfg.Provider)
		}
		if err := term.Run(ctx, g.mgr.Handle); err != nil {
			return err
		}
		// Input ended: answer everything that was accepted, then stop.
		wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		return g.mgr.WaitIdle(wctx)
	})
}

// ensureTerminalWiring makes sure the terminal conversation is wired to an
// agent group, creating the group (and its folder, once) if needed. The
// terminal's user is the operator and so the owner.
func ensureTerminalWiring(ctx context.Context, store *data.Store, layout groups.Layout, folder string) error {
	ag, err := store.Group(ctx, folder)
	if errors.Is(err, data.ErrNotFound) {
		ag = data.AgentGroup{Name: folder, Folder: folder}
		if err := groups.Create(ctx, store, layout, &ag); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	mg, err := store.EnsureMessagingGroup(ctx, terminal.Type, terminal.PlatformID, "terminal", true)
	if err != nil {
		return err
	}
	ws, err := store.Wirings(ctx, mg.ID)
	if err != nil {
		return err
	}
	for _, w := range ws {
		if w.AgentGroupID == ag.ID {
			return nil
		}
	}
	// One terminal conversation talks to one group at a time.
	if _, err := store.Unwire(ctx, mg.ID, ""); err != nil {
		return err
	}
	if err := store.Wire(ctx, &data.Wiring{MessagingGroupID: mg.ID, AgentGroupID: ag.ID, Engage: data.EngagePattern, Pattern: ".",
		SessionMode: data.SessionShared}); err != nil {
		return err
	}
	operator := channels.UserKey(terminal.Type, terminal.UserID)
	if err := store.EnsureUser(ctx, operator, "operator"); err != nil {
		return err
	}
	return store.Grant(ctx, data.Role{UserID: operator, Role: data.RoleOwner, GrantedBy: "berth"})
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
