package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/berth-dev/berth/channels/discord"
)

// cmdDiscord runs `berth discord invite-url`: the link that adds the bot
// to a server with exactly the permissions berth needs.
func cmdDiscord(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "invite-url" {
		fmt.Fprintln(stderr, "usage: berth discord invite-url")
		return errUsage
	}
	fs := flag.NewFlagSet("berth discord invite-url", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	commonFlags(fs, &cfg)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if err := cfg.resolve(fs); err != nil {
		return err
	}
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
