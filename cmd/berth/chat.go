package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"golang.org/x/term"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/terminal"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
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
	interactive := isTerminal(stdin)
	user := os.Getenv("USER")
	if user == "" {
		user = "operator"
	}
	term := terminal.New(stdin, stdout, stderr, interactive, user)
	if interactive && isTerminal(stdout) {
		term.ShowStatus() // a status line only where a person watches it
	}
	g, closeAll, err := openGateway(ctx, cfg, stderr, func(*slog.Logger) ([]channels.Channel, error) {
		return []channels.Channel{term}, nil
	})
	if err != nil {
		return err
	}
	if err := g.WireTerminal(ctx, group); err != nil {
		return errors.Join(err, closeAll())
	}
	return runGateway(ctx, g, closeAll, func(ctx context.Context) error {
		// The prompt comes once the agent is ready to answer.
		if err := g.WarmTerminal(ctx, group); err != nil {
			if ctx.Err() != nil {
				return nil // interrupted
			}
			return err
		}
		ag, err := g.Store().Group(ctx, group)
		if err != nil {
			return err
		}
		fmt.Fprintln(stderr, providerLine(ag, cfg))
		if interactive {
			fmt.Fprintf(stderr, "berth: talking to agent group %q; Ctrl-D to quit\n", group)
		}
		if err := term.Run(ctx, g.Manager().Handle); err != nil {
			return err
		}
		// Input ended: answer everything that was accepted, then stop.
		wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		return g.Manager().WaitIdle(wctx)
	})
}

// isTerminal reports whether v (stdin, stdout) is a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// echoSwitch is how to leave the echo provider for a real model.
// With no provider configured, the key alone picks it (pickProvider).
const echoSwitch = "ANTHROPIC_API_KEY=… berth chat"

// providerLine says which provider answers in group ag and, for the echo
// provider, how to talk to a real model instead; for a model API, whether
// its key is missing.
func providerLine(ag data.AgentGroup, cfg config) string {
	provider, own := ag.Provider, true
	if provider == "" {
		provider, own = cfg.Provider, false
	}
	line := "berth: the " + provider + " provider answers"
	if ag.Model != "" {
		line += " (model " + ag.Model + ")"
	}
	if !own && cfg.ProviderWhy != "" && cfg.ProviderWhy != providerConfigured {
		line += " (" + cfg.ProviderWhy + ")" // picked from the credentials present
	}
	var key, keyVar string
	switch provider {
	case "echo":
		if own {
			return line + fmt.Sprintf(" (group %q names it; it repeats what you type)", ag.Folder)
		}
		return line + " (it repeats what you type); for a real model: " + echoSwitch
	case "anthropic", "claude":
		key, keyVar = cfg.AnthropicKey, "ANTHROPIC_API_KEY"
		if cfg.AnthropicURL != defaultAnthropicURL {
			return line // another endpoint may need no key
		}
	case "openai":
		key, keyVar = cfg.OpenAIKey, "OPENAI_API_KEY"
		if cfg.OpenAIURL != defaultOpenAIURL {
			return line // Ollama and other local servers need none
		}
	}
	if keyVar != "" && key == "" {
		line += fmt.Sprintf(", but %s is not set: export it, or put it in %s", keyVar, paths.Home(cfg.Home).Config())
	}
	return line
}
