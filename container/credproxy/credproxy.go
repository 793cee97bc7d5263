// Package credproxy keeps model API keys on the host. Agent containers run
// with no network; they reach their provider only through a unix socket
// this proxy serves in a folder mounted into the container, and the proxy
// adds the credential on the way out. A container never sees a key, and
// can reach no upstream but the configured ones.
package credproxy

import (
	"context"
	"encoding/json"
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

// Meter counts what each group spends and says what it may spend.
type Meter interface {
	// Add records one call's tokens for a group.
	Add(ctx context.Context, group string, input, output int64)
	// Left reports the tokens a group may still use today; ok is false
	// when it has no budget.
	Left(ctx context.Context, group string) (left int64, ok bool)
}

// Proxy serves one socket per agent group.
type Proxy struct {
	log       *slog.Logger
	upstreams map[string]upstream
	meter     Meter

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

// SetMeter counts usage and enforces budgets; without one nothing is.
func (p *Proxy) SetMeter(m Meter) { p.meter = m }

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
		if p.meter != nil {
			if left, ok := p.meter.Left(r.Context(), group); ok && left <= 0 {
				now := time.Now().UTC()
				midnight := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
				http.Error(w, fmt.Sprintf("berth credential proxy: group %s has spent its daily token budget; new turns resume at %s UTC (in %s)",
					group, midnight.Format("15:04"), midnight.Sub(now).Round(time.Minute)), http.StatusTooManyRequests)
				return
			}
			mw := &metered{ResponseWriter: w}
			w = mw
			defer func() {
				in, out := mw.tokens()
				p.meter.Add(context.WithoutCancel(r.Context()), group, in, out)
			}()
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + rest
		r2.URL.RawPath = ""
		up.rp.ServeHTTP(w, r2)
	})
}

// metered keeps a copy of a (non-streamed) JSON response to read the
// tokens it reports.
type metered struct {
	http.ResponseWriter
	body []byte
}

func (m *metered) Write(b []byte) (int, error) {
	if len(m.body) < 4<<20 {
		m.body = append(m.body, b...)
	}
	return m.ResponseWriter.Write(b)
}

// tokens reads Anthropic's or OpenAI's usage fields.
func (m *metered) tokens() (int64, int64) {
	var u struct {
		Usage struct {
			Input      int64 `json:"input_tokens"`
			Output     int64 `json:"output_tokens"`
			Prompt     int64 `json:"prompt_tokens"`
			Completion int64 `json:"completion_tokens"`
		} `json:"usage"`
	}
	json.Unmarshal(m.body, &u)
	return u.Usage.Input + u.Usage.Prompt, u.Usage.Output + u.Usage.Completion
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
