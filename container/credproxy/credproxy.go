// Package credproxy keeps model API keys on the host. Agent containers run
// with no network; they reach their provider only through a unix socket
// this proxy serves in a folder mounted into the container, and the proxy
// adds the credential on the way out. A container never sees a key, and
// can reach no upstream but the configured ones.
package credproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Upstream is one provider API the proxy may reach.
type Upstream struct {
	Name    string // the path prefix containers use: "anthropic", "openai"
	BaseURL string // e.g. https://api.anthropic.com
	Header  string // where the key goes: "x-api-key" or "Authorization"
	Prefix  string // put before the key, e.g. "Bearer "
	Key     string // the secret; "" when the operator has not set it
	KeyVar  string // the variable that holds it, named in refusals
}

// Proxy serves one socket per agent group.
type Proxy struct {
	log       *slog.Logger
	upstreams map[string]upstream

	mu      sync.Mutex
	servers map[string]*http.Server // socket path -> server
}

type upstream struct {
	Upstream
	target *url.URL
	rp     *httputil.ReverseProxy
}

// headers a container may not send on: credentials of its own.
var stripped = []string{"Authorization", "X-Api-Key", "Proxy-Authorization", "Cookie"}

// New returns a proxy for the given upstreams.
func New(ups []Upstream, log *slog.Logger) (*Proxy, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{log: log, upstreams: map[string]upstream{}, servers: map[string]*http.Server{}}
	for _, u := range ups {
		target, err := url.Parse(u.BaseURL)
		if err != nil || target.Host == "" || (target.Scheme != "https" && target.Scheme != "http") {
			return nil, fmt.Errorf("credential proxy: upstream %s: base URL %q is not an http(s) URL", u.Name, u.BaseURL)
		}
		up := upstream{Upstream: u, target: target}
		up.rp = &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(target)
				r.Out.Host = target.Host
				for _, h := range stripped {
					r.Out.Header.Del(h)
				}
				r.Out.Header.Set(u.Header, u.Prefix+u.Key)
			},
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				// The upstream's address may be in err; the key never is.
				http.Error(w, "berth credential proxy: the "+u.Name+" API could not be reached", http.StatusBadGateway)
			},
		}
		p.upstreams[u.Name] = up
	}
	return p, nil
}

// Handler is the proxy's HTTP handler (one per group, for logging).
func (p *Proxy) Handler(group string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		up, ok := p.upstreams[name]
		switch {
		case !ok:
			p.log.Warn("proxy refused", "group", group, "reason", "unknown upstream", "path", truncate(r.URL.Path, 80))
			http.Error(w, "berth credential proxy: no such upstream; configured: "+p.names(), http.StatusForbidden)
			return
		case strings.Contains(r.URL.Path, "..") || strings.Contains(r.URL.RawPath, ".."):
			http.Error(w, "berth credential proxy: path not allowed", http.StatusForbidden)
			return
		case up.Key == "":
			http.Error(w, fmt.Sprintf("berth credential proxy: the %s provider needs %s on the berth host; ask the operator to set it",
				up.Name, up.KeyVar), http.StatusUnauthorized)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + rest
		r2.URL.RawPath = ""
		up.rp.ServeHTTP(w, r2)
	})
}

func (p *Proxy) names() string {
	var n []string
	for k := range p.upstreams {
		n = append(n, k)
	}
	return strings.Join(n, ", ")
}

// Serve listens on dir/proxy.sock for one group's containers. The folder
// is mounted into them; the socket is the only way out they have.
func (p *Proxy) Serve(dir, group string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("credential proxy for %s: %w", group, err)
	}
	sock := filepath.Join(dir, "proxy.sock")
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.servers[sock]; ok {
		return sock, nil
	}
	os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return "", fmt.Errorf("credential proxy for %s: %w", group, err)
	}
	// The container's unprivileged user must be able to connect.
	os.Chmod(sock, 0o666)
	srv := &http.Server{Handler: p.Handler(group), ReadHeaderTimeout: 30 * time.Second}
	p.servers[sock] = srv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error("credential proxy", "group", group, "err", err)
		}
	}()
	return sock, nil
}

// Close stops every socket.
func (p *Proxy) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for sock, srv := range p.servers {
		srv.Shutdown(ctx)
		os.Remove(sock)
	}
	p.servers = map[string]*http.Server{}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
