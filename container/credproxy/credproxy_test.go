package credproxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const secret = "sk-ant-test-SECRET-1234"

// client talks HTTP over the proxy's unix socket, as the runner does.
func client(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
}

func TestProxyAddsKeyAndRefusesTheRest(t *testing.T) {
	var gotKey, gotPath, gotAuth string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey, gotPath, gotAuth = r.Header.Get("x-api-key"), r.URL.Path, r.Header.Get("Authorization")
		io.WriteString(w, `{"ok":true}`)
	}))
	defer upstream.Close()
	p, err := New([]Upstream{
		{Name: "anthropic", BaseURL: upstream.URL, Header: "x-api-key", Key: secret, KeyVar: "ANTHROPIC_API_KEY"},
		{Name: "openai", BaseURL: upstream.URL, Header: "Authorization", Prefix: "Bearer ", KeyVar: "OPENAI_API_KEY"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sock, err := p.Serve(t.TempDir(), "team")
	if err != nil {
		t.Fatal(err)
	}
	c := client(sock)
	do := func(path string, hdr map[string]string) (int, string) {
		req, _ := http.NewRequest("POST", "http://berth-proxy"+path, strings.NewReader("{}"))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The container's own credential headers are replaced by the host's.
	code, _ := do("/anthropic/v1/messages", map[string]string{"x-api-key": "container-guess", "Authorization": "Bearer stolen"})
	if code != 200 || gotKey != secret || gotPath != "/v1/messages" || gotAuth != "" {
		t.Fatalf("code %d key %q path %q auth %q", code, gotKey, gotPath, gotAuth)
	}
	tests := []struct {
		path string
		code int
		body string
	}{
		{"/evil.example.com/steal", 403, "no such upstream"},
		{"/anthropic/../openai/v1/chat/completions", 403, "not allowed"},
		{"/openai/chat/completions", 401, "OPENAI_API_KEY"},
	}
	for _, tt := range tests {
		code, body := do(tt.path, nil)
		if code != tt.code || !strings.Contains(body, tt.body) || strings.Contains(body, secret) {
			t.Errorf("%s: %d %q", tt.path, code, body)
		}
	}
	if _, err := New([]Upstream{{Name: "x", BaseURL: "file:///etc/passwd"}}, nil); err == nil {
		t.Error("a non-http upstream was accepted")
	}
}
