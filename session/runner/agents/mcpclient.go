package agents

// The group's own MCP servers, for the anthropic and openai tool loop.
//
// The host names them in runner.EnvMCPServers, from the group's
// configuration. Each turn connects to them afresh (commands started in
// the group folder, HTTP servers reached through the credential proxy's
// socket), lists their tools beside the built-in ones as
// <server>__<tool>, and closes them when the turn ends. Per turn rather
// than per container: a server the agent rebuilt or that crashed is simply
// started again on the next turn, a server holds no state across people's
// turns, and nothing outlives the turn that started it, so nothing is left
// running when the runner exits. A Go server starts in milliseconds.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/berth-dev/berth/session/runner"
)

// Bounds of the MCP client.
const (
	mcpStartTimeout  = 20 * time.Second // to start a server and list its tools
	mcpCallTimeout   = 2 * time.Minute  // one tool call, as bash; below the default stuck_timeout
	mcpCloseTimeout  = 5 * time.Second  // to stop the turn's servers
	mcpMaxTools      = 64               // per server
	mcpMaxSchema     = 16 << 10         // a tool's input schema, as JSON
	mcpMaxDesc       = 1 << 10          // a tool's description
	mcpMaxServers    = 8                // as the host's configuration allows
	mcpToolSeparator = "__"
)

// mcpToolName is a tool name both model APIs accept.
var mcpToolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// errMCPUnavailable is a tool call to a server that did not start.
var errMCPUnavailable = errors.New("MCP server unavailable this turn")

// mcpClient knows the group's MCP servers and how to reach them.
type mcpClient struct {
	servers []runner.MCPServer
	sock    string // the credential proxy's socket
	// transport makes the connection to one server; tests replace it.
	// done is closed when the turn's servers are being stopped.
	transport func(s runner.MCPServer, done <-chan struct{}) (mcp.Transport, error)
	// startTimeout and callTimeout default to the constants above.
	startTimeout, callTimeout time.Duration
}

// mcpServersFromEnv reads the host's list of the group's MCP servers; a
// list it cannot read is logged and leaves the group without them.
func mcpServersFromEnv() []runner.MCPServer {
	v := os.Getenv(runner.EnvMCPServers)
	if v == "" {
		return nil
	}
	var servers []runner.MCPServer
	if err := json.Unmarshal([]byte(v), &servers); err != nil {
		slog.Warn("MCP servers unreadable; none this container", "err", err)
		return nil
	}
	if len(servers) > mcpMaxServers {
		servers = servers[:mcpMaxServers]
	}
	return servers
}

// defaultTransport reaches a command over stdio, started in the group
// folder with no environment but PATH and HOME, and an HTTP server over
// the proxy's socket.
func (c *mcpClient) defaultTransport(s runner.MCPServer, done <-chan struct{}) (mcp.Transport, error) {
	if s.HTTP {
		client := proxyClient(c.sock)
		// Every request, the session's end included, is bounded; the
		// server's answers come on the call's own stream.
		client.Timeout = cmp.Or(c.callTimeout, mcpCallTimeout) + mcpCloseTimeout
		return &mcp.StreamableClientTransport{Endpoint: "http://berth-proxy" + runner.MCPProxyPrefix + s.Name,
			HTTPClient: client, MaxRetries: 1, DisableStandaloneSSE: true}, nil
	}
	if !strings.HasPrefix(s.Command, GroupDir+"/") {
		return nil, fmt.Errorf("command %q is not in the group folder", s.Command)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-done; time.AfterFunc(mcpCloseTimeout, cancel) }() // a last resort after Close's own SIGTERM
	cmd := exec.CommandContext(ctx, s.Command, s.Args...)
	cmd.Dir = GroupDir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	cmd.Stderr = os.Stderr // the container's log, capped by the engine
	return &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, nil
}

// mcpSet is one turn's connections to the group's MCP servers.
type mcpSet struct {
	callTimeout time.Duration
	done        chan struct{} // closed by close
	closing     sync.Once
	conns       []*mcpConn
	tools       []toolSpec
	route       map[string]mcpRoute // prefixed name -> its server and tool
}

// mcpConn is one server of the turn: connected, or why not.
type mcpConn struct {
	name    string
	session *mcp.ClientSession // nil when err is set
	tools   []*mcp.Tool
	err     error
}

type mcpRoute struct {
	conn *mcpConn
	tool string
}

