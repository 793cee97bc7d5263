package session_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/container/containertest"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
	"github.com/berth-dev/berth/session/sessiondb"
)

// The tests in *_inproc_test.go run the session core through the TEST-ONLY
// in-process runtime: the real runner and echo provider against the
// session folders, no Docker. They take seconds and run under -short.

// inProcTimeout bounds every wait of an in-process test: far above what
// any takes, so a slow machine does not fail them, and far below a hang.
const inProcTimeout = 20 * time.Second

// newRuntime returns an in-process runtime that is closed when the test ends
// (after the gateways started later, which stop first).
func newRuntime(t *testing.T) *containertest.Runtime {
	t.Helper()
	rt := containertest.New(containertest.Options{})
	t.Cleanup(rt.Close)
	return rt
}

// fast shortens every wait of the core, then applies more.
func fast(more func(*session.Config)) func(*session.Config) {
	return func(c *session.Config) {
		c.Poll = 50 * time.Millisecond
		c.RetryBase = 10 * time.Millisecond
		c.SendBase = 10 * time.Millisecond
		c.StopGrace = time.Second
		if more != nil {
			more(c)
		}
	}
}

// startInProc starts a gateway on rt with ch, on home ("": a new one).
func startInProc(t *testing.T, rt *containertest.Runtime, ch channels.Channel, home string, cfg func(*session.Config)) *gatewaytest.Gateway {
	t.Helper()
	return gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{ch}, Runtime: rt, Home: home, Config: fast(cfg)})
}

// startRoom is start (one DM conversation, "room") on an in-process runtime.
func startRoom(t *testing.T, cfg func(*session.Config)) (*gatewaytest.Gateway, *fakeChannel, *containertest.Runtime) {
	t.Helper()
	rt := newRuntime(t)
	ch := newFakeChannel()
	g := startInProc(t, rt, ch, "", cfg)
	g.Wire("fake", "room", gatewaytest.Wire{IsDM: true})
	return g, ch, rt
}

// waitUntil polls cond until it holds, failing the test after inProcTimeout.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(inProcTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", inProcTimeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// onlySession returns the gateway's one session.
func onlySession(t *testing.T, g *gatewaytest.Gateway) data.Session {
	t.Helper()
	ss := g.Sessions()
	if len(ss) != 1 {
		t.Fatalf("%d sessions, want 1", len(ss))
	}
	return ss[0]
}

// waitClaimed waits until the runner has claimed (acked as processing) a
// message of the session: it is mid-turn.
func waitClaimed(t *testing.T, g *gatewaytest.Gateway, s data.Session) {
	t.Helper()
	db := sessiondb.Host{Dir: g.SessionDir(s)}
	waitUntil(t, "no message claimed", func() bool {
		acks, err := db.Acks(context.Background())
		if err != nil {
			return false
		}
		for _, a := range acks {
			if a.Status == sessiondb.StatusProcessing {
				return true
			}
		}
		return false
	})
}

// texts counts the replies by text.
func texts(out []channels.Outbound) map[string]int {
	n := map[string]int{}
	for _, o := range out {
		n[o.Text]++
	}
	return n
}

// platform is a TEST-ONLY channel standing for a platform that outlives
// berth: it keeps what it was sent across gateways and, as confirming,
// can say whether a reply arrived. hang makes the send of one text arrive
// and then never return to berth, until berth gives up (dies).
type platform struct {
	mu      sync.Mutex // guards sent and hang
	sent    []channels.Outbound
	hang    string
	arrived chan struct{} // closed when the hung send has arrived
}

func newPlatform(hang string) *platform { return &platform{hang: hang, arrived: make(chan struct{})} }

func (p *platform) Type() string { return "fake" }

func (p *platform) Run(ctx context.Context, h channels.Handler) error {
	<-ctx.Done()
	return nil
}

func (p *platform) Send(ctx context.Context, out channels.Outbound) (string, error) {
	p.mu.Lock()
	p.sent = append(p.sent, out)
	id := "p" + strconv.Itoa(len(p.sent))
	hang := p.hang != "" && out.Text == p.hang
	if hang {
		p.hang = ""
	}
	p.mu.Unlock()
	if hang {
		close(p.arrived)
		<-ctx.Done()
		return "", ctx.Err()
	}
	return id, nil
}

func (p *platform) Sent() []channels.Outbound {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.sent)
}

// confirming is a platform berth can ask whether a reply arrived.
type confirming struct{ *platform }

var _ channels.Confirmer = confirming{}

// Confirm implements channels.Confirmer: a reply arrived if one with its
// key was sent.
func (c confirming) Confirm(ctx context.Context, out channels.Outbound) (string, bool, error) {
	for i, s := range c.Sent() {
		if out.Key != "" && s.Key == out.Key {
			return "p" + strconv.Itoa(i+1), true, nil
		}
	}
	return "", false, nil
}
