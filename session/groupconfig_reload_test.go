package session

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
)

// specRecorder is a TEST-ONLY Runtime that records the specs it is asked
// to start and starts none.
type specRecorder struct {
	mu    sync.Mutex // guards specs
	specs []container.Spec
}

func (r *specRecorder) Ensure(_ context.Context, spec container.Spec) (container.Info, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.specs = append(r.specs, spec)
	return container.Info{}, false, errors.New("TEST-ONLY runtime starts nothing")
}
func (r *specRecorder) Stop(context.Context, string, time.Duration) error { return nil }
func (r *specRecorder) Remove(context.Context, string) error              { return nil }
func (r *specRecorder) Wait(ctx context.Context, _ string) (container.Exit, error) {
	<-ctx.Done()
	return container.Exit{}, ctx.Err()
}
func (r *specRecorder) List(context.Context, map[string]string) ([]container.Info, error) {
	return nil, nil
}

func (r *specRecorder) last(t *testing.T) container.Spec {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.specs) == 0 {
		t.Fatal("no container was asked for")
	}
	return r.specs[len(r.specs)-1]
}

var _ Runtime = (*specRecorder)(nil)

// TestGroupRowIsReadAtEachStart: a session loaded once reads its group's
// row again each time a container is to start, so a change (berth groups
// config set, !config set) reaches the next container; the limits a
// running container is watched with stay those it started with until then.
func TestGroupRowIsReadAtEachStart(t *testing.T) {
	rt := &specRecorder{}
	ctx, m, store := unitManager(t, Config{}, rt)
	mg, err := store.EnsureMessagingGroup(ctx, "fake", "room", "", true)
	if err != nil {
		t.Fatal(err)
	}
	g := data.AgentGroup{Name: "team", Folder: "team", ContainerConfig: `{"turn_timeout":"5m"}`}
	if err := store.CreateGroup(ctx, &g); err != nil {
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
	if err := m.Wake(ctx, s.ID); err == nil {
		t.Fatal("the TEST-ONLY runtime started something")
	}
	if sp := rt.last(t); sp.Memory != groups.DefaultMemory || sp.Pids != groups.DefaultPids {
		t.Fatalf("first spec: memory %d, pids %d", sp.Memory, sp.Pids)
	}

	changed, _, err := groups.Set(g, []groups.Assignment{{Key: "memory", Value: "256m"}, {Key: "pids", Value: "64"},
		{Key: "turn_timeout", Value: "20m"}}, groups.Install{})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.UpdateGroupConfig(ctx, g.ID, changed.Provider, changed.Model, changed.ContainerConfig); err != nil {
		t.Fatal(err)
	}
	// Until a container is to start, the session keeps what it read.
	if _, conf, _ := l.config(); conf.TurnTimeout != 5*time.Minute {
		t.Errorf("turn_timeout before the next start: %v, want the old 5m", conf.TurnTimeout)
	}
	if err := m.Wake(ctx, s.ID); err == nil {
		t.Fatal("the TEST-ONLY runtime started something")
	}
	if sp := rt.last(t); sp.Memory != 256<<20 || sp.Pids != 64 {
		t.Errorf("next spec: memory %d, pids %d; want %d, 64", sp.Memory, sp.Pids, 256<<20)
	}
	if _, conf, _ := l.config(); conf.TurnTimeout != 20*time.Minute {
		t.Errorf("turn_timeout after the next start: %v, want 20m", conf.TurnTimeout)
	}
	// A row made bad meanwhile fails the next wake with its reason, and
	// asks for no container.
	if err := store.UpdateGroupConfig(ctx, g.ID, "", "", `{"pids":-1}`); err != nil {
		t.Fatal(err)
	}
	rt.mu.Lock()
	n := len(rt.specs)
	rt.mu.Unlock()
	var ce *groups.ConfigError
	if err := m.Wake(ctx, s.ID); !errors.As(err, &ce) || ce.Field != "pids" {
		t.Errorf("wake after a bad row: %v, want a ConfigError naming pids", err)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if len(rt.specs) != n {
		t.Errorf("a container was asked for a refused row")
	}
}
