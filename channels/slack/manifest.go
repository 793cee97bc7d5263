package slack

import (
	_ "embed"
	"maps"
	"slices"
	"strings"
)

// Manifest is the Slack app manifest for berth (manifest.yaml): Socket
// Mode on, the bot events of Events and the scopes of Needs, and the
// /berth command. `berth slack manifest` prints it.
//
//go:embed manifest.yaml
var Manifest string

// Need is one thing the adapter does on Slack and the bot scopes it
// takes: a Web API method it calls, an event it subscribes to, a command.
type Need struct {
	What   string   // "chat.postMessage", "event message.channels", "/berth"
	Scopes []string // bot scopes it needs (any one of several history scopes, by channel kind)
}

// historyScopes read a channel's messages, by kind: public, private, DM.
var historyScopes = []string{"channels:history", "groups:history", "im:history"}

// Needs is every Web API method the adapter calls, event it handles and
// command it answers, with the bot scopes each takes. It is the adapter's
// own list: a test checks manifest.yaml grants exactly these scopes, and
// another that every method the adapter called on the fake is listed.
var Needs = []Need{
	{What: "auth.test"},
	{What: "apps.connections.open"}, // the app-level token's connections:write, not a bot scope
	{What: "chat.postMessage", Scopes: []string{"chat:write"}},
	{What: "conversations.history", Scopes: historyScopes},
	{What: "conversations.replies", Scopes: historyScopes},
	{What: "reactions.add", Scopes: []string{"reactions:write"}},
	{What: "reactions.remove", Scopes: []string{"reactions:write"}},
	{What: "users.info", Scopes: []string{"users:read"}},
	{What: "assistant.threads.setStatus", Scopes: []string{"assistant:write"}},
	{What: "files.getUploadURLExternal", Scopes: []string{"files:write"}},
	{What: "files.completeUploadExternal", Scopes: []string{"files:write"}},
	{What: "url_private download", Scopes: []string{"files:read"}},
	{What: "/berth", Scopes: []string{"commands"}},
	{What: "event app_mention", Scopes: []string{"app_mentions:read"}},
	{What: "event message.channels", Scopes: []string{"channels:history"}},
	{What: "event message.groups", Scopes: []string{"groups:history"}},
	{What: "event message.im", Scopes: []string{"im:history"}},
}

// Events are the bot events the adapter handles, from Needs.
func Events() []string {
	var out []string
	for _, n := range Needs {
		if e, ok := strings.CutPrefix(n.What, "event "); ok {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return out
}

// Scopes are the bot scopes Needs takes, sorted, each once.
func Scopes() []string {
	set := map[string]bool{}
	for _, n := range Needs {
		for _, s := range n.Scopes {
			set[s] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}
