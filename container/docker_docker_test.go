package container_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/berthtest"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
)

// Two clients, as two berth processes would have, race to start the same
// session's container: the engine's name uniqueness leaves exactly one,
// and the loser adopts it.
func TestEnsureRaceYieldsOneContainer(t *testing.T) {
	d := berthtest.RequireDocker(t)
	berthtest.BuildImage(t, d)
	home := t.TempDir()
	spec := container.Spec{
		Name:   "berth-race-" + data.NewID(),
		Image:  berthtest.Image,
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
	// Stopping removes it (AutoRemove); Wait reports it gone.
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
