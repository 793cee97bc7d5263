package containertest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/container/containertest"
	"github.com/berth-dev/berth/mounts"
	"github.com/berth-dev/berth/session/sessiondb"
)

// spec is a container spec whose runner folders are under a temp dir.
func spec(t *testing.T, name, provider string) container.Spec {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	for _, d := range []string{in, out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return container.Spec{Name: name, Cmd: []string{"--in", "/workspace/in", "--out", "/workspace/out", "--provider", provider},
		Labels: map[string]string{container.LabelSession: name, container.LabelHome: dir},
		Mounts: []mounts.Mount{{Source: in, Target: "/workspace/in", ReadOnly: true}, {Source: out, Target: "/workspace/out"}}}
}

func TestLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tests := []struct {
		name     string
		end      func(rt *containertest.Runtime, id string) error
		wantCode int64
	}{
		{"stopped with grace", func(rt *containertest.Runtime, id string) error { return rt.Stop(ctx, id, time.Second) }, 0},
		{"stopped without grace", func(rt *containertest.Runtime, id string) error { return rt.Stop(ctx, id, 0) }, containertest.CodeKilled},
		{"killed", func(rt *containertest.Runtime, id string) error { return rt.Kill(ctx, id) }, containertest.CodeKilled},
		{"removed", func(rt *containertest.Runtime, id string) error { return rt.Remove(ctx, id) }, containertest.CodeKilled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := containertest.New(containertest.Options{})
			defer rt.Close()
			s := spec(t, "berth-main-s1", "echo")
			first, adopted, err := rt.Ensure(ctx, s)
			if err != nil || adopted || !first.Running() {
				t.Fatalf("Ensure = %+v, %v, %v; want a new running container", first, adopted, err)
			}
			again, adopted, err := rt.Ensure(ctx, s)
			if err != nil || !adopted || again.ID != first.ID {
				t.Fatalf("second Ensure = %+v, %v, %v; want %s adopted", again, adopted, err, first.ID)
			}
			if list, err := rt.List(ctx, map[string]string{container.LabelSession: "berth-main-s1"}); err != nil || len(list) != 1 {
				t.Fatalf("List = %+v, %v", list, err)
			}
			if list, _ := rt.List(ctx, map[string]string{container.LabelSession: "other"}); len(list) != 0 {
				t.Fatalf("List of another label = %+v", list)
			}
			// The runner is up once it has touched its heartbeat (a stop
			// before that fails its start, as it would in a container).
			for hb := filepath.Join(s.Mounts[1].Source, sessiondb.Heartbeat); ; time.Sleep(5 * time.Millisecond) {
				if _, err := os.Stat(hb); err == nil {
					break
				}
				if ctx.Err() != nil {
					t.Fatal("the runner never started")
				}
			}
			exits := make(chan container.Exit, 1)
			go func() {
				exit, err := rt.Wait(ctx, first.ID)
				if err != nil {
					t.Error(err)
				}
				exits <- exit
			}()
			for !rt.Waiting(first.ID) {
				if ctx.Err() != nil {
					t.Fatal("Wait never began")
				}
				time.Sleep(time.Millisecond)
			}
			if err := tt.end(rt, first.ID); err != nil {
				t.Fatal(err)
			}
			if exit := <-exits; exit.Code != tt.wantCode {
				t.Fatalf("exit code %d, want %d", exit.Code, tt.wantCode)
			}
			if n := rt.Live(); n != 0 {
				t.Fatalf("%d live after the end", n)
			}
			if list, _ := rt.List(ctx, nil); len(list) != 0 {
				t.Fatalf("still listed after Wait: %+v", list)
			}
			if exit, err := rt.Wait(ctx, first.ID); err != nil || exit.Code != -1 {
				t.Fatalf("Wait on a removed container = %+v, %v; want code -1", exit, err)
			}
			next, adopted, err := rt.Ensure(ctx, s)
			if err != nil || adopted || next.ID == first.ID {
				t.Fatalf("Ensure after the end = %+v, %v, %v; want a new container", next, adopted, err)
			}
			if rt.Started() != 2 || rt.Peak() != 1 {
				t.Fatalf("started %d, peak %d; want 2, 1", rt.Started(), rt.Peak())
			}
		})
	}
}

func TestEnsureRefuses(t *testing.T) {
	ctx := context.Background()
	rt := containertest.New(containertest.Options{})
	defer rt.Close()
	noMounts := spec(t, "berth-main-s2", "echo")
	noMounts.Mounts = nil
	tests := []struct {
		name string
		spec container.Spec
		is   error
	}{
		{"another provider", spec(t, "berth-main-s1", "anthropic"), containertest.ErrProvider},
		{"no session folders", noMounts, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := rt.Ensure(ctx, tt.spec)
			if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Fatalf("Ensure: %v, want an error (%v)", err, tt.is)
			}
			if rt.Live() != 0 {
				t.Fatal("a refused spec left a runner")
			}
		})
	}
}
