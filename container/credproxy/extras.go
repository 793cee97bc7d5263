package credproxy

import (
	"path/filepath"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/mounts"
)

// Extras gives each group's containers its proxy socket: a folder under
// root holding only the socket, mounted at /run/berth, and the non-secret
// settings the runner needs. It fits session.Config.Extras.
func (p *Proxy) Extras(root string) func(g data.AgentGroup) ([]mounts.Mount, []string, error) {
	return func(g data.AgentGroup) ([]mounts.Mount, []string, error) {
		dir := filepath.Join(root, g.Folder)
		if _, err := p.Serve(dir, g.Folder); err != nil {
			return nil, nil, err
		}
		return []mounts.Mount{{Source: dir, Target: "/run/berth", ReadOnly: true}},
			[]string{"BERTH_PROXY_SOCKET=/run/berth/proxy.sock", "BERTH_MODEL=" + g.Model}, nil
	}
}
