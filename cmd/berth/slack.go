package main

import (
	"context"
	"fmt"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/berth-dev/berth/channels/slack"
)

// slackManifestCommand prints the Slack app manifest berth needs, to
// paste at api.slack.com/apps → Create New App → From a manifest.
func (c *commandLine) slackManifestCommand() *ffcli.Command {
	fs := c.flagSet("manifest")
	return c.command(leaf{fs: fs, usage: "slack manifest", help: "print the Slack app manifest (Socket Mode, the events and scopes berth uses, /berth)",
		run: func(context.Context, []string) error {
			_, err := fmt.Fprint(c.stdout, slack.Manifest)
			return err
		}})
}