// open connects to every server at once, each bounded by the start
// timeout. A server that fails is left out of the tools and named by note.
func (c *mcpClient) open(ctx context.Context) *mcpSet {
	set := &mcpSet{callTimeout: mcpCallTimeout, done: make(chan struct{}), route: map[string]mcpRoute{}}
	if c == nil || len(c.servers) == 0 {
		return set
	}
	set.callTimeout = cmp.Or(c.callTimeout, mcpCallTimeout)
	transport := c.transport
	if transport == nil {
		transport = c.defaultTransport
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "berth-runner", Version: "v1"}, nil)
	var wg sync.WaitGroup
	for _, s := range c.servers {
		conn := &mcpConn{name: s.Name}
		set.conns = append(set.conns, conn)
		wg.Go(func() {
			d := cmp.Or(c.startTimeout, mcpStartTimeout)
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			type started struct {
				cs    *mcp.ClientSession
				tools []*mcp.Tool
				err   error
			}
			// The SDK's writes do not all heed ctx (a server that never
			// reads blocks them): the wait is bounded here, and a start
			// that ends after it is closed.
			ch := make(chan started, 1)
			go func() {
				cs, tools, err := connectMCP(ctx, client, transport, s, set.done)
				ch <- started{cs, tools, err}
			}()
			select {
			case r := <-ch:
				conn.session, conn.tools, conn.err = r.cs, r.tools, r.err
			case <-ctx.Done():
				conn.err = fmt.Errorf("it did not start and list its tools within %s", d)
				go func() {
					if r := <-ch; r.cs != nil {
						closeMCP(r.cs)
					}
				}()
			}
		})
	}
	wg.Wait()
	for _, conn := range set.conns {
		if conn.err != nil {
			slog.Warn("MCP server unavailable", "server", conn.name, "err", conn.err)
			continue
		}
		for _, t := range conn.tools {
			spec, ok := mcpSpec(conn.name, t)
			if !ok {
				slog.Warn("MCP tool left out: its name or schema is not one a model API takes", "server", conn.name, "tool", truncateRunes(t.Name, 64))
				continue
			}
			if _, dup := set.route[spec.Name]; dup {
				continue
			}
			set.route[spec.Name] = mcpRoute{conn: conn, tool: t.Name}
			set.tools = append(set.tools, spec)
		}
	}
	return set
}

// connectMCP starts one server and lists its tools.
func connectMCP(ctx context.Context, client *mcp.Client, transport func(runner.MCPServer, <-chan struct{}) (mcp.Transport, error),
	s runner.MCPServer, done <-chan struct{}) (*mcp.ClientSession, []*mcp.Tool, error) {
	t, err := transport(s, done)
	if err != nil {
		return nil, nil, err
	}
	cs, err := client.Connect(ctx, t, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("start: %w", err)
	}
	var tools []*mcp.Tool
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			closeMCP(cs)
			return nil, nil, fmt.Errorf("list tools: %w", err)
		}
		tools = append(tools, tool)
		if len(tools) == mcpMaxTools {
			break
		}
	}
	return cs, tools, nil
}

// mcpSpec is a server's tool as the model sees it, named <server>__<tool>.
func mcpSpec(server string, t *mcp.Tool) (toolSpec, bool) {
	if t == nil {
		return toolSpec{}, false
	}
	name := server + mcpToolSeparator + t.Name
	if !mcpToolName.MatchString(name) {
		return toolSpec{}, false
	}
	var schema struct {
		Properties map[string]any `json:"properties"`
		Required   []string       `json:"required"`
	}
	if t.InputSchema != nil {
		b, err := json.Marshal(t.InputSchema)
		if err != nil || len(b) > mcpMaxSchema || json.Unmarshal(b, &schema) != nil {
			return toolSpec{}, false
		}
	}
	if schema.Properties == nil {
		schema.Properties = map[string]any{}
	}
	if schema.Required == nil {
		schema.Required = []string{} // OpenAI-compatible servers refuse a null
	}
	desc := truncateRunes(t.Description, mcpMaxDesc)
	if desc == "" {
		desc = t.Name
	}
	return toolSpec{Name: name, Description: "(MCP server " + server + ") " + desc, Params: schema.Properties, Required: schema.Required}, true
}

// specs are the turn's MCP tools.
func (s *mcpSet) specs() []toolSpec {
	if s == nil {
		return nil
	}
	return s.tools
}

// note tells the model which servers did not start this turn.
func (s *mcpSet) note() string {
	if s == nil {
		return ""
	}
	var b strings.Builder
	for _, c := range s.conns {
		if c.err != nil {
			fmt.Fprintf(&b, "\nThe MCP server %q is unavailable this turn (%s); its tools are missing.", c.name, truncateRunes(c.err.Error(), 300))
		}
	}
	return b.String()
}

