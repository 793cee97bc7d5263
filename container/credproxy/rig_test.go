package credproxy

import (
	"context"
	"errors"
	"github.com/berth-dev/berth/channels/channelstest"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// rig is one proxy under test: both upstreams pointed at a TEST-ONLY
// server, its log kept, its meter recording.
type rig struct {
	p     *Proxy
	log   *channelstest.Buffer
	meter *recMeter
}

func newRig(t *testing.T, upstreamURL string, l Limits) *rig {
	t.Helper()
	r := &rig{log: &channelstest.Buffer{}, meter: &recMeter{}}
	p, err := New([]Upstream{
		{Name: "anthropic", BaseURL: upstreamURL, Header: "x-api-key", Key: secret, KeyVar: "ANTHROPIC_API_KEY"},
		{Name: "openai", BaseURL: upstreamURL + "/v1", Header: "Authorization", Prefix: "Bearer ", Key: secret, KeyVar: "OPENAI_API_KEY"},
	}, slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	p.SetLimits(l)
	p.SetMeter(r.meter)
	r.p = p
	t.Cleanup(func() {
		p.Close()
		if strings.Contains(r.log.String(), secret) {
			t.Error("the key is in the proxy's log")
		}
	})
	return r
}

func (r *rig) serve(t *testing.T, group string) string {
	t.Helper()
	sock, err := r.p.Serve(t.TempDir(), group)
	if err != nil {
		t.Fatal(err)
	}
	return sock
}

// call makes one request through the socket and returns the status and body.
func call(t *testing.T, sock, method, path string, body string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://berth-proxy"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := client(sock)
	defer c.CloseIdleConnections()
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	if strings.Contains(string(b), secret) {
		t.Errorf("%s %s: the key is in the response", method, path)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// dial opens a raw connection to a socket.
func dial(t *testing.T, sock string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reports whether the server closed c (a read returns EOF or
// a reset, after any bytes it sent) within d.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return false
		}
		return true
	}
}

// recMeter is a TEST-ONLY Meter that records what it is told.
type recMeter struct {
	mu      sync.Mutex // guards the fields below
	in, out int64
	calls   int
}

func (m *recMeter) Add(_ context.Context, _ string, in, out int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.in += in
	m.out += out
	m.calls++
}

func (m *recMeter) Left(context.Context, string) (int64, bool) { return 0, false }

func (m *recMeter) take() (int64, int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	in, out := m.in, m.out
	m.in, m.out = 0, 0
	return in, out
}
