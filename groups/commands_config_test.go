package groups_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
)

// lockedBuffer is a log sink the test reads while commands write it.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCommandsConfig: !config shows a group's configuration to a member,
// with where each value comes from; set, unset and !model are a group
// admin's, validated with the typed configuration (a bad value is refused
// naming the key and the values allowed, and changes nothing), stored in
// the row and recorded in the log: who, which key, from what to what.
func TestCommandsConfig(t *testing.T) {
	u := newUnit(t)
	var logs lockedBuffer
	u.cmds = groups.NewCommands(u.store, u.layout, u.stops, slog.New(slog.NewJSONHandler(&logs, nil)))
	u.cmds.Install = groups.Install{Provider: "anthropic", ProviderFrom: "ANTHROPIC_API_KEY is set", Image: "berth-agent:latest",
		Images: []string{"berth-agent:latest", "berth-agent-claude:latest"}}
	ctx := context.Background()
	row := func() string {
		t.Helper()
		g, err := u.store.Group(ctx, "team")
		if err != nil {
			t.Fatal(err)
		}
		return g.Provider + "|" + g.Model + "|" + g.ContainerConfig
	}
	const secret = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789"
	steps := []struct {
		who, text string
		want      []string
		row       string // the row after, "" : unchanged
	}{
		{operator, "!register team", []string{"Created agent group team"}, "||{}"},
		{bob, "!config", []string{"needs the member role for group team"}, ""},
		{operator, "!grant bob member team", []string{"now member of team"}, ""},
		{bob, "!config", []string{"Configuration of group team", "memory = 1g (default)", "provider = anthropic (install)",
			"idle_timeout = 10m (default)", "!config set"}, ""},
		{bob, "!config set memory=2g", []string{"needs the admin role for group team"}, ""},
		{bob, "!model claude-x", []string{"needs the admin role for group team"}, ""},
		{operator, "!config set memory=2g cpus=1.5 idle_timeout=20m", []string{"memory default → 2g", "cpus default → 1.5",
			"idle_timeout default → 20m", "next container of every session", "running turn is not cut"},
			`||{"idle_timeout":"20m","memory":2147483648,"nano_cpus":1500000000}`},
		{operator, "!config set memory=lots", []string{"memory=lots is refused", "allowed: a size such as 2g or 512m"}, ""},
		{operator, "!config set memory=1m", []string{"memory=1m is refused", "at least 6m"}, ""},
		{operator, "!config set permission_mode=yolo", []string{"permission_mode=yolo is refused",
			"acceptEdits, auto, bypassPermissions, default, dontAsk, manual, plan"}, ""},
		{operator, "!config set provider=gpt", []string{"provider=gpt is refused", "one of echo, anthropic, openai, claude"}, ""},
		{operator, "!config set image=evil:latest", []string{"image=evil:latest is refused", "berth-agent:latest"}, ""},
		{operator, "!config set mounts=/srv/data:data", []string{"mounts=/srv/data:data is refused", "no mount allowlist"}, ""},
		{operator, "!config set memroy=2g", []string{"memroy is not a setting berth knows", "memory, cpus"}, ""},
		{operator, "!config set memory", []string{`"memory" is not key=value`}, ""},
		{operator, "!config set model=" + secret, []string{"looks like a credential"}, ""},
		// Where MCP header variables go is the operator's choice, even for an owner in chat.
		{operator, `!config set mcp_servers=[{"name":"gh","url":"https://example.com/mcp"}]`, []string{"set by the operator only", "berth groups config team set mcp_servers"}, ""},
		{operator, "!config unset mcp_servers", []string{"set by the operator only"}, ""},
		{operator, "!config frobnicate", []string{"there is no agent group"}, ""},
		{operator, "!config team frobnicate", []string{`"frobnicate": expected set or unset`}, ""},
		{operator, "!model claude-x", []string{"model default → claude-x", "next container"},
			`|claude-x|{"idle_timeout":"20m","memory":2147483648,"nano_cpus":1500000000}`},
		{operator, "!config unset memory idle_timeout", []string{"memory 2g → default", "idle_timeout 20m → default"},
			`|claude-x|{"nano_cpus":1500000000}`},
		{operator, "!config unset memory", []string{"nothing changed"}, ""},
		{operator, "!config unset nosuch", []string{"nosuch is not a setting berth knows"}, ""},
		{bob, "!config", []string{"model = claude-x (group)", "cpus = 1.5 (group)", "memory = 1g (default)"}, ""},
		// A second group wired here: the group must be named.
		{operator, "!register other", []string{"Created agent group other"}, ""},
		{operator, "!wire team", []string{"team"}, ""},
		{operator, "!config", []string{"wired to", "team", "other", "name the group"}, ""},
		{operator, "!config team set pids=512", []string{"pids default → 512"}, `|claude-x|{"nano_cpus":1500000000,"pids":512}`},
	}
	last := ""
	for _, st := range steps {
		got := u.say(st.who, "room", false, st.text)
		for _, w := range st.want {
			if !strings.Contains(got, w) {
				t.Fatalf("%s: %q: answer %q lacks %q", st.who, st.text, got, w)
			}
		}
		now := row()
		want := st.row
		if want == "" {
			want = last
		}
		if now != want {
			t.Fatalf("%s: %q: row is %q, want %q", st.who, st.text, now, want)
		}
		last = now
	}
	// The log has each change with who made it, and never the secret.
	var seen []string
	for line := range strings.SplitSeq(logs.String(), "\n") {
		var rec struct{ Msg, User, Group, Key, From, To string }
		if line == "" || json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "group config changed" {
			continue
		}
		seen = append(seen, rec.User+" "+rec.Group+" "+rec.Key+" "+rec.From+"→"+rec.To)
	}
	want := []string{
		"terminal:local team memory →2g", "terminal:local team cpus →1.5", "terminal:local team idle_timeout →20m",
		"terminal:local team model →claude-x", "terminal:local team memory 2g→", "terminal:local team idle_timeout 20m→",
		"terminal:local team pids →512",
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("logged changes:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(logs.String(), secret) {
		t.Error("the log holds the credential-shaped value")
	}
}

// TestApplyChangeKeepsAnotherWritersChange: a change computed from a row
// another writer (the CLI, another chat) changed meanwhile is made again
// on what that writer stored, so neither change is lost.
func TestApplyChangeKeepsAnotherWritersChange(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	g := data.AgentGroup{Name: "team", Folder: "team"}
	if err := store.CreateGroup(ctx, &g); err != nil {
		t.Fatal(err)
	}
	stale := g
	other, _, err := groups.Set(g, []groups.Assignment{{Key: "pids", Value: "64"}}, groups.Install{})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.UpdateGroupConfig(ctx, g.ID, other.Provider, other.Model, other.ContainerConfig); err != nil {
		t.Fatal(err)
	}
	set := func(g data.AgentGroup) (data.AgentGroup, []groups.Change, error) {
		return groups.Set(g, []groups.Assignment{{Key: "memory", Value: "2g"}}, groups.Install{})
	}
	if _, _, err := groups.ApplyChange(ctx, store, stale, set, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	now, err := store.Group(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"memory":2147483648,"pids":64}`; now.ContainerConfig != want {
		t.Errorf("row %s, want %s", now.ContainerConfig, want)
	}
}
