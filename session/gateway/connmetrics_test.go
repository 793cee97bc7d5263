package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/berth-dev/berth/channels"
)

// healthChannel is a channel that only reports a connection.
type healthChannel struct {
	typ  string
	conn channels.Conn
}

var _ channels.Health = (*healthChannel)(nil)

func (h *healthChannel) Type() string                                            { return h.typ }
func (h *healthChannel) Run(context.Context, channels.Handler) error             { return nil }
func (h *healthChannel) Send(context.Context, channels.Outbound) (string, error) { return "", nil }
func (h *healthChannel) Health() channels.Conn                                   { return h.conn }

// TestConnCollectorCountsDeafReconnects: the deaf-reconnect counter is the
// adapter's own count at scrape time, per channel; a channel without
// Health is left out.
func TestConnCollectorCountsDeafReconnects(t *testing.T) {
	slack := &healthChannel{typ: "slack", conn: channels.Conn{Connected: true, LastEvent: time.Now(), DeafReconnects: 2}}
	discord := &healthChannel{typ: "discord", conn: channels.Conn{Connected: true}}
	reg := prometheus.NewRegistry()
	if err := reg.Register(newConnCollector([]channels.Channel{slack, discord})); err != nil {
		t.Fatal(err)
	}
	want := `# HELP berth_deaf_reconnects_total Connections a channel's watchdog found up but deaf (no events while the platform had new messages) and replaced, by channel.
# TYPE berth_deaf_reconnects_total counter
berth_deaf_reconnects_total{channel="discord"} 0
berth_deaf_reconnects_total{channel="slack"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "berth_deaf_reconnects_total"); err != nil {
		t.Fatal(err)
	}
	slack.conn.DeafReconnects = 3 // read at scrape time
	if err := testutil.GatherAndCompare(reg, strings.NewReader(strings.Replace(want, `"slack"} 2`, `"slack"} 3`, 1)), "berth_deaf_reconnects_total"); err != nil {
		t.Fatal(err)
	}
	// Only a channel that had an event has an age.
	if n, err := testutil.GatherAndCount(reg, "berth_channel_last_event_age_seconds"); err != nil || n != 1 {
		t.Fatalf("last event age series = %d, %v; want 1 (slack)", n, err)
	}
}