// has reports whether name is one of the turn's MCP tools, or names a
// server that did not start (so the call is told why).
func (s *mcpSet) has(name string) bool {
	if s == nil {
		return false
	}
	if _, ok := s.route[name]; ok {
		return true
	}
	server, _, ok := strings.Cut(name, mcpToolSeparator)
	return ok && slices.ContainsFunc(s.conns, func(c *mcpConn) bool { return c.name == server })
}

// call runs one tool of a server; every failure, a timeout included, is a
// tool error for the model.
func (s *mcpSet) call(ctx context.Context, name string, input json.RawMessage) (string, bool) {
	r, ok := s.route[name]
	if !ok {
		server, _, _ := strings.Cut(name, mcpToolSeparator)
		for _, c := range s.conns {
			if c.name == server && c.err != nil {
				return fmt.Sprintf("%v: %s: %s", errMCPUnavailable, server, truncateRunes(c.err.Error(), 300)), true
			}
		}
		return "no such tool: " + name, true
	}
	args := json.RawMessage("{}")
	if len(input) > 0 && string(input) != "null" {
		if !json.Valid(input) {
			return "invalid input: not JSON", true
		}
		args = input
	}
	ctx, cancel := context.WithTimeout(ctx, s.callTimeout)
	defer cancel()
	type called struct {
		res *mcp.CallToolResult
		err error
	}
	// Bounded here, whatever the SDK's writes heed: a call left behind
	// ends when the turn's servers are stopped.
	ch := make(chan called, 1)
	go func() {
		res, err := r.conn.session.CallTool(ctx, &mcp.CallToolParams{Name: r.tool, Arguments: args})
		ch <- called{res, err}
	}()
	var res *mcp.CallToolResult
	var err error
	select {
	case c := <-ch:
		res, err = c.res, c.err
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Sprintf("MCP server %s did not answer within %s", r.conn.name, s.callTimeout), true
		}
		return fmt.Sprintf("MCP server %s: %s", r.conn.name, truncateRunes(err.Error(), 500)), true
	}
	return capOutput(mcpText(res)), res.IsError
}

// mcpText is a tool result as text: its text content, other content named.
func mcpText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if b.Len() > maxToolOutput {
			break
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		switch c := c.(type) {
		case *mcp.TextContent:
			b.WriteString(c.Text)
		case *mcp.ImageContent:
			fmt.Fprintf(&b, "[an image, %s, %d bytes]", truncateRunes(c.MIMEType, 64), len(c.Data))
		case *mcp.AudioContent:
			fmt.Fprintf(&b, "[audio, %s, %d bytes]", truncateRunes(c.MIMEType, 64), len(c.Data))
		case *mcp.ResourceLink:
			fmt.Fprintf(&b, "[resource %s]", truncateRunes(c.URI, 500))
		case *mcp.EmbeddedResource:
			if c.Resource != nil && c.Resource.Text != "" {
				b.WriteString(c.Resource.Text)
			} else {
				b.WriteString("[an embedded resource]")
			}
		}
	}
	if b.Len() == 0 && res.StructuredContent != nil {
		if j, err := json.Marshal(res.StructuredContent); err == nil {
			b.Write(j)
		}
	}
	return b.String()
}

// capOutput bounds a tool's result as bash's output is.
func capOutput(s string) string {
	if len(s) <= maxToolOutput {
		return s
	}
	return truncateRunes(s, maxToolOutput) + "\n[output cut]"
}

// close stops the turn's servers, all at once, waiting a bounded time.
// A second call does nothing.
func (s *mcpSet) close() {
	if s != nil {
		s.closing.Do(s.stop)
	}
}

func (s *mcpSet) stop() {
	close(s.done)
	var wg sync.WaitGroup
	for _, c := range s.conns {
		if c.session != nil {
			wg.Go(func() { closeMCP(c.session) })
		}
	}
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(2 * mcpCloseTimeout):
		slog.Warn("MCP servers slow to stop; leaving them to be killed")
	}
}

func closeMCP(cs *mcp.ClientSession) {
	// A server that ends badly has already given its results.
	if err := cs.Close(); err != nil && !errors.Is(err, mcp.ErrConnectionClosed) {
		slog.Debug("MCP server close", "err", err)
	}
}

// truncateRunes cuts s to at most n bytes, on a rune boundary.
func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
