package gateway_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/berth-dev/berth/channels/channelstest"
	"github.com/berth-dev/berth/channels/terminal"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway"
)

// scrape reads http://addr/metrics.
func scrape(addr string) (string, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestMetricsEndpoint opens a gateway with a metrics address on port 0,
// has one message answered, scrapes berth's counters, and checks Close
// stops the endpoint.
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	var out channelstest.Buffer
	term := terminal.New(strings.NewReader("hello\n"), &out, &out, false, "operator")
	cfg := config(t.TempDir(), rt, term)
	cfg.MetricsAddr = "127.0.0.1:0"
	var observed string
	cfg.Observe = func(_ context.Context, _ session.Runtime, metricsAddr, _ string) (gateway.Observation, error) {
		observed = metricsAddr
		return gateway.Observation{}, nil
	}
	g, err := gateway.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	addr := g.MetricsAddr()
	if addr == "" || strings.HasSuffix(addr, ":0") || observed != addr {
		t.Fatalf("MetricsAddr() = %q, Observe told %q", addr, observed)
	}
	if err := g.WireTerminal(context.Background(), "main"); err != nil {
		t.Fatal(err)
	}
	if got := chat(t, g, term, &out); !strings.Contains(got, "echo: hello") {
		t.Fatalf("terminal shows %q, want the echo", got)
	}
	body, err := scrape(addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`berth_messages_in_total{channel="terminal"} 1`,
		`berth_messages_out_total{channel="terminal"} 1`,
		"berth_cold_starts_total 1",
		"berth_containers_running 1",
		"berth_round_trip_seconds_count",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%.3000s", want, body)
		}
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := scrape(addr); err == nil {
		t.Fatal("metrics endpoint still up after Close")
	}
	if g.MetricsAddr() != "" {
		t.Fatalf("MetricsAddr() = %q after Close", g.MetricsAddr())
	}
}

// TestNoMetricsEndpoint: without MetricsAddr there is neither endpoint
// nor metrics.
func TestNoMetricsEndpoint(t *testing.T) {
	t.Parallel()
	g, err := gateway.Open(context.Background(), config(t.TempDir(), newRuntime(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.Metrics() != nil || g.MetricsAddr() != "" {
		t.Fatalf("metrics %v at %q without MetricsAddr", g.Metrics(), g.MetricsAddr())
	}
}
