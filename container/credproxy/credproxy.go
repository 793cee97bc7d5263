// Package credproxy keeps model API keys on the host. Agent containers run
// with no network; they reach their provider only through a unix socket
// this proxy serves in a folder mounted into the container, and the proxy
// adds the credential on the way out. A container never sees a key, can
// reach no upstream but the configured ones and no call but the ones
// berth's providers make, and holds at most a bounded share of the host.
package credproxy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
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
	// Routes are the calls containers may make; nil means
	// DefaultRoutes[Name].
	Routes []Route
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
	limits    Limits
	refusals  logLimiter // refused calls, per group
	capped    logLimiter // connections closed for the cap, per group

	mu      sync.Mutex              // guards servers
	servers map[string]*http.Server // socket path -> server

	transport *http.Transport                    // shared by every upstream
	errorLog  *log.Logger                        // the reverse proxies' own log, at debug
	getenv    func(string) (string, bool)        // the host's environment, for MCP headers; nil: os.LookupEnv
	mcpMu     sync.Mutex                         // guards mcp
	mcp       map[string]map[string]*mcpUpstream // group -> server name -> its HTTP MCP server
}

type upstream struct {
	Upstream
	rp *httputil.ReverseProxy
}

// headers a container may not send on: credentials of its own, and
// Accept-Encoding, since the proxy negotiates compression itself and so
// reads (and meters) every answer in plain text.
var stripped = []string{"Authorization", "X-Api-Key", "Proxy-Authorization", "Cookie", "Accept-Encoding"}

// errEncoded is an answer in an encoding the proxy did not ask for.
var errEncoded = errors.New("upstream answered in an encoding the proxy did not ask for")

// SetMeter counts usage and enforces budgets; without one nothing is.
// Call it before Serve.
func (p *Proxy) SetMeter(m Meter) { p.meter = m }

// New returns a proxy for the given upstreams.
func New(ups []Upstream, log *slog.Logger) (*Proxy, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{log: log, upstreams: map[string]upstream{}, servers: map[string]*http.Server{}, limits: DefaultLimits}
	// One transport for every group: it asks for gzip and decompresses
	// (the container's Accept-Encoding is dropped), so what the meter
	// reads is plain.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableCompression = false
	tr.MaxIdleConnsPerHost = 16
	p.transport = tr
	p.errorLog = slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	for _, u := range ups {
		if u.Name == mcpPrefix {
			return nil, fmt.Errorf("credential proxy: upstream %s: the name is the group MCP servers' prefix", u.Name)
		}
		target, err := url.Parse(u.BaseURL)
		if err != nil || target.Host == "" || (target.Scheme != "https" && target.Scheme != "http") {
			return nil, fmt.Errorf("credential proxy: upstream %s: base URL %q is not an http(s) URL", u.Name, u.BaseURL)
		}
		if u.Routes == nil {
			u.Routes = DefaultRoutes[u.Name]
		}
		if len(u.Routes) == 0 {
			return nil, fmt.Errorf("credential proxy: upstream %s: no routes, and none known for that name", u.Name)
		}
		up := upstream{Upstream: u}
		up.rp = &httputil.ReverseProxy{
			Transport: tr,
			Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(target)
				r.Out.Host = target.Host
				for _, h := range stripped {
					r.Out.Header.Del(h)
				}
				r.Out.Header.Set(u.Header, u.Prefix+u.Key)
			},
			ModifyResponse: func(res *http.Response) error {
				if ce := res.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
					return fmt.Errorf("%w: %q", errEncoded, ce)
				}
				return nil
			},
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				// The upstream's address may be in err; the key never is,
				// and err is not shown to the container.
				var tooBig *http.MaxBytesError
				switch {
				case errors.As(err, &tooBig):
					http.Error(w, "berth credential proxy: the request body is too large", http.StatusRequestEntityTooLarge)
				case errors.Is(err, context.DeadlineExceeded):
					http.Error(w, "berth credential proxy: the "+u.Name+" API took too long", http.StatusGatewayTimeout)
				case errors.Is(err, errEncoded):
					http.Error(w, "berth credential proxy: the "+u.Name+" API answered in an encoding berth cannot read", http.StatusBadGateway)
				default:
					http.Error(w, "berth credential proxy: the "+u.Name+" API could not be reached", http.StatusBadGateway)
				}
			},
			ErrorLog: p.errorLog,
		}
		p.upstreams[u.Name] = up
	}
	return p, nil
}

