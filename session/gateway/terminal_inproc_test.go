package gateway_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels/channelstest"
	"github.com/berth-dev/berth/channels/terminal"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session/gateway"
)

// TestWarmTerminal checks `berth chat`'s start: the terminal session's
// container runs before the first message, a new session says so once
// on Progress, the first message is answered by that container, and a
// later start on the same home is quiet.
func TestWarmTerminal(t *testing.T) {
	t.Parallel()
	home, rt := t.TempDir(), newRuntime(t)
	for i, wantProgress := range []string{"berth: starting the agent's container…\n", ""} {
		var out, progress channelstest.Buffer
		in, typing := io.Pipe()
		term := terminal.New(in, &out, &out, false, "operator")
		cfg := config(home, rt, term)
		cfg.Progress = &progress
		g, err := gateway.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := g.WireTerminal(ctx, "main"); err != nil {
			t.Fatal(err)
		}
		err = g.Serve(ctx, func(ctx context.Context) error {
			if err := g.WarmTerminal(ctx, "main"); err != nil {
				return err
			}
			if rt.Live() != 1 || rt.Started() != i+1 {
				t.Errorf("start %d: after WarmTerminal %d live, %d started; want 1, %d", i, rt.Live(), rt.Started(), i+1)
			}
			if got := progress.String(); got != wantProgress {
				t.Errorf("start %d: progress = %q, want %q", i, got, wantProgress)
			}
			go func() {
				_, _ = io.WriteString(typing, "hello\n")
				_ = typing.Close()
			}()
			if err := term.Run(ctx, g.Manager().Handle); err != nil {
				return err
			}
			return g.Manager().WaitIdle(ctx)
		})
		cancel()
		if err != nil {
			t.Fatalf("start %d: serve: %v", i, err)
		}
		if got := out.String(); got != "echo: hello\n" {
			t.Errorf("start %d: terminal shows %q", i, got)
		}
		if rt.Started() != i+1 {
			t.Errorf("start %d: %d containers started, want the warm one to answer", i, rt.Started())
		}
		ss, err := g.Store().Sessions(context.Background(), data.SessionFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) != 1 {
			t.Errorf("start %d: %d sessions, want the warmed one only", i, len(ss))
		}
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWarmTerminalUnwired: warming a conversation that is not wired to
// the group is refused, not a session made up.
func TestWarmTerminalUnwired(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	g, err := gateway.Open(context.Background(), config(t.TempDir(), rt))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx := context.Background()
	if err := g.WireTerminal(ctx, "main"); err != nil {
		t.Fatal(err)
	}
	other := data.AgentGroup{Name: "other", Folder: "other"}
	if err := g.Store().CreateGroup(ctx, &other); err != nil {
		t.Fatal(err)
	}
	err = g.WarmTerminal(ctx, "other")
	if err == nil || !strings.Contains(err.Error(), "not wired to group other") {
		t.Fatalf("WarmTerminal(other) = %v, want refused", err)
	}
	if rt.Started() != 0 {
		t.Errorf("%d containers started", rt.Started())
	}
}
