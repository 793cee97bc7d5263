package agents

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/berth-dev/berth/session/runner"
)

type addIn struct {
	A int `json:"a"`
	B int `json:"b"`
}

// testServers are TEST-ONLY MCP servers, in process: each answers with its
// own name, so a call shows which server it reached.
func testServers(t *testing.T) map[string]*mcp.Server {
	t.Helper()
	mk := func(name string) *mcp.Server {
		s := mcp.NewServer(&mcp.Implementation{Name: name, Version: "v0"}, nil)
		mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "say it back"}, func(_ context.Context, _ *mcp.CallToolRequest, in SendIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name + ": " + in.Text}}}, nil, nil
		})
		return s
	}
	alpha, beta := mk("alpha"), mk("beta")
	mcp.AddTool(beta, &mcp.Tool{Name: "add", Description: "add two numbers"}, func(_ context.Context, _ *mcp.CallToolRequest, in addIn) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprint(in.A + in.B)}}}, nil, nil
	})
	mcp.AddTool(beta, &mcp.Tool{Name: "big", Description: "a lot of output"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: strings.Repeat("x", 1<<20)}}}, nil, nil
	})
	mcp.AddTool(beta, &mcp.Tool{Name: "fails", Description: "a tool error"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return nil, nil, fmt.Errorf("the disk is on fire")
	})
	mcp.AddTool(beta, &mcp.Tool{Name: "hangs", Description: "never answers"}, func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		<-ctx.Done()
		return nil, nil, ctx.Err()
	})
	// A name no model API takes once prefixed: left out.
	mcp.AddTool(beta, &mcp.Tool{Name: "has.dots"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{}, nil, nil
	})
	mcp.AddTool(beta, &mcp.Tool{Name: strings.Repeat("n", 70)}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{}, nil, nil
	})
	return map[string]*mcp.Server{"alpha": alpha, "beta": beta}
}

// testClient reaches the in-process servers; a name with none (and
// "silent", which is never served) does not start.
func testClient(t *testing.T, servers map[string]*mcp.Server, names ...string) *mcpClient {
	t.Helper()
	c := &mcpClient{startTimeout: 4 * time.Second, callTimeout: 2 * time.Second}
	for _, n := range names {
		c.servers = append(c.servers, runner.MCPServer{Name: n, Command: GroupDir + "/bin/" + n})
	}
	c.transport = func(s runner.MCPServer, _ <-chan struct{}) (mcp.Transport, error) {
		srv, ok := servers[s.Name]
		st, ct := mcp.NewInMemoryTransports()
		if s.Name == "silent" {
			// Nobody at the other end: initialize is never read.
			sc, err := st.Connect(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sc.Close() })
			return ct, nil
		}
		if !ok {
			return nil, fmt.Errorf("exec: %q: no such file", s.Command)
		}
		ss, err := srv.Connect(context.Background(), st, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ss.Close() })
		return ct, nil
	}
	return c
}

func names(specs []toolSpec) []string {
	var n []string
	for _, s := range specs {
		n = append(n, s.Name)
	}
	return n
}

// The servers' tools are listed beside the built-in ones, each prefixed
// with its server's name, so two servers' "echo" do not clash; a name no
// model API would take is left out.
func TestMCPToolsListedWithPrefix(t *testing.T) {
	t.Parallel()
	tb := &toolbox{workdir: t.TempDir(), mcpc: testClient(t, testServers(t), "alpha", "beta")}
	builtin := names(tb.specs())
	note, stop := tb.openMCP(context.Background())
	defer stop()
	if note != "" {
		t.Errorf("note = %q; every server started", note)
	}
	got := names(tb.specs())
	want := append(builtin, "alpha__echo", "beta__add", "beta__big", "beta__echo", "beta__fails", "beta__hangs")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("tools = %v, want %v", got, want)
	}
	for _, s := range tb.specs() {
		if s.Name == "beta__add" {
			if _, ok := s.Params["a"]; !ok || !strings.Contains(s.Description, "add two numbers") {
				t.Errorf("beta__add spec = %+v; want its schema's properties and its description", s)
			}
		}
	}
	stop()
	if got := names(tb.specs()); !slices.Equal(got, builtin) {
		t.Errorf("after the turn, tools = %v; want the built-in ones only", got)
	}
}

