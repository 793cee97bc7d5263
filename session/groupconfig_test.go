package session

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session/sessiondb"
)

// ensureCounter is a TEST-ONLY Runtime that counts the containers it is
// asked to start and starts none.
type ensureCounter struct{ n atomic.Int32 }

func (r *ensureCounter) Ensure(context.Context, container.Spec) (container.Info, bool, error) {
	r.n.Add(1)
	return container.Info{}, false, errors.New("TEST-ONLY runtime starts nothing")
}
func (r *ensureCounter) Stop(context.Context, string, time.Duration) error { return nil }
func (r *ensureCounter) Remove(context.Context, string) error              { return nil }
func (r *ensureCounter) Wait(ctx context.Context, _ string) (container.Exit, error) {
	<-ctx.Done()
	return container.Exit{}, ctx.Err()
}
func (r *ensureCounter) List(context.Context, map[string]string) ([]container.Info, error) {
	return nil, nil
}

var _ Runtime = (*ensureCounter)(nil)

// TestOldGroupRowIsRefusedAtLoad: rows written before configs were
// validated (an unknown key, a negative limit, a host network) are parsed
// when their session is loaded; each wake fails with a *groups.ConfigError
// naming the field, no container is asked for, the waiting message fails
// at once with the reason, and the refusal is logged once per session.
func TestOldGroupRowIsRefusedAtLoad(t *testing.T) {
	var logs strings.Builder
	rt := &ensureCounter{}
	ctx, m, store := unitManager(t, Config{Log: slog.New(slog.NewJSONHandler(&logs, nil))}, rt)
	mg, err := store.EnsureMessagingGroup(ctx, "fake", "room", "", true)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		folder, provider, config string
		field, want              string
	}{
		{"unknown", "", `{"memroy":1}`, "memroy", `"memroy" is not a setting berth knows`},
		{"negative", "", `{"memory":-1}`, "memory", `"memory" is -1`},
		{"host", "", `{"network":"host"}`, "network", `"network" is "host"`},
		{"provider", "nosuch", `{}`, groups.FieldProvider, `provider is refused: it is "nosuch"`},
	}
	for _, tt := range tests {
		g := data.AgentGroup{Name: tt.folder, Folder: tt.folder}
		if err := store.CreateGroup(ctx, &g); err != nil {
			t.Fatal(err)
		}
		// As an older berth (or a hand edit) left it: written unchecked.
		if err := store.UpdateGroupConfig(ctx, g.ID, tt.provider, "", tt.config); err != nil {
			t.Fatal(err)
		}
		s, _, err := store.ResolveSession(ctx, data.SessionKey{AgentGroupID: g.ID, MessagingGroupID: mg.ID, Mode: data.SessionAgentShared})
		if err != nil {
			t.Fatal(err)
		}
		l, err := m.session(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.db.Append(ctx, sessiondb.InMessage{ID: "m-" + tt.folder, Kind: sessiondb.KindChat, Trigger: true, ChannelType: "fake", PlatformID: "room"}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			err = m.Wake(ctx, s.ID)
			var ce *groups.ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: wake: %v, want a ConfigError for %q saying %s", tt.folder, err, tt.field, tt.want)
			}
		}
		// The delivery loop tells (and marks told) failures at once, so
		// the failure is read from the log.
		var failed, refused int
		for line := range strings.Lines(logs.String()) {
			var e struct{ Msg, Group, Message, Reason string }
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			switch {
			case e.Msg == "failed" && e.Message == "m-"+tt.folder && strings.Contains(e.Reason, tt.want):
				failed++
			case e.Msg == "group config refused" && e.Group == tt.folder:
				refused++
			}
		}
		if failed != 1 || refused != 1 {
			t.Errorf("%s: the message failed %d times, the refusal was logged %d times; want once each:\n%s", tt.folder, failed, refused, logs.String())
		}
	}
	if n := rt.n.Load(); n != 0 {
		t.Errorf("%d containers asked for refused configs", n)
	}
}

// TestDefaultsAreTheGroups: the gateway's defaults for what a group may
// set are the groups package's named constants.
func TestDefaultsAreTheGroups(t *testing.T) {
	var c Config
	c.defaults()
	for _, tt := range []struct {
		name      string
		got, want any
	}{
		{"IdleTimeout", c.IdleTimeout, groups.DefaultIdleTimeout},
		{"TurnTimeout", c.TurnTimeout, groups.DefaultTurnTimeout},
		{"StuckTimeout", c.StuckTimeout, groups.DefaultStuckTimeout},
		{"Memory", c.Memory, groups.DefaultMemory},
		{"NanoCPUs", c.NanoCPUs, groups.DefaultNanoCPUs},
		{"Pids", c.Pids, groups.DefaultPids},
		{"GroupDiskQuota", c.GroupDiskQuota, groups.DefaultDiskQuota},
		{"SessionDiskQuota", c.SessionDiskQuota, groups.DefaultSessionDiskQuota},
		{"Provider", c.Provider, groups.DefaultProvider},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}
