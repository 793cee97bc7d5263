package session_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/container/credproxy"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

const mcpSecret = "ghp-test-MCP-SECRET-9012"

// hostMCP is a TEST-ONLY HTTP MCP server on the host (the SDK's
// streamable HTTP handler) that records the Authorization it got.
type hostMCP struct {
	srv  *httptest.Server
	mu   sync.Mutex // guards auth
	auth []string
}

func newHostMCP(t *testing.T, name string) *hostMCP {
	t.Helper()
	s := mcp.NewServer(&mcp.Implementation{Name: name, Version: "v0"}, nil)
	type greetIn struct {
		Name string `json:"name"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "greet", Description: "greets someone"}, func(_ context.Context, _ *mcp.CallToolRequest, in greetIn) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name + "-greets-" + in.Name}}}, nil, nil
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
	m := &hostMCP{}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.auth = append(m.auth, r.Header.Get("Authorization"))
		m.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *hostMCP) seen() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.auth...)
}

// toolAnswer is a model's answer that calls one tool, in the provider's shape.
func toolAnswer(provider, id, name string, input map[string]any) map[string]any {
	if provider == "openai" {
		args, _ := json.Marshal(input)
		return map[string]any{"id": "c" + id, "object": "chat.completion", "model": "m", "created": 1,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "tool_calls", "message": map[string]any{"role": "assistant", "content": "",
				"tool_calls": []any{map[string]any{"id": id, "type": "function", "function": map[string]any{"name": name, "arguments": string(args)}}}}}},
			"usage": map[string]any{"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
	}
	return map[string]any{"id": "msg_" + id, "type": "message", "role": "assistant", "model": "m", "stop_reason": "tool_use",
		"content": []any{map[string]any{"type": "tool_use", "id": id, "name": name, "input": input}},
		"usage":   map[string]any{"input_tokens": 10, "output_tokens": 5}}
}

// textAnswer is a model's final answer, in the provider's shape.
func textAnswer(provider, text string) map[string]any {
	if provider == "openai" {
		return map[string]any{"id": "c9", "object": "chat.completion", "model": "m", "created": 1,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": text}}},
			"usage":   map[string]any{"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
	}
	return anthropicText(text)
}

// toolNames are the tools a request offered, in either provider's shape.
func toolNames(req map[string]any) []string {
	var names []string
	for _, tl := range req["tools"].([]any) {
		tl := tl.(map[string]any)
		if fn, ok := tl["function"].(map[string]any); ok {
			tl = fn
		}
		names = append(names, tl["name"].(string))
	}
	return names
}

func TestGroupMCPServers(t *testing.T) {
	t.Setenv("BERTH_TEST_MCP_TOKEN", "Bearer "+mcpSecret) // the host's environment, which the proxy reads
	for _, provider := range []string{"anthropic", "openai"} {
		t.Run(provider, func(t *testing.T) { testGroupMCPServers(t, provider) })
	}
}

func testGroupMCPServers(t *testing.T, provider string) {
	gh, other := newHostMCP(t, "gh"), newHostMCP(t, "other")
	var tools []string
	f := newFakeModel(t, func(n int, req map[string]any) (int, any) {
		switch n {
		case 1:
			tools = toolNames(req)
			return 200, toolAnswer(provider, "t1", "tools__add", map[string]any{"a": 2, "b": 40})
		case 2:
			return 200, toolAnswer(provider, "t2", "gh__greet", map[string]any{"name": "ada"})
		case 3:
			return 200, toolAnswer(provider, "t3", "bash", map[string]any{"command": "bin/mcpserver probe /mcp/other; bin/mcpserver probe /mcp/gh"})
		}
		return 200, textAnswer(provider, "done")
	})
	proxy, err := credproxy.New([]credproxy.Upstream{
		{Name: "anthropic", BaseURL: f.srv.URL, Header: "x-api-key", Key: modelSecret, KeyVar: "ANTHROPIC_API_KEY"},
		{Name: "openai", BaseURL: f.srv.URL + "/v1", Header: "Authorization", Prefix: "Bearer ", Key: modelSecret, KeyVar: "OPENAI_API_KEY"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	// "other" is another group's server: in the proxy, not in this group's list.
	if err := proxy.SetMCP("elsewhere", []credproxy.MCPServer{{Name: "other", URL: other.srv.URL}}); err != nil {
		t.Fatal(err)
	}
	ch := newFakeChannel()
	home := t.TempDir()
	logf, err := os.Create(filepath.Join(home, "gateway.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	g := gatewaytest.Start(t, gatewaytest.Options{Home: home, Channels: []channels.Channel{ch}, Config: func(c *session.Config) {
		c.Extras = proxy.Extras(paths.Home(home))
		c.Log = slog.New(slog.NewJSONHandler(logf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}})
	w := g.Wire("fake", "room", gatewaytest.Wire{IsDM: true})

	// The group's own server, built static into its folder as an
	// operator (or the agent) would.
	bin := filepath.Join(g.Layout.Dir("main"), "bin", "mcpserver")
	build := exec.Command("go", "build", "-o", bin, "./runner/agents/testdata/mcpserver")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the test MCP server: %v\n%s", err, out)
	}
	config := fmt.Sprintf(`{"mcp_servers":[{"name":"tools","command":"bin/mcpserver","args":["serve"]},`+
		`{"name":"gh","url":%q,"headers_env":{"Authorization":"BERTH_TEST_MCP_TOKEN"}}]}`, gh.srv.URL+"/mcp")
	if err := g.Store.UpdateGroupConfig(context.Background(), w.AgentGroupID, provider, "m", config); err != nil {
		t.Fatal(err)
	}

	handle(t, g, msg("use your tools"))
	got := ch.waitSent(t, 1, 120*time.Second)
	if got[0].Text != "done" {
		t.Fatalf("reply = %q", got[0].Text)
	}
	for _, want := range []string{"bash", "send_file", "tools__add", "gh__greet"} {
		if !strings.Contains(strings.Join(tools, " "), want) {
			t.Errorf("the model was offered %v; want %s among them", tools, want)
		}
	}
	req := func(i int) string { b, _ := json.Marshal(f.request(i)); return string(b) }
	if r := req(1); !strings.Contains(r, "mcp-sum=42 wd=/workspace/group secret-vars=0") {
		t.Errorf("the stdio server's result did not reach the next request (or it ran elsewhere, or saw a secret): %.1500s", r)
	}
	if r := req(2); !strings.Contains(r, "gh-greets-ada") {
		t.Errorf("the HTTP server's result did not reach the next request: %.1500s", r)
	}
	r := req(3)
	if !strings.Contains(r, "probe /mcp/other: status 403") || !strings.Contains(r, "this group has no MCP server other") {
		t.Errorf("the agent's own call to a server not in its list was not refused by the proxy: %.2000s", r)
	}
	if !strings.Contains(r, "probe /mcp/gh: status 200") {
		t.Errorf("the agent's own call to its group's server did not go through: %.2000s", r)
	}
	if s := other.seen(); len(s) != 0 {
		t.Errorf("a server not in the group's list was reached: %v", s)
	}
	seen := gh.seen()
	if len(seen) == 0 {
		t.Fatal("the HTTP MCP server was never reached")
	}
	for _, a := range seen {
		if a != "Bearer "+mcpSecret {
			t.Errorf("the HTTP MCP server got Authorization %q; want the host's", a)
		}
	}
	assertNoSecret(t, g, mcpSecret)
	assertNoSecret(t, g, modelSecret)
	// The container was told the servers' names, not the HTTP one's address
	// nor its header's variable: those stay in the proxy.
	n := 0
	for _, s := range g.Sessions() {
		for _, c := range g.Containers(s.ID) {
			raw, err := g.Docker.InspectRaw(context.Background(), c.ID)
			if err != nil {
				t.Fatal(err)
			}
			n++
			if !strings.Contains(string(raw), `BERTH_MCP_SERVERS=`) {
				t.Error("the container was not told its group's MCP servers")
			}
			for _, hidden := range []string{strings.TrimPrefix(gh.srv.URL, "http://"), "BERTH_TEST_MCP_TOKEN"} {
				if strings.Contains(string(raw), hidden) {
					t.Errorf("docker inspect of the agent's container shows %q", hidden)
				}
			}
		}
	}
	if n == 0 {
		t.Error("no container to inspect")
	}
}