// Calls reach the right server through run(), with non-string arguments;
// results are bounded, and every failure is a tool error, never a hang.
func TestMCPToolCalls(t *testing.T) {
	t.Parallel()
	tb := &toolbox{workdir: t.TempDir(), mcpc: testClient(t, testServers(t), "alpha", "beta", "gone", "silent")}
	note, stop := tb.openMCP(context.Background())
	defer stop()
	for _, n := range []string{`"gone"`, `"silent"`} {
		if !strings.Contains(note, n) {
			t.Errorf("note = %q; want it to name %s, which did not start", note, n)
		}
	}
	tests := []struct {
		tool, input string
		want        string
		isErr       bool
	}{
		{"alpha__echo", `{"text":"hi"}`, "alpha: hi", false},
		{"beta__echo", `{"text":"hi"}`, "beta: hi", false},
		{"beta__add", `{"a":2,"b":40}`, "42", false},
		{"beta__fails", `{}`, "the disk is on fire", true},
		{"beta__hangs", `{}`, "did not answer", true},
		{"beta__add", `{"a":"two"}`, "", true},
		{"gone__echo", `{"text":"hi"}`, "unavailable", true},
		{"silent__echo", `{}`, "unavailable", true},
		{"beta__nosuch", `{}`, "no such tool", true},
	}
	for _, tt := range tests {
		t.Run(tt.tool, func(t *testing.T) {
			out, isErr := tb.run(context.Background(), toolCall{ID: "1", Name: tt.tool, Input: json.RawMessage(tt.input)}, func(string) {})
			if isErr != tt.isErr || !strings.Contains(out, tt.want) {
				t.Errorf("%s(%s) = %q, error %v; want %q, error %v", tt.tool, tt.input, out, isErr, tt.want, tt.isErr)
			}
		})
	}
	out, isErr := tb.run(context.Background(), toolCall{ID: "2", Name: "beta__big", Input: json.RawMessage(`{}`)}, func(string) {})
	if isErr || len(out) > maxToolOutput+64 || !strings.HasSuffix(out, "[output cut]") {
		t.Errorf("big result: %d bytes, error %v; want it cut at %d", len(out), isErr, maxToolOutput)
	}
	// The built-in tools still work beside them.
	if out, isErr := tb.run(context.Background(), toolCall{ID: "3", Name: "write_file", Input: json.RawMessage(`{"path":"a","content":"b"}`)}, func(string) {}); isErr {
		t.Errorf("write_file: %s", out)
	}
}

// A group without MCP servers has the built-in tools only, and nothing to start.
func TestMCPNone(t *testing.T) {
	tb := &toolbox{workdir: t.TempDir()}
	note, stop := tb.openMCP(context.Background())
	defer stop()
	if note != "" {
		t.Fatalf("note %q with no servers", note)
	}
	for _, n := range names(tb.specs()) {
		if strings.Contains(n, "__") {
			t.Fatalf("tool %s listed with no servers: %v", n, names(tb.specs()))
		}
	}
	if out, isErr := tb.run(context.Background(), toolCall{Name: "alpha__echo", Input: json.RawMessage(`{}`)}, func(string) {}); !isErr || !strings.Contains(out, "no such tool") {
		t.Errorf("call with no servers = %q, %v", out, isErr)
	}
}

func TestMCPServersFromEnv(t *testing.T) {
	tests := []struct {
		env  string
		want int
	}{
		{"", 0},
		{"not json", 0},
		{`[{"name":"a","command":"/workspace/group/a"},{"name":"b","http":true}]`, 2},
		{"[" + strings.TrimSuffix(strings.Repeat(`{"name":"a","http":true},`, 20), ",") + "]", mcpMaxServers},
	}
	for _, tt := range tests {
		t.Setenv(runner.EnvMCPServers, tt.env)
		if got := mcpServersFromEnv(); len(got) != tt.want {
			t.Errorf("%.40q: %d servers, want %d", tt.env, len(got), tt.want)
		}
	}
}

// The default transport runs only a command in the group folder.
func TestMCPCommandOutsideGroupFolderRefused(t *testing.T) {
	c := &mcpClient{}
	for _, cmd := range []string{"/bin/sh", "/workspace/groupx/a", "bin/a"} {
		if _, err := c.defaultTransport(runner.MCPServer{Name: "a", Command: cmd}, make(chan struct{})); err == nil {
			t.Errorf("command %q: started; want it refused", cmd)
		}
	}
}

