package gateway_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
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

// TestMetricsAddr: --metrics-addr alone is the listener, console
// included, unless other hosts reach it and there is no console token:
// then it still starts (an install upgraded from before the console),
// serving metrics and probes only and saying so once; --http-addr there
// is refused. Beside an --http-addr of another address it is a second
// listener, metrics and probes only; the same address is one listener.
func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name          string
		http, metrics string
		token         bool
		refused       bool
		console       int // / on the console's listener; 0: there is none
		metricsRoot   int // / on the metrics listener, when it is another
		warned        bool
	}{
		{name: "alone on loopback", metrics: "127.0.0.1:0", console: http.StatusOK},
		{name: "alone off loopback, no token", metrics: "0.0.0.0:0", warned: true},
		{name: "alone off loopback, token", metrics: "0.0.0.0:0", token: true, console: http.StatusUnauthorized},
		{name: "http off loopback, no token", http: "0.0.0.0:0", refused: true},
		{name: "http and metrics off loopback", http: "0.0.0.0:0", metrics: "0.0.0.0:0", refused: true},
		{name: "two listeners", http: "127.0.0.1:0", metrics: "0.0.0.0:0", console: http.StatusOK, metricsRoot: http.StatusNotFound},
		{name: "one address", http: "127.0.0.1:0", metrics: "127.0.0.1:0", console: http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			if tt.token {
				if _, err := console.NewToken(paths.Home(home)); err != nil {
					t.Fatal(err)
				}
			}
			var logs strings.Builder
			var mu sync.Mutex
			cfg := config(home, newRuntime(t))
			cfg.HTTPAddr, cfg.MetricsAddr = tt.http, tt.metrics
			cfg.Log = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
			g, err := gateway.Open(context.Background(), cfg)
			if tt.refused {
				if err == nil {
					_ = g.Close()
					t.Fatal("a console reachable from other hosts with no token was accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			maddr := g.MetricsAddr()
			for _, p := range []string{"/metrics", "/healthz", "/readyz"} {
				if code, _ := fetch(t, maddr, p, nil); code == http.StatusNotFound {
					t.Errorf("%s at %s: %d", p, maddr, code)
				}
			}
			caddr := g.ConsoleAddr()
			switch {
			case tt.console == 0:
				if caddr != "" {
					t.Errorf("console at %q", caddr)
				}
				if code, _ := fetch(t, g.HTTPAddr(), "/", nil); code != http.StatusNotFound {
					t.Errorf("/ on a listener with no console: %d", code)
				}
			case caddr == "":
				t.Error("no console")
			default:
				if code, _ := fetch(t, caddr, "/", nil); code != tt.console {
					t.Errorf("/ at %s: %d, want %d", caddr, code, tt.console)
				}
			}
			if tt.metricsRoot != 0 {
				if maddr == caddr {
					t.Fatalf("one listener at %s for two addresses", maddr)
				}
				if code, _ := fetch(t, maddr, "/", nil); code != tt.metricsRoot {
					t.Errorf("/ on the metrics listener: %d, want %d", code, tt.metricsRoot)
				}
			} else if caddr != "" && maddr != caddr {
				t.Errorf("metrics at %s, console at %s: want one listener", maddr, caddr)
			}
			mu.Lock()
			n := strings.Count(logs.String(), "serves no console")
			mu.Unlock()
			if want := map[bool]int{true: 1}[tt.warned]; n != want {
				t.Errorf("the log says %d times there is no console, want %d:\n%s", n, want, logs.String())
			}
		})
	}
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu *sync.Mutex // guards w
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