// Handler is the proxy's HTTP handler for one group's socket.
func (p *Proxy) Handler(group string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := p.limits
		rc := http.NewResponseController(w)
		pw := &paced{ResponseWriter: w, rc: rc, d: l.WriteTimeout}
		if err := pw.extend(); err != nil {
			http.Error(w, "berth credential proxy: cannot bound this connection", http.StatusInternalServerError)
			return
		}
		// The deadline also covers the last flush, after this returns. It
		// was set once above, so it cannot fail now.
		defer func() { _ = pw.extend() }()
		w = pw
		b := &body{ReadCloser: http.MaxBytesReader(w, r.Body, l.MaxBodyBytes), lift: func() {
			_ = rc.SetReadDeadline(time.Time{}) // set below, so it cannot fail
		}}
		defer b.finish()
		if err := rc.SetReadDeadline(time.Now().Add(l.BodyTimeout)); err != nil {
			http.Error(w, "berth credential proxy: cannot bound this connection", http.StatusInternalServerError)
			return
		}
		if r.Body == http.NoBody {
			b.release()
		}
		r.Body = b

		name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		path := "/" + rest
		if name == mcpPrefix {
			switch {
			case strings.Contains(r.URL.Path, "..") || strings.Contains(r.URL.RawPath, ".."):
				p.refuse(w, r, group, "dot segment", "path not allowed")
			case r.Header.Get("Upgrade") != "":
				p.refuse(w, r, group, "protocol upgrade", "protocol upgrades are not allowed")
			default:
				p.serveMCP(w, r, group, rest)
			}
			return
		}
		up, ok := p.upstreams[name]
		if !ok {
			p.refuse(w, r, group, "unknown upstream", "no such upstream; configured: "+p.names())
			return
		}
		if strings.Contains(r.URL.Path, "..") || strings.Contains(r.URL.RawPath, "..") {
			p.refuse(w, r, group, "dot segment", "path not allowed")
			return
		}
		if r.Header.Get("Upgrade") != "" {
			p.refuse(w, r, group, "protocol upgrade", "protocol upgrades are not allowed")
			return
		}
		rt, ok := route(up.Routes, r.Method, path)
		if !ok {
			p.refuse(w, r, group, "call not allowed", r.Method+" "+truncate(path, 80)+" is not a call berth's agents make")
			return
		}
		if up.Key == "" {
			http.Error(w, fmt.Sprintf("berth credential proxy: the %s provider needs %s on the berth host; ask the operator to set it",
				up.Name, up.KeyVar), http.StatusUnauthorized)
			return
		}
		if r.ContentLength > l.MaxBodyBytes {
			http.Error(w, "berth credential proxy: the request body is too large", http.StatusRequestEntityTooLarge)
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
			// Deferred, so a call the container cut short (the reverse
			// proxy then aborts the handler) is counted too.
			defer func() {
				in, out := mw.tokens(rt, b.n.Load())
				p.meter.Add(context.WithoutCancel(r.Context()), group, in, out)
			}()
		}
		ctx, cancel := context.WithTimeout(r.Context(), l.UpstreamTimeout)
		defer cancel()
		r2 := r.Clone(ctx)
		r2.URL.Path = path
		r2.URL.RawPath = ""
		up.rp.ServeHTTP(w, r2)
	})
}

// refuse answers 403 and logs it, at most once a window per group.
func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, group, reason, text string) {
	if ok, n := p.refusals.allow(group, time.Now()); ok {
		p.log.Warn("proxy refused a call", "group", group, "reason", reason, "method", truncate(r.Method, 16),
			"path", truncate(r.URL.Path, 80), "suppressed", n)
	}
	http.Error(w, "berth credential proxy: "+text, http.StatusForbidden)
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
	if err := os.Remove(sock); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("credential proxy for %s: remove the old socket: %w", group, err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return "", fmt.Errorf("credential proxy for %s: %w", group, err)
	}
	// The container's unprivileged user must be able to connect.
	if err := os.Chmod(sock, 0o666); err != nil {
		ln.Close()
		return "", fmt.Errorf("credential proxy for %s: %w", group, err)
	}
	l := p.limits
	capped := &capListener{Listener: ln, slots: make(chan struct{}, l.MaxConns), full: func() {
		if ok, n := p.capped.allow(group, time.Now()); ok {
			p.log.Warn("proxy connection cap reached: closing new connections", "group", group, "cap", l.MaxConns, "suppressed", n)
		}
	}}
	srv := &http.Server{
		Handler:           p.Handler(group),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(p.log.With("group", group).Handler(), slog.LevelDebug),
		// No ReadTimeout or WriteTimeout: a model's answer streams for
		// minutes. The handler bounds the body's reading, each write, and
		// the upstream call instead.
	}
	p.servers[sock] = srv
	go func() {
		if err := srv.Serve(capped); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error("credential proxy", "group", group, "err", err)
		}
	}()
	return sock, nil
}

// Close stops every socket, giving calls in flight a few seconds.
func (p *Proxy) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for sock, srv := range p.servers {
		if err := srv.Shutdown(ctx); err != nil {
			p.log.Warn("credential proxy: calls still in flight; closing them", "err", err)
			if err := srv.Close(); err != nil {
				p.log.Warn("credential proxy: close", "err", err)
			}
		}
		if err := os.Remove(sock); err != nil && !errors.Is(err, fs.ErrNotExist) {
			p.log.Warn("credential proxy: remove socket", "err", err)
		}
	}
	p.servers = map[string]*http.Server{}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
