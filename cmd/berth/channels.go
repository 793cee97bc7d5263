package main

import (
	"log/slog"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/discord"
	"github.com/berth-dev/berth/channels/slack"
)

// configuredChannels returns the adapters whose credentials are set. A
// token that is set but malformed stops berth with a message saying which
// one and how to get it.
func configuredChannels(cfg config, log *slog.Logger) ([]channels.Channel, error) {
	var out []channels.Channel
	if cfg.SlackBotToken != "" || cfg.SlackAppToken != "" {
		a, err := slack.New(slack.Config{BotToken: cfg.SlackBotToken, AppToken: cfg.SlackAppToken, APIURL: cfg.SlackAPIURL}, log)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if cfg.DiscordToken != "" {
		a, err := discord.New(discord.Config{Token: cfg.DiscordToken, APIURL: cfg.DiscordAPIURL, GatewayURL: cfg.DiscordGateway}, log)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}
