package credproxy

import (
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/mounts"
)

// Extras gives each group's containers its proxy socket: the group's proxy
// folder under home, holding only the socket, mounted at /run/berth, and
// the non-secret settings the runner needs. It also sets the group's HTTP
// MCP servers, from its configuration, as what its socket may reach. It
// fits session.Config.Extras.
func (p *Proxy) Extras(home paths.Home) func(g data.AgentGroup) ([]mounts.Mount, []string, error) {
	return func(g data.AgentGroup) ([]mounts.Mount, []string, error) {
		gc, err := groups.LoadConfig(g)
		if err != nil {
			return nil, nil, err
		}
		var servers []MCPServer
		for _, s := range gc.MCPServers {
			if s.URL != "" {
				servers = append(servers, MCPServer{Name: s.Name, URL: s.URL, HeadersEnv: s.HeadersEnv})
			}
		}
		if err := p.SetMCP(g.Folder, servers); err != nil {
			return nil, nil, err
		}
		dir := home.ProxyDir(g.Folder)
		if _, err := p.Serve(dir, g.Folder); err != nil {
			return nil, nil, err
		}
		return []mounts.Mount{{Source: dir, Target: "/run/berth", ReadOnly: true}},
			[]string{"BERTH_PROXY_SOCKET=/run/berth/proxy.sock", "BERTH_MODEL=" + g.Model}, nil
	}
}
