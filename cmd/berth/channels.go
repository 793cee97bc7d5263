package main

import "github.com/berth-dev/berth/channels"

// configuredChannels returns the adapters whose credentials are set.
func configuredChannels(cfg config) ([]channels.Channel, error) {
	var out []channels.Channel
	return out, nil
}
