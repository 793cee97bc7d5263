package groups_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session/runner"
)

// mcp_servers: a command must be a program in the group folder, an HTTP
// server a plain http(s) URL whose headers come from host variables named
// for MCP; everything else is refused, naming the key.
func TestMCPServersConfig(t *testing.T) {
	tests := []struct {
		name, config string
		want         []groups.MCPServer // when accepted
		err          string             // when refused: part of the reason
	}{
		{name: "stdio relative", config: `{"mcp_servers":[{"name":"tools","command":"bin/tools","args":["--v"]}]}`,
			want: []groups.MCPServer{{Name: "tools", Command: "/workspace/group/bin/tools", Args: []string{"--v"}}}},
		{name: "stdio absolute in the folder", config: `{"mcp_servers":[{"name":"t","command":"/workspace/group/./mcp/t"}]}`,
			want: []groups.MCPServer{{Name: "t", Command: "/workspace/group/mcp/t"}}},
		{name: "http", config: `{"mcp_servers":[{"name":"github","url":"https://api.githubcopilot.com/mcp/","headers_env":{"Authorization":"GITHUB_MCP_TOKEN"}}]}`,
			want: []groups.MCPServer{{Name: "github", URL: "https://api.githubcopilot.com/mcp/", HeadersEnv: map[string]string{"Authorization": "GITHUB_MCP_TOKEN"}}}},
		{name: "http MCP first word", config: `{"mcp_servers":[{"name":"x","url":"http://127.0.0.1:9/mcp","headers_env":{"X-Token":"MCP_X_TOKEN"}}]}`,
			want: []groups.MCPServer{{Name: "x", URL: "http://127.0.0.1:9/mcp", HeadersEnv: map[string]string{"X-Token": "MCP_X_TOKEN"}}}},

		{name: "dot dot", config: `{"mcp_servers":[{"name":"t","command":"../other/bin/t"}]}`, err: `has a ".."`},
		{name: "dot dot inside", config: `{"mcp_servers":[{"name":"t","command":"bin/../t"}]}`, err: `has a ".."`},
		{name: "absolute elsewhere", config: `{"mcp_servers":[{"name":"t","command":"/bin/sh"}]}`, err: "outside the group folder"},
		{name: "prefix trick", config: `{"mcp_servers":[{"name":"t","command":"/workspace/groupx/t"}]}`, err: "outside the group folder"},
		{name: "the folder itself", config: `{"mcp_servers":[{"name":"t","command":"/workspace/group"}]}`, err: "outside the group folder"},
		{name: "env from the host", config: `{"mcp_servers":[{"name":"t","command":"t","env":{"A":"b"}}]}`, err: `unknown field "env"`},
		{name: "headers on a command", config: `{"mcp_servers":[{"name":"t","command":"t","headers_env":{"A":"A_MCP"}}]}`, err: "gets no environment from the host"},
		{name: "too many args", config: `{"mcp_servers":[{"name":"t","command":"t","args":[` + strings.Repeat(`"a",`, 40) + `"a"]}]}`, err: "at most 32"},
		{name: "long arg", config: `{"mcp_servers":[{"name":"t","command":"t","args":["` + strings.Repeat("a", 2000) + `"]}]}`, err: "at most 1024 bytes"},
		{name: "control in arg", config: `{"mcp_servers":[{"name":"t","command":"t","args":["a\u0000b"]}]}`, err: "no control characters"},
		{name: "both", config: `{"mcp_servers":[{"name":"t","command":"t","url":"https://x"}]}`, err: "exactly one of"},
		{name: "neither", config: `{"mcp_servers":[{"name":"t"}]}`, err: "exactly one of"},
		{name: "bad name", config: `{"mcp_servers":[{"name":"a__b","command":"t"}]}`, err: "lowercase letters"},
		{name: "berth", config: `{"mcp_servers":[{"name":"berth","command":"t"}]}`, err: "berth's own"},
		{name: "duplicate", config: `{"mcp_servers":[{"name":"t","command":"t"},{"name":"t","url":"https://x"}]}`, err: "another server has this name"},
		{name: "too many", config: `{"mcp_servers":[` + strings.Repeat(`{"name":"t","command":"t"},`, 8) + `{"name":"t","command":"t"}]}`, err: "at most 8"},
		{name: "not http", config: `{"mcp_servers":[{"name":"t","url":"file:///etc/passwd"}]}`, err: "not an http(s) URL"},
		{name: "credentials in url", config: `{"mcp_servers":[{"name":"t","url":"https://u:p@x/mcp"}]}`, err: "credentials"},
		{name: "args on http", config: `{"mcp_servers":[{"name":"t","url":"https://x","args":["a"]}]}`, err: `"args" are for a command`},
		{name: "berth's key", config: `{"mcp_servers":[{"name":"t","url":"https://x","headers_env":{"X-Key":"ANTHROPIC_API_KEY"}}]}`, err: "MCP as one of its words"},
		{name: "bot token", config: `{"mcp_servers":[{"name":"t","url":"https://x","headers_env":{"X-Key":"SLACK_BOT_TOKEN"}}]}`, err: "MCP as one of its words"},
		{name: "MCP inside a word", config: `{"mcp_servers":[{"name":"t","url":"https://x","headers_env":{"X-Key":"XMCP_TOKEN"}}]}`, err: "MCP as one of its words"},
		{name: "reserved header", config: `{"mcp_servers":[{"name":"t","url":"https://x","headers_env":{"Host":"A_MCP"}}]}`, err: "not one a server entry may set"},
		{name: "session header", config: `{"mcp_servers":[{"name":"t","url":"https://x","headers_env":{"Mcp-Session-Id":"A_MCP"}}]}`, err: "not one a server entry may set"},
		{name: "not a list", config: `{"mcp_servers":{"t":{"command":"t"}}}`, err: "expected shape"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := groups.ParseConfig("", "", tt.config)
			if tt.err != "" {
				var ce *groups.ConfigError
				if !errors.As(err, &ce) || ce.Field != "mcp_servers" || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v; want a *ConfigError for mcp_servers saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.MCPServers) != len(tt.want) {
				t.Fatalf("servers = %+v, want %+v", c.MCPServers, tt.want)
			}
			for i, s := range c.MCPServers {
				w := tt.want[i]
				if s.Name != w.Name || s.Command != w.Command || s.URL != w.URL || strings.Join(s.Args, " ") != strings.Join(w.Args, " ") || len(s.HeadersEnv) != len(w.HeadersEnv) {
					t.Errorf("server %d = %+v, want %+v", i, s, w)
				}
				for h, v := range w.HeadersEnv {
					if s.HeadersEnv[h] != v {
						t.Errorf("server %d header %s = %q, want %q", i, h, s.HeadersEnv[h], v)
					}
				}
			}
		})
	}
}

// The runner is told each server's name and command, never an HTTP
// server's URL or header variables: those stay on the host.
func TestMCPEnv(t *testing.T) {
	c, err := groups.ParseConfig("", "", `{"mcp_servers":[{"name":"tools","command":"bin/t","args":["a"]},`+
		`{"name":"gh","url":"https://secret-host.example/mcp","headers_env":{"Authorization":"GITHUB_MCP_TOKEN"}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	env := c.MCPEnv()
	want := runner.EnvMCPServers + `=[{"name":"tools","command":"/workspace/group/bin/t","args":["a"]},{"name":"gh","http":true}]`
	if env != want {
		t.Errorf("env = %s\nwant  %s", env, want)
	}
	if (groups.Config{}).MCPEnv() != "" {
		t.Error("a group without MCP servers gets the variable")
	}
}
