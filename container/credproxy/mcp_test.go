package credproxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const mcpSecret = "ghp-test-MCP-SECRET-5678"

type greetIn struct {
	Name string `json:"name"`
}

// mcpUpstream is a TEST-ONLY HTTP MCP server (the SDK's streamable HTTP
// handler) that records what reached it.
type seenMCP struct {
	mu    sync.Mutex // guards auth, paths
	auth  []string
	paths []string
}

func newMCPUpstream(t *testing.T, name string) (*httptest.Server, *seenMCP) {
	t.Helper()
	s := mcp.NewServer(&mcp.Implementation{Name: name, Version: "v0"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "greet", Description: "greets"}, func(_ context.Context, _ *mcp.CallToolRequest, in greetIn) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name + " greets " + in.Name}}}, nil, nil
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
	seen := &seenMCP{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.mu.Lock()
		seen.auth = append(seen.auth, r.Header.Get("Authorization"))
		seen.paths = append(seen.paths, r.Method+" "+r.URL.RequestURI())
		seen.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

// A group's socket reaches its own HTTP MCP servers, each at its one
// endpoint, with the header the host's variable holds in place of any the
// container sent; another server, another path, another method or
// another group's server is refused before it leaves the host.
func TestMCPServersThroughProxy(t *testing.T) {
	allowed, seen := newMCPUpstream(t, "gh")
	other, otherSeen := newMCPUpstream(t, "other")
	rg := newRig(t, "http://127.0.0.1:1", Limits{})
	rg.p.getenv = func(k string) (string, bool) {
		if k == "GH_MCP_TOKEN" {
			return "Bearer " + mcpSecret, true
		}
		return "", false
	}
	if err := rg.p.SetMCP("team", []MCPServer{
		{Name: "gh", URL: allowed.URL + "/mcp?tenant=1", HeadersEnv: map[string]string{"Authorization": "GH_MCP_TOKEN"}},
		{Name: "nokey", URL: other.URL, HeadersEnv: map[string]string{"Authorization": "UNSET_MCP_TOKEN"}},
	}); err != nil {
		t.Fatal(err)
	}
	sock := rg.serve(t, "team")
	otherGroup := rg.serve(t, "elsewhere")

	// The SDK's client, as the runner uses it, through the socket.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hc := client(sock)
	hc.Transport = headerRT{hc.Transport, "Bearer container-made-this-up"}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: "http://berth-proxy/mcp/gh", HTTPClient: hc, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatalf("connect through the proxy: %v", err)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "greet", Arguments: map[string]any{"name": "ada"}})
	if err != nil || res.IsError || len(res.Content) != 1 || res.Content[0].(*mcp.TextContent).Text != "gh greets ada" {
		t.Fatalf("call through the proxy: %v %+v", err, res)
	}
	if err := cs.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	seen.mu.Lock()
	for i, a := range seen.auth {
		if a != "Bearer "+mcpSecret {
			t.Errorf("request %d (%s) reached the server with Authorization %q; want the host's", i, seen.paths[i], a)
		}
		if p := seen.paths[i]; !strings.HasSuffix(p, " /mcp?tenant=1") {
			t.Errorf("request %d reached %s; want the configured endpoint only", i, p)
		}
	}
	if len(seen.auth) < 2 {
		t.Errorf("the server saw %d requests; want the session's", len(seen.auth))
	}
	seen.mu.Unlock()

	tests := []struct {
		sock, method, path string
		want               int
		says               string
	}{
		{sock, "POST", "/mcp/other", 403, "no MCP server other"},
		{sock, "POST", "/mcp/gh/extra", 403, "no MCP server"},
		{sock, "POST", "/mcp/", 403, "no MCP server"},
		{sock, "PUT", "/mcp/gh", 403, "not a call of the MCP"},
		{sock, "POST", "/mcp/gh/../gh", 403, ""},
		{sock, "POST", "/mcp/nokey", 401, "UNSET_MCP_TOKEN"},
		{otherGroup, "POST", "/mcp/gh", 403, "no MCP server gh"},
	}
	for _, tt := range tests {
		code, _, body := call(t, tt.sock, tt.method, tt.path, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
			map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
		if code != tt.want || !strings.Contains(body, tt.says) {
			t.Errorf("%s %s = %d %q; want %d saying %q", tt.method, tt.path, code, body, tt.want, tt.says)
		}
	}
	otherSeen.mu.Lock()
	if len(otherSeen.paths) != 0 {
		t.Errorf("a server the group may not reach saw %v", otherSeen.paths)
	}
	otherSeen.mu.Unlock()
	if strings.Contains(rg.log.String(), mcpSecret) {
		t.Error("the MCP server's header value is in the proxy's log")
	}

	// A new configuration replaces the allowlist: a removed server is refused.
	if err := rg.p.SetMCP("team", nil); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := call(t, sock, "POST", "/mcp/gh", `{}`, nil); code != 403 {
		t.Errorf("a removed server: %d, want 403", code)
	}
	if err := rg.p.SetMCP("team", []MCPServer{{Name: "x", URL: "ftp://x"}}); err == nil {
		t.Error("a non-http URL was accepted")
	}
}

// headerRT is a TEST-ONLY transport that adds the container's own
// Authorization, which the proxy must replace.
type headerRT struct {
	rt   http.RoundTripper
	auth string
}

func (h headerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", h.auth)
	return h.rt.RoundTrip(r)
}

// The upstream name "mcp" is the MCP servers' prefix: New refuses it.
func TestUpstreamNamedMCPRefused(t *testing.T) {
	if _, err := New([]Upstream{{Name: "mcp", BaseURL: "https://x", Routes: []Route{{Method: "GET", Path: "/"}}}}, nil); err == nil {
		t.Fatal("an upstream named mcp was accepted")
	}
}
