package session

import (
	"errors"
	"slices"
	"testing"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session/sessiondb"
)

// TestContainerGetsTheGroupsTimezone: a container's TZ is its group's
// timezone key, or the host's, so "tomorrow" means one day to both.
func TestContainerGetsTheGroupsTimezone(t *testing.T) {
	t.Setenv("TZ", "America/New_York")
	ctx, m, store := unitManager(t, Config{}, &ensureCounter{})
	for _, tc := range []struct{ folder, config, want string }{
		{"paris", `{"timezone":"Europe/Paris"}`, "TZ=Europe/Paris"},
		{"host", `{}`, "TZ=America/New_York"},
	} {
		g := &data.AgentGroup{Name: tc.folder, Folder: tc.folder, ContainerConfig: tc.config}
		if err := store.CreateGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		s, _, err := store.ResolveSession(ctx, data.SessionKey{AgentGroupID: g.ID, MessagingGroupID: "mg", Mode: data.SessionShared})
		if err != nil {
			t.Fatal(err)
		}
		l, err := m.session(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		spec, err := l.spec(RunnerChoice{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(spec.Env, tc.want) {
			t.Errorf("group %s: container env %q lacks %s", tc.config, spec.Env, tc.want)
		}
	}
}

// TestTriggerStoresOnce: a task run's row is stored once however often it
// is triggered, as a triggering task row; a closed session refuses it.
func TestTriggerStoresOnce(t *testing.T) {
	ctx, m, store := unitManager(t, Config{}, &ensureCounter{})
	g := &data.AgentGroup{Name: "team", Folder: "team"}
	if err := store.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	s, _, err := store.ResolveSession(ctx, data.SessionKey{AgentGroupID: g.ID, MessagingGroupID: "mg", Mode: data.SessionShared})
	if err != nil {
		t.Fatal(err)
	}
	msg := sessiondb.InMessage{ID: "task-1", ChannelType: "slack", PlatformID: "C1", Content: sessiondb.Content{Text: "hi"}}
	for range 3 {
		if err := m.Trigger(ctx, s.ID, msg); err != nil {
			t.Fatal(err)
		}
	}
	open, err := sessiondb.Host{Dir: m.sessionDir(s)}.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 1 || open[0].Kind != sessiondb.KindTask || !open[0].Trigger || open[0].Content.Event != "task" {
		t.Fatalf("rows after three triggers: %+v", open)
	}
	st, _, found, err := m.Outcome(ctx, s.ID, "task-1")
	if err != nil || !found || st != sessiondb.StatusPending {
		t.Fatalf("Outcome = %s %v %v", st, found, err)
	}
	// The conversation's address is where its people last wrote, not a
	// task's row: a Discord thread is a channel of its own.
	if _, err := (sessiondb.Host{Dir: m.sessionDir(s)}).Append(ctx, sessiondb.InMessage{ID: "m1", Kind: sessiondb.KindChat,
		ChannelType: "discord", PlatformID: "thread-7", Content: sessiondb.Content{Text: "hello"}}); err != nil {
		t.Fatal(err)
	}
	if err := m.Trigger(ctx, s.ID, sessiondb.InMessage{ID: "task-3", ChannelType: "discord", PlatformID: "parent", ThreadID: "thread-7"}); err != nil {
		t.Fatal(err)
	}
	if a, err := m.Address(ctx, s.ID); err != nil || a != (sessiondb.Address{ChannelType: "discord", PlatformID: "thread-7"}) {
		t.Fatalf("Address = %+v, %v; want the person's message's", a, err)
	}
	if err := store.CloseSession(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := m.Trigger(ctx, s.ID, sessiondb.InMessage{ID: "task-2"}); !errors.Is(err, ErrClosed) {
		t.Fatal("a closed session took a task run")
	}
}
