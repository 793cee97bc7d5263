package runnerbuild_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/container/runnerbuild"
	"github.com/berth-dev/berth/data/paths"
)

// fakeEngine is a TEST-ONLY build engine: every build fails to compile,
// with its group's name in the output, and a group's builds wait on its
// gate when it has one.
type fakeEngine struct {
	mu    sync.Mutex     // guards runs
	runs  map[string]int // builds run, by group
	gates map[string]chan struct{}
	began chan string // told each build's group as it starts
}

var _ runnerbuild.Engine = (*fakeEngine)(nil)

func (f *fakeEngine) BuildBoxImage(context.Context, string, container.BoxImage) error { return nil }

func (f *fakeEngine) RunBox(ctx context.Context, box container.Box, out io.Writer) (int64, error) {
	group := box.Labels[container.LabelGroup]
	f.mu.Lock()
	f.runs[group]++
	f.mu.Unlock()
	f.began <- group
	if gate := f.gates[group]; gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return -1, ctx.Err()
		}
	}
	fmt.Fprintf(out, "./echo.go:1:1: %s does not compile\n", group)
	return 1, nil
}

func (f *fakeEngine) count(group string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runs[group]
}

// TestChooseBuildsOncePerSource: wakes of one group's changed source
// share one build, which holds no other group's wake; a failure is told
// once, and a known failure is not built again.
func TestChooseBuildsOncePerSource(t *testing.T) {
	if _, err := runnerbuild.FindEnv(context.Background(), ""); errors.Is(err, runnerbuild.ErrNoToolchain) {
		t.Skipf("this host cannot build a runner source: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	home := paths.Home(t.TempDir())
	for _, g := range []string{"slow", "quick"} {
		dir := filepath.Join(home.Groups(), g, "runner-src")
		writeStock(t, dir)
		appendTo(t, filepath.Join(dir, "echo.go"), "\n// "+g+"\n")
	}
	gate := make(chan struct{})
	eng := &fakeEngine{runs: map[string]int{}, gates: map[string]chan struct{}{"slow": gate}, began: make(chan string, 10)}
	b := runnerbuild.New(runnerbuild.Config{Home: home, Groups: home.Groups(), Engine: eng, UID: -1})
	defer b.Close()
	ctx := context.Background()

	const waiters = 3
	choices := make(chan runnerbuild.Choice, waiters)
	for range waiters {
		go func() { choices <- b.Choose(ctx, "slow") }()
	}
	if g := <-eng.began; g != "slow" {
		t.Fatalf("first build was %s's", g)
	}
	// slow's build is under way, and holds no one else.
	if c := b.Choose(ctx, "quick"); c.State != runnerbuild.StateFailed || !c.Tell || !strings.Contains(c.Problem, "quick does not compile") {
		t.Fatalf("quick's choice while slow builds: %+v", c)
	}
	close(gate)
	told := 0
	for range waiters {
		select {
		case c := <-choices:
			if c.State != runnerbuild.StateFailed || c.Bin != "" || !strings.Contains(c.Problem, "slow does not compile") {
				t.Fatalf("slow's choice: %+v", c)
			}
			if c.Tell {
				told++
			}
		case <-time.After(2 * time.Minute):
			t.Fatal("a wake of slow's source never returned")
		}
	}
	if n := eng.count("slow"); n != 1 || told != 1 {
		t.Fatalf("slow: %d builds for %d wakes, told %d times; want 1 and 1", n, waiters, told)
	}
	if c := b.Choose(ctx, "slow"); c.State != runnerbuild.StateFailed || c.Tell || eng.count("slow") != 1 {
		t.Fatalf("a known failure was built or told again: %+v, %d builds", c, eng.count("slow"))
	}
	st, ok, err := runnerbuild.ReadStatus(home, "slow")
	if err != nil || !ok || st.State != runnerbuild.StateFailed || !strings.Contains(st.Problem, "slow does not compile") {
		t.Fatalf("recorded status: %+v, %v, %v", st, ok, err)
	}
	// A restart (a new Builder) does not tell it again either.
	again := runnerbuild.New(runnerbuild.Config{Home: home, Groups: home.Groups(), Engine: eng, UID: -1})
	defer again.Close()
	if c := again.Choose(ctx, "slow"); c.State != runnerbuild.StateFailed || c.Tell || eng.count("slow") != 1 {
		t.Fatalf("after a restart: %+v, %d builds", c, eng.count("slow"))
	}
}
