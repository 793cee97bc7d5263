package metrics_test

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
	"github.com/berth-dev/berth/session/metrics"
)

// roomChannel is a TEST-ONLY channel that records what it was asked to send.
type roomChannel struct {
	mu   sync.Mutex
	sent int
}

func (c *roomChannel) Type() string { return "room" }

func (c *roomChannel) Run(ctx context.Context, h channels.Handler) error {
	<-ctx.Done()
	return nil
}

func (c *roomChannel) Send(ctx context.Context, out channels.Outbound) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent++
	return "p1", nil
}

// TestRoundTripMovesCounters sends one message through a real gateway and
// container and reads the counters, directly and from /metrics.
func TestRoundTripMovesCounters(t *testing.T) {
	m := metrics.New()
	g := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{&roomChannel{}},
		Config: func(c *session.Config) { c.Observer = m }})
	g.Wire("room", "r1", gatewaytest.Wire{})
	if err := g.Manager.Handle(context.Background(), channels.Inbound{ChannelType: "room", PlatformID: "r1", MessageID: "m1",
		Sender: channels.User{ID: "u1"}, Text: "hello", IsDM: true, Mentioned: true, Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	g.WaitIdle(60 * time.Second)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, name := range []string{"berth_messages_in_total", "berth_messages_out_total", "berth_wakes_total", "berth_cold_starts_total"} {
		n, err := testutil.GatherAndCount(m.Registry(), name)
		if err != nil || n == 0 {
			t.Errorf("%s: %d series, %v", name, n, err)
		}
	}
	for _, want := range []string{
		`berth_messages_in_total{channel="room"} 1`,
		`berth_messages_out_total{channel="room"} 1`,
		`berth_round_trip_seconds_count{channel="room"} 1`,
		`berth_cold_starts_total 1`,
		`berth_containers_running 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
