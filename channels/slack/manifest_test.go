package slack

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/berth-dev/berth/channels"
)

// manifest is the part of a Slack app manifest berth sets.
type manifest struct {
	Features struct {
		SlashCommands []struct {
			Command string `yaml:"command"`
		} `yaml:"slash_commands"`
	} `yaml:"features"`
	OAuthConfig struct {
		Scopes struct {
			Bot []string `yaml:"bot"`
		} `yaml:"scopes"`
	} `yaml:"oauth_config"`
	Settings struct {
		EventSubscriptions struct {
			BotEvents []string `yaml:"bot_events"`
		} `yaml:"event_subscriptions"`
		SocketMode bool `yaml:"socket_mode_enabled"`
	} `yaml:"settings"`
}

// The manifest parses as YAML and grants exactly what the adapter says it
// needs: its events, its scopes, Socket Mode and the /berth command.
func TestManifestMatchesNeeds(t *testing.T) {
	var m manifest
	if err := yaml.Unmarshal([]byte(Manifest), &m); err != nil {
		t.Fatalf("manifest.yaml: %v", err)
	}
	if got := slices.Sorted(slices.Values(m.Settings.EventSubscriptions.BotEvents)); !slices.Equal(got, Events()) {
		t.Errorf("manifest bot events %q, the adapter handles %q", got, Events())
	}
	if got := slices.Sorted(slices.Values(m.OAuthConfig.Scopes.Bot)); !slices.Equal(got, Scopes()) {
		t.Errorf("manifest bot scopes %q, the adapter needs %q", got, Scopes())
	}
	if !m.Settings.SocketMode {
		t.Error("the manifest does not turn Socket Mode on")
	}
	var cmds []string
	for _, c := range m.Features.SlashCommands {
		cmds = append(cmds, c.Command)
	}
	if !slices.Equal(cmds, []string{"/berth"}) {
		t.Errorf("slash commands %q, want /berth", cmds)
	}
	for _, want := range []string{"files:read", "files:write", "commands", "channels:history"} {
		if !slices.Contains(Scopes(), want) {
			t.Errorf("the adapter's needs lack %s", want)
		}
	}
}

// Every Web API method the adapter called on the fake, doing what it does
// (messages, thread catch-up, reactions, status lines, a reply, the deaf
// check), is in Needs: the list the manifest is checked against is
// complete for what ran. (Uploads have their own tests; their methods
// are listed too.)
func TestNeedsListEveryMethodCalled(t *testing.T) {
	t.Parallel()
	fake, a, rec, _ := start(t, func(c *Config) { c.DeafAfter = 200 * time.Millisecond })
	fake.AllowAssistantStatus()
	root := fake.Mention("C1", "U1", "hello")
	rec.Wait(t, 1)
	fake.Offline("C1", "U1", "missed")
	fake.PostInThread("C1", root, "U2", "a reply")
	if _, err := a.Missed(context.Background(), "C1", root, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.MissedInThreads(context.Background(), "C1", []channels.ThreadMark{{ThreadID: root}}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	target := channels.Target{PlatformID: "C1", ThreadID: root, MessageID: root}
	a.Status(context.Background(), target, channels.Status{State: channels.StateWorking})
	waitFor(t, func() bool { return fake.Calls()["reactions.add"] > 0 })
	a.Status(context.Background(), target, channels.Status{State: channels.StateDone})
	if _, err := a.Send(context.Background(), channels.Outbound{PlatformID: "C1", ThreadID: root, Text: "hi", Key: "k1"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Confirm(context.Background(), channels.Outbound{PlatformID: "C1", ThreadID: root, Key: "k1"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return fake.Calls()["reactions.remove"] > 0 })
	listed := map[string]bool{}
	for _, n := range Needs {
		listed[n.What] = true
	}
	called := slices.Sorted(maps.Keys(fake.Calls()))
	for _, m := range called {
		if !listed[m] && !strings.HasPrefix(m, "files-") {
			t.Errorf("the adapter called %s, which Needs does not list", m)
		}
	}
	for _, m := range []string{"auth.test", "apps.connections.open", "conversations.history", "conversations.replies", "chat.postMessage", "reactions.add", "assistant.threads.setStatus"} {
		if !slices.Contains(called, m) {
			t.Errorf("the test did not exercise %s (called: %q)", m, called)
		}
	}
}
