package main

import (
	"testing"

	"github.com/berth-dev/berth/data"
)

func TestProviderLine(t *testing.T) {
	base := config{Home: "/home/me/.local/share/berth", Provider: "echo", AnthropicURL: defaultAnthropicURL, OpenAIURL: defaultOpenAIURL}
	with := func(f func(*config)) config {
		c := base
		f(&c)
		return c
	}
	tests := []struct {
		name  string
		group data.AgentGroup
		cfg   config
		want  string
	}{
		{"echo by default", data.AgentGroup{Folder: "main"}, base,
			"berth: the echo provider answers (it repeats what you type); for a real model: ANTHROPIC_API_KEY=… berth chat"},
		{"anthropic picked by its key", data.AgentGroup{Folder: "main"}, with(func(c *config) {
			c.Provider, c.ProviderWhy, c.AnthropicKey = "anthropic", "ANTHROPIC_API_KEY is set", "sk-test"
		}), "berth: the anthropic provider answers (ANTHROPIC_API_KEY is set)"},
		{"echo named by the group", data.AgentGroup{Folder: "team", Provider: "echo"}, with(func(c *config) { c.Provider = "anthropic" }),
			`berth: the echo provider answers (group "team" names it; it repeats what you type)`},
		{"anthropic with its key", data.AgentGroup{Folder: "main"}, with(func(c *config) { c.Provider, c.AnthropicKey = "anthropic", "sk-test" }),
			"berth: the anthropic provider answers"},
		{"anthropic without its key", data.AgentGroup{Folder: "main"}, with(func(c *config) { c.Provider = "anthropic" }),
			"berth: the anthropic provider answers, but ANTHROPIC_API_KEY is not set: export it, or put it in /home/me/.local/share/berth/config"},
		{"group's model", data.AgentGroup{Folder: "main", Provider: "claude", Model: "claude-x"}, with(func(c *config) { c.AnthropicKey = "sk-test" }),
			"berth: the claude provider answers (model claude-x)"},
		{"openai without key, default endpoint", data.AgentGroup{Folder: "main", Provider: "openai"}, base,
			"berth: the openai provider answers, but OPENAI_API_KEY is not set: export it, or put it in /home/me/.local/share/berth/config"},
		{"openai without key, local server", data.AgentGroup{Folder: "main", Provider: "openai"}, with(func(c *config) { c.OpenAIURL = "http://127.0.0.1:11434/v1" }),
			"berth: the openai provider answers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := providerLine(tt.group, tt.cfg); got != tt.want {
				t.Errorf("providerLine = %q\nwant           %q", got, tt.want)
			}
		})
	}
}
