package container_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// Two clients, as two berth processes would have, race to start the same
// session's container: the engine's name uniqueness leaves exactly one,
// and the loser adopts it.
func TestEnsureRaceYieldsOneContainer(t *testing.T) {
	d := gatewaytest.RequireDocker(t)
	gatewaytest.BuildImage(t, d)
	home := t.TempDir()
	spec := container.Spec{
		Name:   "berth-race-" + data.NewID(),
		Image:  gatewaytest.Image,
		Cmd:    []string{"--in", "/tmp", "--out", "/tmp"},
		Labels: map[string]string{container.LabelHome: home, container.LabelSession: "s1"},
		Memory: 64 << 20, Pids: 32,
	}
	ctx := context.Background()
	t.Cleanup(func() {
		list, _ := d.List(ctx, map[string]string{container.LabelHome: home})
		for _, c := range list {
			d.Remove(ctx, c.ID)
		}
	})
	const racers = 6
	ids := make([]string, racers)
	adopted := make([]bool, racers)
	var wg sync.WaitGroup
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			other, err := container.NewDocker("")
			if err != nil {
				t.Error(err)
				return
			}
			defer other.Close()
			info, a, err := other.Ensure(ctx, spec)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i], adopted[i] = info.ID, a
		}()
	}
	wg.Wait()
	fresh := 0
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("racers got different containers: %v", ids)
		}
		if !adopted[i] {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("%d racers created the container, want exactly 1", fresh)
	}
	list, _ := d.List(ctx, map[string]string{container.LabelHome: home})
	if len(list) != 1 || !list[0].Running() {
		t.Fatalf("engine has %+v", list)
	}
	// Stopping removes it; Wait reports it gone.
	if err := d.Stop(ctx, ids[0], time.Second); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	d.Wait(wctx, ids[0])
	if list, _ := d.List(ctx, map[string]string{container.LabelHome: home}); len(list) != 0 {
		t.Fatalf("container left after stop: %+v", list)
	}
}

// Every agent container gets the same box, whatever its spec leaves out:
// no network, a pids limit, a nofile limit, a capped log, no capabilities,
// no new privileges; it stays until Wait has read how it ended.
func TestContainerHardening(t *testing.T) {
	d := gatewaytest.RequireDocker(t)
	gatewaytest.BuildImage(t, d)
	home := t.TempDir()
	spec := container.Spec{
		Name:   "berth-hardening-" + data.NewID(),
		Image:  gatewaytest.Image,
		Cmd:    []string{"--in", "/tmp", "--out", "/tmp"},
		Labels: map[string]string{container.LabelHome: home, container.LabelSession: "s1"},
	}
	ctx := context.Background()
	t.Cleanup(func() {
		list, _ := d.List(ctx, map[string]string{container.LabelHome: home})
		for _, c := range list {
			d.Remove(ctx, c.ID)
		}
	})
	info, _, err := d.Ensure(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := d.InspectRaw(ctx, info.ID)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		HostConfig struct {
			NetworkMode string
			PidsLimit   int64
			AutoRemove  bool
			CapDrop     []string
			SecurityOpt []string
			Ulimits     []struct {
				Name       string
				Soft, Hard int64
			}
			LogConfig struct {
				Type   string
				Config map[string]string
			}
		}
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	hc := c.HostConfig
	if hc.NetworkMode != "none" || hc.PidsLimit != container.DefaultPids || hc.AutoRemove ||
		!slices.Contains(hc.CapDrop, "ALL") || !slices.Contains(hc.SecurityOpt, "no-new-privileges") {
		t.Errorf("host config = %+v", hc)
	}
	if len(hc.Ulimits) != 1 || hc.Ulimits[0].Name != "nofile" || hc.Ulimits[0].Soft != container.NoFile || hc.Ulimits[0].Hard != container.NoFile {
		t.Errorf("ulimits = %+v", hc.Ulimits)
	}
	if hc.LogConfig.Type != "json-file" || hc.LogConfig.Config["max-size"] != container.LogMaxSize || hc.LogConfig.Config["max-file"] != container.LogMaxFiles {
		t.Errorf("log config = %+v", hc.LogConfig)
	}
	// Wait reads the exit, then removes the container.
	go d.Stop(ctx, info.ID, 0)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	exit, err := d.Wait(wctx, info.ID)
	if err != nil || exit.OOMKilled {
		t.Fatalf("exit = %+v, %v", exit, err)
	}
	if list, _ := d.List(ctx, map[string]string{container.LabelHome: home}); len(list) != 0 {
		t.Fatalf("container left after Wait: %+v", list)
	}
}
