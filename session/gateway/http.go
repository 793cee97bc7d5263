package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/console"
)

// httpShutdown bounds how long stopping the HTTP listener waits for the
// requests in flight; event streams are ended first.
const httpShutdown = 2 * time.Second

// listenMode is what an HTTP listener serves.
type listenMode int

const (
	// serveAll is --http-addr's listener: the console, /metrics and the
	// probes; an address other hosts reach needs a console token.
	serveAll listenMode = iota
	// serveAllIfSafe is --metrics-addr's alone: what serveAll serves where
	// serveAll is allowed, else (an address other hosts reach, no console
	// token: how an install that exposed its metrics before the console
	// existed is set up) /metrics and the probes only.
	serveAllIfSafe
	// serveMetrics is /metrics and the probes only: --metrics-addr's
	// listener beside an --http-addr of another address.
	serveMetrics
)

// listenPlan is one HTTP listener the gateway opens.
type listenPlan struct {
	addr string
	mode listenMode
}

// listenAddrs are the HTTP listeners Config asks for: --http-addr's, and
// --metrics-addr's (one listener when both name the same address).
func listenAddrs(cfg Config) []listenPlan {
	switch {
	case cfg.HTTPAddr == "" && cfg.MetricsAddr == "":
		return nil
	case cfg.HTTPAddr == "":
		return []listenPlan{{cfg.MetricsAddr, serveAllIfSafe}}
	case cfg.MetricsAddr == "" || cfg.MetricsAddr == cfg.HTTPAddr:
		return []listenPlan{{cfg.HTTPAddr, serveAll}}
	}
	return []listenPlan{{cfg.HTTPAddr, serveAll}, {cfg.MetricsAddr, serveMetrics}}
}

// The HTTP listener's limits on a client: its headers within
// httpReadHeader, the whole request (a form's body: the console's are a
// few KiB) within httpRead, so that a client that opens connections and
// sends slowly (slowloris) cannot hold them; an idle connection is closed
// after httpIdle.
const (
	httpReadHeader = 5 * time.Second
	httpRead       = 30 * time.Second
	httpIdle       = 2 * time.Minute
)

// newHTTPServer is the HTTP listener's server of h. It has no write
// timeout: the console's event streams last as long as a page is open.
// Nor does the read timeout end them: the server clears the read
// deadline once a request's body is read, before it watches the
// connection for the client going away (TestReadTimeoutKeepsStreams).
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: httpReadHeader, ReadTimeout: httpRead, IdleTimeout: httpIdle}
}

// httpServer is the gateway's HTTP listener: /metrics, the probes
// /healthz and /readyz, and the console at /, which is added once the
// session manager it acts on exists.
type httpServer struct {
	addr        string // bound
	loopback    bool   // bound to loopback addresses only
	withConsole bool   // serves the console (setConsole) besides /metrics and the probes
	mux         *http.ServeMux
	srv         *http.Server
	done        chan struct{}
	log         *slog.Logger

	mu      sync.Mutex // guards console
	console *console.Server
}

// serveHTTP listens on addr and serves metrics and the probes; ready
// answers /readyz. mode decides whether it is to serve the console too:
// a serveAll listener another host can reach is refused while the
// install has no console token (console.CheckListen); a serveAllIfSafe
// one then serves no console.
func (g *Gateway) serveHTTP(addr string, mode listenMode, metrics http.Handler, ready func() error) (*httpServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http listener: %w", err)
	}
	h := &httpServer{addr: ln.Addr().String(), loopback: console.IsLoopback(ln.Addr()), mux: http.NewServeMux(), done: make(chan struct{}), log: g.log}
	if mode != serveMetrics {
		_, err := console.CheckListen(g.cfg.Home, ln.Addr())
		switch {
		case err == nil:
			h.withConsole = true
		case mode == serveAll || !errors.Is(err, console.ErrReachable):
			return nil, errors.Join(err, ln.Close())
		}
	}
	h.mux.Handle("GET /metrics", metrics)
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n") // the prober went away: nothing to do
	})
	h.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready: "+err.Error()+"\n")
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	h.srv = newHTTPServer(h.mux)
	go func() {
		defer close(h.done)
		if err := h.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.log.Error("http listener", "err", err)
		}
	}()
	return h, nil
}

// setConsole serves c at /.
func (h *httpServer) setConsole(c *console.Server) {
	h.mu.Lock()
	h.console = c
	h.mu.Unlock()
	h.mux.Handle("/", c)
}

// stop ends the console's streams, then the listener.
func (h *httpServer) stop() {
	h.mu.Lock()
	c := h.console
	h.mu.Unlock()
	if c != nil {
		c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), httpShutdown)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		h.log.Warn("stop http listener", "err", err)
	}
	<-h.done
}

// readiness is /readyz's answer: nil once the store is open, the manager
// has recovered and every channel runs, each that says so connected.
func (g *Gateway) readiness() error {
	select {
	case <-g.ready:
	default:
		return errors.New("starting: recovering sessions and starting channels")
	}
	var down []string
	for _, ch := range g.cfg.Channels {
		if h, ok := ch.(channels.Health); ok {
			if c := h.Health(); !c.Connected {
				down = append(down, ch.Type()+" "+c.State())
			}
		}
	}
	if len(down) > 0 {
		sort.Strings(down)
		return errors.New(strings.Join(down, "; "))
	}
	return nil
}

// consoleRuntime is a container runtime as the console uses it: the
// Docker engine as it is; another runtime with what it has of Stats and
// LogsSince (an in-process test runtime has neither).
type consoleRuntime struct{ session.Runtime }

var _ console.Containers = consoleRuntime{}

// Stats implements console.Containers.
func (r consoleRuntime) Stats(ctx context.Context, id string) (container.Stats, error) {
	if s, ok := r.Runtime.(interface {
		Stats(context.Context, string) (container.Stats, error)
	}); ok {
		return s.Stats(ctx, id)
	}
	return container.Stats{}, errors.ErrUnsupported
}

// LogsSince implements console.Containers.
func (r consoleRuntime) LogsSince(ctx context.Context, id string, since time.Time, stdout, stderr io.Writer) error {
	if l, ok := r.Runtime.(interface {
		LogsSince(context.Context, string, time.Time, io.Writer, io.Writer) error
	}); ok {
		return l.LogsSince(ctx, id, since, stdout, stderr)
	}
	return errors.ErrUnsupported
}
