package session_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

func start(t *testing.T, cfg func(*session.Config)) (*gatewaytest.Gateway, *fakeChannel) {
	t.Helper()
	ch := newFakeChannel()
	g := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{ch}, Config: cfg})
	g.Wire("fake", "room", gatewaytest.Wire{IsDM: true})
	return g, ch
}

func handle(t *testing.T, g *gatewaytest.Gateway, in channels.Inbound) {
	t.Helper()
	if err := g.Manager.Handle(context.Background(), in); err != nil {
		t.Fatalf("handle %q: %v", in.Text, err)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	g, ch := start(t, nil)
	handle(t, g, msg("hello"))
	got := ch.waitSent(t, 1, 60*time.Second)
	if got[0].Text != "echo: hello" || got[0].PlatformID != "room" {
		t.Fatalf("reply = %+v", got[0])
	}
	ss := g.Sessions()
	if len(ss) != 1 {
		t.Fatalf("%d sessions", len(ss))
	}
	if n := len(g.Containers(ss[0].ID)); n != 1 {
		t.Fatalf("%d containers for the session", n)
	}
}

func TestConcurrentMessagesOneContainerInOrder(t *testing.T) {
	t.Parallel()
	g, ch := start(t, nil)
	const n = 50
	msgs := make([]channels.Inbound, n)
	for i := range msgs {
		msgs[i] = msg(fmt.Sprintf("m%02d", i))
	}
	// Sample the engine by label throughout: never two containers.
	stop := make(chan struct{})
	maxSeen := make(chan int, 1)
	go func() {
		m := 0
		for {
			select {
			case <-stop:
				maxSeen <- m
				return
			default:
			}
			if c := len(g.Containers("")); c > m {
				m = c
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	// The order berth accepts them in is the order they must come back in;
	// a mutex makes that order observable while the calls still race.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var accepted []string
	for _, in := range msgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			handle(t, g, in)
			accepted = append(accepted, in.Text)
		}()
	}
	wg.Wait()
	got := ch.waitSent(t, n, 90*time.Second)
	close(stop)
	if m := <-maxSeen; m != 1 {
		t.Errorf("saw %d containers at once, want 1", m)
	}
	for i, out := range got {
		if want := "echo: " + accepted[i]; out.Text != want {
			t.Fatalf("reply %d = %q, want %q", i, out.Text, want)
		}
	}
	if len(g.Sessions()) != 1 {
		t.Fatalf("%d sessions", len(g.Sessions()))
	}
}

func TestIdleStopThenWakeKeepsState(t *testing.T) {
	t.Parallel()
	g, ch := start(t, func(c *session.Config) { c.IdleTimeout = 1500 * time.Millisecond; c.Poll = 200 * time.Millisecond })
	handle(t, g, msg("count"))
	ch.waitSent(t, 1, 60*time.Second)
	sid := g.Sessions()[0].ID
	first := g.Containers(sid)
	if len(first) != 1 {
		t.Fatalf("%d containers", len(first))
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(g.Containers(sid)) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("container still there long after the idle timeout")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := g.Sessions()[0]; s.ContainerState != "stopped" {
		t.Fatalf("container_state = %q after idle stop", s.ContainerState)
	}
	handle(t, g, msg("count"))
	got := ch.waitSent(t, 2, 60*time.Second)
	if got[1].Text != "echo: turn 2" {
		t.Fatalf("second reply = %q: the new container lost the session's state", got[1].Text)
	}
	second := g.Containers(sid)
	if len(second) != 1 || second[0].ID == first[0].ID {
		t.Fatalf("expected a new container, got %+v", second)
	}
}

func TestRunnerKilledIsRetriedThenReported(t *testing.T) {
	t.Parallel()
	g, ch := start(t, func(c *session.Config) { c.MaxTries = 3; c.RetryBase = 20 * time.Millisecond })
	handle(t, g, msg("crash"))
	got := ch.waitSent(t, 1, 120*time.Second)
	if !strings.Contains(got[0].Text, "could not answer") || !strings.Contains(got[0].Text, "exited") {
		t.Fatalf("failure reply = %q", got[0].Text)
	}
	// The session still works afterwards.
	handle(t, g, msg("after"))
	got = ch.waitSent(t, 2, 60*time.Second)
	if got[1].Text != "echo: after" {
		t.Fatalf("reply after failure = %q", got[1].Text)
	}
}

func TestProviderFailureIsReported(t *testing.T) {
	t.Parallel()
	g, ch := start(t, nil)
	handle(t, g, msg("fail"))
	got := ch.waitSent(t, 1, 60*time.Second)
	if !strings.Contains(got[0].Text, "failing as asked") {
		t.Fatalf("failure reply = %q", got[0].Text)
	}
}

func TestSpawnChangesNothingTheAgentWrote(t *testing.T) {
	t.Parallel()
	g, ch := start(t, nil)
	dir := g.Layout.Dir("main")
	mem := filepath.Join(dir, groups.MemoryFile)
	if err := os.WriteFile(mem, []byte("what the agent remembered"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, groups.RunnerSrc, "runner.go"), []byte("// the agent's own edit"), 0o644)
	handle(t, g, msg("hi"))
	ch.waitSent(t, 1, 60*time.Second)
	g.Layout.Init("main", "main")
	if b, _ := os.ReadFile(mem); string(b) != "what the agent remembered" {
		t.Fatalf("memory after spawn and Init = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, groups.RunnerSrc, "runner.go")); string(b) != "// the agent's own edit" {
		t.Fatalf("runner-src after spawn and Init = %q", b)
	}
}

func TestBadInputKeepsBerthRunning(t *testing.T) {
	t.Parallel()
	g, ch := start(t, nil)
	cases := []struct {
		name, text, want string
	}{
		{"empty", "", "message is empty"},
		{"huge", strings.Repeat("x", 1<<20), "too long"},
		{"control", "\x01\x02\x1b\x7f", "message is empty"},
		{"invalid utf-8", "ok \xff\xfe", "echo: ok \uFFFD"},
	}
	for i, c := range cases {
		handle(t, g, msg(c.text))
		got := ch.waitSent(t, i+1, 60*time.Second)
		if !strings.Contains(got[i].Text, c.want) {
			t.Errorf("%s: reply %q, want it to contain %q", c.name, got[i].Text, c.want)
		}
	}
	handle(t, g, msg("still here"))
	if got := ch.waitSent(t, len(cases)+1, 60*time.Second); got[len(cases)].Text != "echo: still here" {
		t.Fatalf("after bad input: %q", got[len(cases)].Text)
	}
}

func TestRedeliveredMessageAnsweredOnce(t *testing.T) {
	t.Parallel()
	g, ch := start(t, nil)
	in := msg("once")
	handle(t, g, in)
	handle(t, g, in)
	ch.waitSent(t, 1, 60*time.Second)
	g.WaitIdle(30 * time.Second)
	if n := len(ch.Sent()); n != 1 {
		t.Fatalf("%d replies to one message delivered twice", n)
	}
}
