package credproxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"

	"github.com/berth-dev/berth/session/runner"
)

// MCPServer is an HTTP MCP server one group's containers may reach through
// their socket, at runner.MCPProxyPrefix + Name. The allowlist is per
// group: each group's socket reaches only its own servers, and only their
// one endpoint.
type MCPServer struct {
	Name string
	URL  string // the server's endpoint, e.g. https://api.githubcopilot.com/mcp/
	// HeadersEnv maps a header the proxy adds to the host environment
	// variable holding its value: a secret that never enters the container.
	HeadersEnv map[string]string
}

// mcpUpstream is one group's server, with the reverse proxy that reaches it.
type mcpUpstream struct {
	MCPServer
	rp *httputil.ReverseProxy
}

// mcpPrefix is the first segment of an MCP server's path on the socket.
var mcpPrefix = strings.Trim(runner.MCPProxyPrefix, "/")

// errMCPVar is a header variable missing on the host.
var errMCPVar = errors.New("a header's variable is not set on the host")

// SetMCP replaces the HTTP MCP servers a group's containers may reach.
// Extras calls it at each spawn, from the group's configuration.
func (p *Proxy) SetMCP(group string, servers []MCPServer) error {
	ups := map[string]*mcpUpstream{}
	for _, s := range servers {
		target, err := url.Parse(s.URL)
		if err != nil || target.Host == "" || (target.Scheme != "https" && target.Scheme != "http") {
			return fmt.Errorf("credential proxy: MCP server %s of group %s: %q is not an http(s) URL", s.Name, group, truncate(s.URL, 200))
		}
		ups[s.Name] = &mcpUpstream{MCPServer: s, rp: p.mcpReverseProxy(s, target)}
	}
	p.mcpMu.Lock()
	defer p.mcpMu.Unlock()
	if p.mcp == nil {
		p.mcp = map[string]map[string]*mcpUpstream{}
	}
	p.mcp[group] = ups
	return nil
}

func (p *Proxy) mcpReverseProxy(s MCPServer, target *url.URL) *httputil.ReverseProxy {
	getenv := p.getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	return &httputil.ReverseProxy{
		Transport: p.transport,
		Rewrite: func(r *httputil.ProxyRequest) {
			// The server's one endpoint, exactly: nothing of the
			// container's path or query goes on.
			r.Out.URL.Scheme, r.Out.URL.Host = target.Scheme, target.Host
			r.Out.URL.Path, r.Out.URL.RawPath, r.Out.URL.RawQuery = target.Path, target.RawPath, target.RawQuery
			r.Out.Host = target.Host
			for _, h := range stripped {
				r.Out.Header.Del(h)
			}
			for h, v := range s.HeadersEnv {
				val, _ := getenv(v) // checked in serveMCP
				r.Out.Header.Set(h, val)
			}
		},
		ModifyResponse: func(res *http.Response) error {
			if ce := res.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
				return fmt.Errorf("%w: %q", errEncoded, ce)
			}
			// Cookies are the server's way to a session the proxy does
			// not keep; the MCP session id header carries it instead.
			res.Header.Del("Set-Cookie")
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var tooBig *http.MaxBytesError
			switch {
			case errors.As(err, &tooBig):
				http.Error(w, "berth credential proxy: the request body is too large", http.StatusRequestEntityTooLarge)
			case errors.Is(err, context.DeadlineExceeded):
				http.Error(w, "berth credential proxy: the MCP server "+s.Name+" took too long", http.StatusGatewayTimeout)
			default:
				http.Error(w, "berth credential proxy: the MCP server "+s.Name+" could not be reached", http.StatusBadGateway)
			}
		},
		ErrorLog: p.errorLog,
	}
}

// serveMCP forwards a call to one of the group's HTTP MCP servers: the
// streamable HTTP transport's POST, GET (its event stream) and DELETE (the
// session's end), on the server's one endpoint. rest is the path after
// the prefix: the server's name, nothing more.
func (p *Proxy) serveMCP(w http.ResponseWriter, r *http.Request, group, rest string) {
	p.mcpMu.Lock()
	up, ok := p.mcp[group][rest]
	p.mcpMu.Unlock()
	if !ok {
		p.refuse(w, r, group, "MCP server not allowed", "this group has no MCP server "+truncate(rest, 64)+" (see its mcp_servers)")
		return
	}
	switch r.Method {
	case http.MethodPost, http.MethodGet, http.MethodDelete:
	default:
		p.refuse(w, r, group, "call not allowed", r.Method+" is not a call of the MCP streamable HTTP transport")
		return
	}
	if r.ContentLength > p.limits.MaxBodyBytes {
		http.Error(w, "berth credential proxy: the request body is too large", http.StatusRequestEntityTooLarge)
		return
	}
	getenv := p.getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	for _, v := range up.HeadersEnv {
		if val, ok := getenv(v); !ok || val == "" {
			http.Error(w, fmt.Sprintf("berth credential proxy: the MCP server %s needs %s on the berth host; ask the operator to set it: %v",
				up.Name, v, errMCPVar), http.StatusUnauthorized)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.limits.UpstreamTimeout)
	defer cancel()
	up.rp.ServeHTTP(w, r.Clone(ctx))
}
