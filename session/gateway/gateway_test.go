package gateway_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/channelstest"
	"github.com/berth-dev/berth/channels/terminal"
	"github.com/berth-dev/berth/container/containertest"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway"
)

// config is a gateway on rt (TEST-ONLY, in-process: no Docker) at home.
func config(home string, rt *containertest.Runtime, chans ...channels.Channel) gateway.Config {
	return gateway.Config{Home: paths.Home(home), Runtime: rt, Channels: chans, Session: func(c *session.Config) {
		c.Poll, c.RetryBase, c.SendBase, c.StopGrace = 50*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond, time.Second
		c.IdleTimeout = time.Hour // only Close stops a container here
	}}
}

func newRuntime(t *testing.T) *containertest.Runtime {
	rt := containertest.New(containertest.Options{})
	t.Cleanup(rt.Close)
	return rt
}

// chat runs lines through a terminal channel as `berth chat` does, on an
// open gateway, and returns what the terminal printed.
func chat(t *testing.T, g *gateway.Gateway, term *terminal.Channel, out *channelstest.Buffer) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := g.Serve(ctx, func(ctx context.Context) error {
		if err := term.Run(ctx, g.Manager().Handle); err != nil {
			return err
		}
		return g.Manager().WaitIdle(ctx)
	})
	if err != nil {
		t.Fatalf("serve: %v", err)
	}
	return out.String()
}

// TestChatRoundTrip assembles a gateway, wires the terminal to a new group
// and has one message answered, then Close stops the container.
func TestChatRoundTrip(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	var out channelstest.Buffer
	term := terminal.New(strings.NewReader("hello\n"), &out, &out, false, "operator")
	g, err := gateway.Open(context.Background(), config(t.TempDir(), rt, term))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.WireTerminal(context.Background(), "main"); err != nil {
		t.Fatal(err)
	}
	if got := chat(t, g, term, &out); !strings.Contains(got, "echo: hello") {
		t.Fatalf("terminal shows %q, want the echo", got)
	}
	if rt.Live() != 1 {
		t.Fatalf("%d containers live before Close, want 1", rt.Live())
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if rt.Live() != 0 {
		t.Fatalf("%d containers live after Close, want 0", rt.Live())
	}
	if err := g.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestOneGatewayPerHome: the lock refuses a second gateway on a home
// until the first closes (or detaches, as a crash would).
func TestOneGatewayPerHome(t *testing.T) {
	t.Parallel()
	for _, release := range []string{"close", "detach"} {
		t.Run(release, func(t *testing.T) {
			t.Parallel()
			home, rt := t.TempDir(), newRuntime(t)
			first, err := gateway.Open(context.Background(), config(home, rt))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := gateway.Open(context.Background(), config(home, rt)); err == nil || !strings.Contains(err.Error(), "already running") {
				t.Fatalf("second gateway on one home: %v", err)
			}
			if release == "close" {
				err = first.Close()
			} else {
				err = first.Detach()
			}
			if err != nil {
				t.Fatal(err)
			}
			again, err := gateway.Open(context.Background(), config(home, rt))
			if err != nil {
				t.Fatalf("after %s: %v", release, err)
			}
			if err := again.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDetachLeavesContainersToAdopt: a detached gateway's container keeps
// running; the next gateway on the home adopts it and Close stops it.
func TestDetachLeavesContainersToAdopt(t *testing.T) {
	t.Parallel()
	home, rt := t.TempDir(), newRuntime(t)
	var out channelstest.Buffer
	term := terminal.New(strings.NewReader("one\n"), &out, &out, false, "operator")
	g, err := gateway.Open(context.Background(), config(home, rt, term))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.WireTerminal(context.Background(), "main"); err != nil {
		t.Fatal(err)
	}
	chat(t, g, term, &out)
	if err := g.Detach(); err != nil {
		t.Fatal(err)
	}
	if rt.Live() != 1 || rt.Started() != 1 {
		t.Fatalf("after Detach: %d live, %d started; want 1, 1", rt.Live(), rt.Started())
	}
	out = channelstest.Buffer{}
	term = terminal.New(strings.NewReader("two\n"), &out, &out, false, "operator")
	g, err = gateway.Open(context.Background(), config(home, rt, term))
	if err != nil {
		t.Fatal(err)
	}
	if got := chat(t, g, term, &out); !strings.Contains(got, "echo: two") {
		t.Fatalf("terminal shows %q after the restart", got)
	}
	if rt.Started() != 1 {
		t.Fatalf("%d containers started, want the first adopted", rt.Started())
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if rt.Live() != 0 {
		t.Fatalf("%d containers live after Close", rt.Live())
	}
}

// TestRunBackfills: Run catches a channel up on its wired conversations
// unless NoBackfill is set.
func TestRunBackfills(t *testing.T) {
	t.Parallel()
	for _, noBackfill := range []bool{false, true} {
		t.Run(map[bool]string{false: "backfill", true: "no-backfill"}[noBackfill], func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			ch := &historyChannel{asked: make(chan string, 1)}
			cfg := config(home, newRuntime(t), ch)
			cfg.NoBackfill = noBackfill
			g, err := gateway.Open(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := g.Close(); err != nil {
					t.Error(err)
				}
			}()
			wire(t, g.Store(), ch.Type(), "room")
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- g.Run(ctx) }()
			<-g.Ready()
			select {
			case <-ch.asked:
				if noBackfill {
					t.Error("backfilled with NoBackfill")
				}
			case <-time.After(500 * time.Millisecond):
				if !noBackfill {
					t.Error("no backfill")
				}
			}
			if !ch.ran() {
				t.Error("Run did not run the channel")
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("run: %v", err)
			}
		})
	}
}

func wire(t *testing.T, store *data.Store, channelType, platformID string) {
	t.Helper()
	ctx := context.Background()
	ag := data.AgentGroup{Name: "main", Folder: "main"}
	if err := store.CreateGroup(ctx, &ag); err != nil {
		t.Fatal(err)
	}
	mg, err := store.EnsureMessagingGroup(ctx, channelType, platformID, platformID, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Wire(ctx, &data.Wiring{MessagingGroupID: mg.ID, AgentGroupID: ag.ID, Engage: data.EngagePattern, Pattern: ".",
		SessionMode: data.SessionShared}); err != nil {
		t.Fatal(err)
	}
}

// historyChannel is a channel with history: it reports each backfill.
type historyChannel struct {
	asked chan string

	mu      sync.Mutex // guards running
	running bool
}

var (
	_ channels.Channel    = (*historyChannel)(nil)
	_ channels.Backfiller = (*historyChannel)(nil)
)

func (h *historyChannel) Type() string { return "fake" }

func (h *historyChannel) Run(ctx context.Context, _ channels.Handler) error {
	h.mu.Lock()
	h.running = true
	h.mu.Unlock()
	<-ctx.Done()
	return nil
}

func (h *historyChannel) ran() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.running
}

func (h *historyChannel) Send(context.Context, channels.Outbound) (string, error) { return "", nil }

func (h *historyChannel) Missed(_ context.Context, platformID, _ string, _ time.Time) ([]channels.Inbound, error) {
	h.asked <- platformID
	return nil, nil
}
