package gateway_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session/console"
	"github.com/berth-dev/berth/session/gateway"
)

// fetch GETs http://addr+path with header h, and returns the status and body.
func fetch(t *testing.T, addr, path string, h map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// switchChannel is a channel whose connection a test turns on and off.
type switchChannel struct{ up atomic.Bool }

func (c *switchChannel) Type() string                                      { return "fake" }
func (c *switchChannel) Run(ctx context.Context, _ channels.Handler) error { <-ctx.Done(); return nil }
func (c *switchChannel) Send(context.Context, channels.Outbound) (string, error) {
	return "", nil
}
func (c *switchChannel) Health() channels.Conn { return channels.Conn{Connected: c.up.Load()} }

// TestHTTPListener serves the probes, /metrics and the console on one
// loopback listener: /readyz is ready once the gateway runs and every
// channel is connected, not before.
func TestHTTPListener(t *testing.T) {
	t.Parallel()
	ch := &switchChannel{}
	cfg := config(t.TempDir(), newRuntime(t), ch)
	cfg.HTTPAddr = "127.0.0.1:0"
	g, err := gateway.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	addr := g.HTTPAddr()
	if addr == "" || g.MetricsAddr() != addr {
		t.Fatalf("HTTPAddr %q, MetricsAddr %q", addr, g.MetricsAddr())
	}
	if code, body := fetch(t, addr, "/readyz", nil); code != http.StatusServiceUnavailable || !strings.Contains(body, "starting") {
		t.Errorf("/readyz before Run: %d %q, want 503 starting", code, body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-g.Ready()
	if code, body := fetch(t, addr, "/readyz", nil); code != http.StatusServiceUnavailable || !strings.Contains(body, "fake connecting") {
		t.Errorf("/readyz with a channel down: %d %q, want 503 naming it", code, body)
	}
	ch.up.Store(true)
	tests := []struct {
		path string
		want int
		in   string
	}{
		{"/healthz", http.StatusOK, "ok"},
		{"/readyz", http.StatusOK, "ready"},
		{"/metrics", http.StatusOK, "berth_"},
		{"/", http.StatusOK, "Overview"}, // loopback and no token: open to this host
		{"/groups", http.StatusOK, "Groups"},
	}
	for _, tt := range tests {
		if code, body := fetch(t, addr, tt.path, nil); code != tt.want || !strings.Contains(body, tt.in) {
			t.Errorf("%s: %d %.200q, want %d with %q", tt.path, code, body, tt.want, tt.in)
		}
	}
}

// TestHTTPListenerNeedsATokenOffLoopback: an address other hosts reach is
// refused while the install has no console token; with one, the console
// wants it and the probes and metrics do not.
func TestHTTPListenerNeedsATokenOffLoopback(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	cfg := config(home, newRuntime(t))
	cfg.HTTPAddr = "0.0.0.0:0"
	if g, err := gateway.Open(context.Background(), cfg); err == nil {
		_ = g.Close()
		t.Fatal("opened a console on every address without a token")
	} else if !strings.Contains(err.Error(), "berth console token") {
		t.Errorf("refusal %q does not say how to make a token", err)
	}
	tok, err := console.NewToken(paths.Home(home))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	addr := strings.Replace(g.HTTPAddr(), "0.0.0.0", "127.0.0.1", 1)
	addr = strings.Replace(addr, "[::]", "127.0.0.1", 1)
	for _, tt := range []struct {
		path string
		h    map[string]string
		want int
	}{
		{"/", nil, http.StatusUnauthorized},
		{"/", map[string]string{"Authorization": "Bearer " + tok}, http.StatusOK},
		{"/healthz", nil, http.StatusOK},
		{"/metrics", nil, http.StatusOK},
	} {
		if code, _ := fetch(t, addr, tt.path, tt.h); code != tt.want {
			t.Errorf("%s (%v): %d, want %d", tt.path, tt.h, code, tt.want)
		}
	}
}

// TestMetricsAddrIsAnAlias: --metrics-addr alone is the listener, console
// included; set with a different --http-addr it is refused.
func TestMetricsAddrIsAnAlias(t *testing.T) {
	t.Parallel()
	cfg := config(t.TempDir(), newRuntime(t))
	cfg.MetricsAddr = "127.0.0.1:0"
	g, err := gateway.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := fetch(t, g.HTTPAddr(), "/", nil); code != http.StatusOK || !strings.Contains(body, "Overview") {
		t.Errorf("console on the metrics address: %d", code)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	cfg = config(t.TempDir(), newRuntime(t))
	cfg.MetricsAddr, cfg.HTTPAddr = "127.0.0.1:9464", "127.0.0.1:7777"
	if g, err := gateway.Open(context.Background(), cfg); err == nil {
		_ = g.Close()
		t.Fatal("two addresses for one listener were accepted")
	}
}