// The claude CLI gets berth's server and the group's: a command as it
// is, an HTTP server at its path on the proxy through the forwarder.
func TestClaudeMCPConfig(t *testing.T) {
	c := &claudeProvider{mcpServers: []runner.MCPServer{
		{Name: "tools", Command: GroupDir + "/bin/tools", Args: []string{"-v"}},
		{Name: "github", HTTP: true},
		{Name: "berth", Command: GroupDir + "/bin/evil"},
		{Name: "outside", Command: "/bin/sh"},
	}}
	got := c.mcpConfig("http://127.0.0.1:5000")
	b, _ := json.Marshal(got)
	s := string(b)
	for _, want := range []string{
		`"berth":{"args":["mcp","--in","/workspace/in","--out","/workspace/out"],"command":"/usr/local/bin/berth-runner","type":"stdio"}`,
		`"tools":{"args":["-v"],"command":"/workspace/group/bin/tools","env":{},"type":"stdio"}`,
		`"github":{"type":"http","url":"http://127.0.0.1:5000/mcp/github"}`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("mcp config %s\nlacks %s", s, want)
		}
	}
	if strings.Contains(s, "outside") || strings.Contains(s, "evil") {
		t.Errorf("mcp config %s has a server it must not", s)
	}
	if _, ok := c.mcpConfig("")["github"]; ok {
		t.Error("an HTTP server without a forwarder is listed")
	}
}

// buildTestServer builds the TEST-ONLY stdio MCP server the Docker test
// puts in a group folder.
func buildTestServer(tb testing.TB) string {
	tb.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		tb.Skip("no go command to build the test MCP server")
	}
	bin := filepath.Join(tb.TempDir(), "mcpserver")
	build := exec.Command("go", "build", "-o", bin, "./testdata/mcpserver")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// A stdio server is a real process for the turn: called, then stopped
// (its process has exited) when the turn ends.
func TestMCPStdioServerStoppedAfterTurn(t *testing.T) {
	t.Parallel()
	bin := buildTestServer(t)
	var cmds []*exec.Cmd
	c := &mcpClient{servers: []runner.MCPServer{{Name: "tools", Command: GroupDir + "/mcpserver"}}}
	c.transport = func(runner.MCPServer, <-chan struct{}) (mcp.Transport, error) {
		cmd := exec.Command(bin, "serve")
		cmds = append(cmds, cmd)
		return &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, nil
	}
	tb := &toolbox{workdir: t.TempDir(), mcpc: c}
	for turn := 1; turn <= 2; turn++ {
		note, stop := tb.openMCP(context.Background())
		if note != "" {
			t.Fatal(note)
		}
		out, isErr := tb.run(context.Background(), toolCall{Name: "tools__add", Input: json.RawMessage(`{"a":20,"b":22}`)}, func(string) {})
		if isErr || !strings.Contains(out, "mcp-sum=42") {
			t.Fatalf("turn %d: call = %q", turn, out)
		}
		stop()
		if len(cmds) != turn || cmds[turn-1].ProcessState == nil {
			t.Fatalf("turn %d: the server's process was not waited for when the turn ended", turn)
		}
	}
}

// BenchmarkMCPStdioTurn is what per-turn MCP servers cost: starting the
// test server (a static Go program, as the Docker test builds it),
// listing its tools, one call, and stopping it.
func BenchmarkMCPStdioTurn(b *testing.B) {
	bin := buildTestServer(b)
	c := &mcpClient{servers: []runner.MCPServer{{Name: "tools", Command: GroupDir + "/mcpserver"}}}
	c.transport = func(runner.MCPServer, <-chan struct{}) (mcp.Transport, error) {
		return &mcp.CommandTransport{Command: exec.Command(bin, "serve"), TerminateDuration: 2 * time.Second}, nil
	}
	tb := &toolbox{workdir: b.TempDir(), mcpc: c}
	for b.Loop() {
		note, stop := tb.openMCP(context.Background())
		if note != "" {
			b.Fatal(note)
		}
		out, isErr := tb.run(context.Background(), toolCall{Name: "tools__add", Input: json.RawMessage(`{"a":1,"b":2}`)}, func(string) {})
		if isErr || !strings.Contains(out, "mcp-sum=3") {
			b.Fatalf("call: %q", out)
		}
		stop()
	}
}
