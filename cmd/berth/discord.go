package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/berth-dev/berth/channels/discord"
)

// discordInviteCommand is `berth discord invite-url`.
func (c *commandLine) discordInviteCommand() *ffcli.Command {
	fs := c.flagSet("invite-url")
	var cfg config
	cfg.settings(fs, gatewaySettings...)
	cfg.verboseFlag(fs)
	return c.command(leaf{fs: fs, usage: "discord invite-url [flags]", help: "print the link that adds the Discord bot to a server", cfg: &cfg,
		run: func(ctx context.Context, _ []string) error { return cmdDiscordInviteURL(ctx, cfg, c.stdout) }})
}

// cmdDiscordInviteURL prints the link that adds the bot to a server with
// exactly the permissions berth needs.
func cmdDiscordInviteURL(ctx context.Context, cfg config, stdout io.Writer) error {
	if cfg.DiscordToken == "" {
		return exitError{code: 1, err: errors.New("DISCORD_BOT_TOKEN is not set: copy it from the Developer Portal → your application → Bot")}
	}
	a, err := discord.New(discord.Config{Token: cfg.DiscordToken, APIURL: cfg.DiscordAPIURL, GatewayURL: cfg.DiscordGateway}, nil)
	if err != nil {
		return err
	}
	id, err := a.ApplicationID(ctx)
	if err != nil {
		return exitError{code: 1, err: err}
	}
	fmt.Fprintln(stdout, discord.InviteURL(id))
	return nil
}
