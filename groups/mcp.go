package groups

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/berth-dev/berth/session/runner"
)

// MCPServer is one MCP server a group names in mcp_servers. Exactly one of
// Command and URL is set:
//   - Command (with Args) is a program in the group folder, started inside
//     the agent's container over stdio, with no environment from the host;
//   - URL is an HTTP (streamable) MCP server that the credential proxy lets
//     the group's containers reach at /mcp/<Name> on their socket, adding
//     HeadersEnv's headers with values from the host's environment.
type MCPServer struct {
	Name string `json:"name"`
	// Command is the program's path in the container, under
	// /workspace/group (a relative path in the config is made so).
	Command string   `json:"command,omitempty"`
	Args    []string `json:"args,omitempty"`
	URL     string   `json:"url,omitempty"`
	// HeadersEnv maps a header the proxy adds to the host environment
	// variable that holds its value ({"Authorization": "GITHUB_MCP_TOKEN"}).
	HeadersEnv map[string]string `json:"headers_env,omitempty"`
}

// Bounds of mcp_servers.
const (
	maxMCPServers  = 8
	maxMCPArgs     = 32
	maxMCPArg      = 1024
	maxMCPCommand  = 256
	maxMCPURL      = 2048
	maxMCPHeaders  = 8
	mcpGroupFolder = "/workspace/group" // the group folder in the container (mounts.Plan)
)

var (
	mcpName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,23}$`)
	// A header variable must have MCP as one of its words, so that what a
	// group may send to a server of its choosing is only what the operator
	// named for MCP servers: never ANTHROPIC_API_KEY or SLACK_BOT_TOKEN.
	mcpVar    = regexp.MustCompile(`^(MCP|[A-Z][A-Z0-9]*(_[A-Z0-9]+)*_MCP)(_[A-Z0-9]+)*$`)
	mcpHeader = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)
	// Headers the proxy or the MCP protocol own.
	mcpReservedHeaders = []string{"host", "content-length", "content-type", "transfer-encoding", "connection", "upgrade", "te",
		"trailer", "keep-alive", "accept", "accept-encoding", "cookie", "proxy-authorization", "proxy-connection",
		"mcp-session-id", "mcp-protocol-version", "last-event-id"}
)

// checkMCPServers validates mcp_servers and makes each command its path in
// the container. The error is a *ConfigError naming mcp_servers.
func checkMCPServers(servers []MCPServer) error {
	bad := func(i int, name, format string, a ...any) error {
		return &ConfigError{"mcp_servers", fmt.Sprintf("has a bad server (number %d, %q): ", i+1, truncate(name, 32)) + fmt.Sprintf(format, a...)}
	}
	if len(servers) > maxMCPServers {
		return &ConfigError{"mcp_servers", fmt.Sprintf("names %d servers; at most %d are allowed", len(servers), maxMCPServers)}
	}
	seen := map[string]bool{}
	for i := range servers {
		s := &servers[i]
		switch {
		case !mcpName.MatchString(s.Name):
			return bad(i, s.Name, "a name is 1 to 24 lowercase letters, digits and hyphens, starting with a letter or digit")
		case s.Name == "berth":
			return bad(i, s.Name, `"berth" is berth's own server`)
		case seen[s.Name]:
			return bad(i, s.Name, "another server has this name")
		case (s.Command == "") == (s.URL == ""):
			return bad(i, s.Name, `give exactly one of "command" (a program in the group folder) and "url" (an HTTP server)`)
		}
		seen[s.Name] = true
		if s.Command != "" {
			if len(s.HeadersEnv) > 0 {
				return bad(i, s.Name, `"headers_env" is for an HTTP server; a command gets no environment from the host`)
			}
			cmd, err := mcpCommand(s.Command)
			if err != nil {
				return bad(i, s.Name, "%v", err)
			}
			s.Command = cmd
			if len(s.Args) > maxMCPArgs {
				return bad(i, s.Name, "has %d args; at most %d are allowed", len(s.Args), maxMCPArgs)
			}
			for _, a := range s.Args {
				if len(a) > maxMCPArg || strings.ContainsFunc(a, unicode.IsControl) {
					return bad(i, s.Name, "an arg is at most %d bytes, with no control characters", maxMCPArg)
				}
			}
			continue
		}
		if len(s.Args) > 0 {
			return bad(i, s.Name, `"args" are for a command; an HTTP server has none`)
		}
		if err := mcpURL(s.URL); err != nil {
			return bad(i, s.Name, "%v", err)
		}
		if len(s.HeadersEnv) > maxMCPHeaders {
			return bad(i, s.Name, "has %d headers; at most %d are allowed", len(s.HeadersEnv), maxMCPHeaders)
		}
		for h, v := range s.HeadersEnv {
			if !mcpHeader.MatchString(h) || slices.Contains(mcpReservedHeaders, strings.ToLower(h)) || strings.HasPrefix(strings.ToLower(h), "x-forwarded-") {
				return bad(i, s.Name, "header %q is not one a server entry may set (a name of letters, digits and hyphens, not one HTTP or MCP owns)", truncate(h, 64))
			}
			if len(v) > 128 || !mcpVar.MatchString(v) {
				return bad(i, s.Name, "header %s names variable %q; it must be an upper-case variable with MCP as one of its words (GITHUB_MCP_TOKEN), so no group can send berth's own keys", h, truncate(v, 64))
			}
		}
	}
	return nil
}

// mcpCommand is a command's path in the container: a path in the group
// folder, relative or under /workspace/group, with no "..".
func mcpCommand(c string) (string, error) {
	if len(c) > maxMCPCommand || strings.ContainsFunc(c, unicode.IsControl) {
		return "", fmt.Errorf("the command is at most %d bytes, with no control characters", maxMCPCommand)
	}
	if slices.Contains(strings.Split(c, "/"), "..") {
		return "", fmt.Errorf("the command %q has a \"..\"; it must be a program in the group folder", c)
	}
	p := c
	if !path.IsAbs(p) {
		p = path.Join(mcpGroupFolder, p)
	}
	p = path.Clean(p)
	if !strings.HasPrefix(p, mcpGroupFolder+"/") {
		return "", fmt.Errorf("the command %q is outside the group folder; it must be a program in it (relative, or under %s/)", c, mcpGroupFolder)
	}
	return p, nil
}

// mcpURL checks an HTTP server's endpoint.
func mcpURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case len(s) > maxMCPURL:
		return fmt.Errorf("the url is longer than %d bytes", maxMCPURL)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "":
		return fmt.Errorf("the url %q is not an http(s) URL", truncate(s, 200))
	case u.User != nil:
		return fmt.Errorf("the url has credentials in it; put them in a host variable named in headers_env")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return fmt.Errorf("the url has a fragment")
	}
	return nil
}

// RunnerMCPServers are the group's MCP servers as the runner is told them:
// no URL, no headers (they stay on the host, in the proxy).
func (c Config) RunnerMCPServers() []runner.MCPServer {
	var out []runner.MCPServer
	for _, s := range c.MCPServers {
		out = append(out, runner.MCPServer{Name: s.Name, Command: s.Command, Args: s.Args, HTTP: s.URL != ""})
	}
	return out
}

// MCPEnv is the runner's runner.EnvMCPServers variable, "" when the group
// names no MCP server.
func (c Config) MCPEnv() string {
	if len(c.MCPServers) == 0 {
		return ""
	}
	b, err := json.Marshal(c.RunnerMCPServers())
	if err != nil {
		return "" // strings and a bool always marshal
	}
	return runner.EnvMCPServers + "=" + string(b)
}
