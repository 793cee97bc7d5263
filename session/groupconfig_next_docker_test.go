package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/groups"
)

// TestConfigChangeReachesNextContainer: a group's memory and model changed
// while its session's container runs (as `berth groups config set` and
// !config set write them) leave that container as it is: same container,
// same memory limit, the old model in its next request. The session's next
// container, once that one stops, has the new memory limit (docker
// inspect), and its request to the model API (through the credential
// proxy) names the new model.
func TestConfigChangeReachesNextContainer(t *testing.T) {
	t.Parallel()
	f := newFakeModel(t, func(n int, req map[string]any) (int, any) { return 200, anthropicText("answer") })
	g, ch := startWithProvider(t, "anthropic", f, modelSecret)
	ctx := context.Background()

	handle(t, g, msg("first"))
	ch.waitSent(t, 1, 90*time.Second)
	ss := g.Sessions()
	if len(ss) != 1 {
		t.Fatalf("%d sessions", len(ss))
	}
	sid := ss[0].ID
	running := func() []container.Info {
		var out []container.Info
		for _, c := range g.Containers(sid) {
			if c.Running() {
				out = append(out, c)
			}
		}
		return out
	}
	first := running()
	if len(first) != 1 {
		t.Fatalf("%d running containers", len(first))
	}
	if hc := inspectHost(t, g, first[0].ID); hc.Memory != groups.DefaultMemory {
		t.Fatalf("first container's memory %d, want the default %d", hc.Memory, groups.DefaultMemory)
	}

	row, err := g.Store.Group(ctx, ss[0].AgentGroupID)
	if err != nil {
		t.Fatal(err)
	}
	changed, chs, err := groups.Set(row, []groups.Assignment{{Key: "memory", Value: "256m"}, {Key: "model", Value: "next-model"}}, groups.Install{})
	if err != nil || len(chs) != 2 {
		t.Fatalf("set: %v %v", chs, err)
	}
	if err := g.Store.UpdateGroupConfig(ctx, row.ID, changed.Provider, changed.Model, changed.ContainerConfig); err != nil {
		t.Fatal(err)
	}

	// The running container is not touched: it answers the next message
	// with what it started with.
	handle(t, g, msg("second"))
	ch.waitSent(t, 2, 90*time.Second)
	now := running()
	if len(now) != 1 || now[0].ID != first[0].ID {
		t.Fatalf("after the change: running %+v, want the first container %s still", now, first[0].ID)
	}
	if hc := inspectHost(t, g, first[0].ID); hc.Memory != groups.DefaultMemory {
		t.Errorf("the running container's memory became %d", hc.Memory)
	}
	if m := f.request(1)["model"]; m != "test-model" {
		t.Errorf("the running container asked for model %v, want test-model", m)
	}

	if err := g.Manager.StopSession(ctx, sid); err != nil {
		t.Fatal(err)
	}
	waitUntilDocker(t, "the first container stops", func() bool { return len(running()) == 0 })
	handle(t, g, msg("third"))
	ch.waitSent(t, 3, 90*time.Second)
	next := running()
	if len(next) != 1 || next[0].ID == first[0].ID {
		t.Fatalf("after the stop: running %+v, want a new container", next)
	}
	if hc := inspectHost(t, g, next[0].ID); hc.Memory != 256<<20 {
		t.Errorf("the next container's memory %d, want %d", hc.Memory, 256<<20)
	}
	f.mu.Lock()
	n := len(f.requests)
	f.mu.Unlock()
	if m := f.request(n - 1)["model"]; m != "next-model" {
		t.Errorf("the next container asked for model %v, want next-model", m)
	}
}
