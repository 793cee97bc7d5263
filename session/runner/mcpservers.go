package runner

// EnvMCPServers is the environment variable through which the host gives
// the runner its group's MCP servers: a JSON list of MCPServer. The host
// writes it from the group's configuration at spawn; the agent cannot
// change it, and the credential proxy enforces the HTTP servers' allowlist
// on the host whatever the runner is told.
const EnvMCPServers = "BERTH_MCP_SERVERS"

// MCPProxyPrefix is the path below which the credential proxy serves a
// group's HTTP MCP servers: MCPProxyPrefix + name.
const MCPProxyPrefix = "/mcp/"

// MCPServer is one MCP server of the agent's group, as the runner sees it:
// a command in the group folder, run inside the container over stdio, or
// an HTTP server reached through the credential proxy's socket at
// MCPProxyPrefix + Name. Its URL and headers stay on the host.
type MCPServer struct {
	Name    string   `json:"name"`
	Command string   `json:"command,omitempty"` // stdio: an absolute path under /workspace/group
	Args    []string `json:"args,omitempty"`
	HTTP    bool     `json:"http,omitempty"`
}
