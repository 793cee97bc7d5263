// Package console is berth's web console for operators: server-rendered
// pages (html/template, a small script for live updates, no build step)
// that show a running gateway's channels, groups, sessions, containers,
// message outcomes and log, and the two admin actions, stopping a
// session's container and resetting a session.
//
// It reads what the CLI reads (the store, each session's inbound.db
// through sessiondb, the engine, the log files through data/logs), so a
// page and `berth status`, `berth sessions` or `berth logs` never
// disagree; it keeps no state of its own but a short-lived cache of
// figures that are slow to gather (containers' CPU and memory, pending
// and failed messages across every session).
//
// Access is by a token (NewToken, stored hashed in BERTH_HOME), sent as a
// bearer header, or typed at the login form, which sets a cookie that is
// a MAC derived from the stored hash, not the token. Wrong tokens are
// limited per remote address and in all (429 with Retry-After). An install with no
// token is served only on a loopback address (CheckListen), where every
// page is open to the local host, and only for a Host header that names
// it on a request no reverse proxy forwarded. The actions are POSTs with a CSRF token and ask for confirmation
// first. session/gateway serves it on its HTTP listener.
package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Containers is what the console needs of the container runtime: the
// containers of the install, their resource use and output, and stopping
// them. The Docker engine implements it; another runtime can.
type Containers interface {
	List(ctx context.Context, labels map[string]string) ([]container.Info, error)
	Stats(ctx context.Context, id string) (container.Stats, error)
	// LogsSince copies a container's output written after since, and
	// follows it until the container exits or ctx ends.
	LogsSince(ctx context.Context, id string, since time.Time, stdout, stderr io.Writer) error
	Stop(ctx context.Context, id string, grace time.Duration) error
}

// The Docker engine is a console's runtime.
var _ Containers = (*container.Docker)(nil)

// Sessions is what the console needs of the session manager: resetting a
// session as !reset does.
type Sessions interface {
	ResetSession(ctx context.Context, sessionID string) (groups.Halted, error)
}

// Config is what a console shows and acts on.
type Config struct {
	Home       paths.Home  // the install; its token file decides access
	Store      *data.Store // the gateway's open store
	Containers Containers
	Sessions   Sessions
	// Channels are the channels the gateway runs.
	Channels []channels.Channel
	// Install is what the gateway decides about groups' keys, for their
	// effective configuration.
	Install    groups.Install
	MaxRunning int // the running-container cap, shown on the overview
	// Loopback says the listener is bound to loopback addresses only: with
	// no token configured, the console is then open to the local host.
	Loopback bool
	// OutputFromLogs reads containers' output from the files berth run
	// captures it into (logs/sessions/, redacted) instead of the engine.
	OutputFromLogs bool
	StopGrace      time.Duration // SIGTERM to SIGKILL when stopping; 0: 5s
	Log            *slog.Logger  // nil: discarded
}

// Server is a console: an http.Handler. Close it when done.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	pages   map[string]*template.Template
	csrfKey []byte // this process's key for CSRF tokens
	cookie  string // the login cookie's name (CookieName)
	figures *figures
	ctx     context.Context // ends at Close: streams and refreshes stop
	cancel  context.CancelFunc
	wrong   *wrongTokens // the limit on wrong tokens, at the form and as bearer headers
}

var _ http.Handler = (*Server)(nil)

// New makes the console cfg describes.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Containers == nil || cfg.Sessions == nil {
		return nil, errors.New("console: Store, Containers and Sessions are required")
	}
	if cfg.StopGrace == 0 {
		cfg.StopGrace = 5 * time.Second
	}
	s := &Server{cfg: cfg, log: cfg.Log, mux: http.NewServeMux(), csrfKey: make([]byte, 32), cookie: CookieName(cfg.Home)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.wrong = newWrongTokens(s.log)
	if _, err := rand.Read(s.csrfKey); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	var err error
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.figures = newFigures(s)
	s.routes()
	return s, nil
}

// Close stops the streams being served and the figures being gathered.
func (s *Server) Close() { s.cancel() }

// Refresh gathers the slow figures (containers' CPU and memory, pending
// and failed messages) now, rather than in the background on a page's
// request, and waits for them: tests and benchmarks see them at once.
func (s *Server) Refresh(ctx context.Context) { s.figures.refresh(ctx) }

func (s *Server) routes() {
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /login", s.loginPage)
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.Handle("POST /logout", s.auth(s.logout))
	s.mux.Handle("GET /{$}", s.auth(s.overviewPage))
	s.mux.Handle("GET /api/overview", s.auth(s.overviewJSON))
	s.mux.Handle("GET /sessions", s.auth(s.sessionsPage))
	s.mux.Handle("GET /sessions/{id}", s.auth(s.sessionPage))
	s.mux.Handle("GET /sessions/{id}/output", s.auth(s.outputStream))
	s.mux.Handle("GET /sessions/{id}/{action}", s.auth(s.confirmPage))
	s.mux.Handle("POST /sessions/{id}/{action}", s.auth(s.act))
	s.mux.Handle("GET /logs", s.auth(s.logsPage))
	s.mux.Handle("GET /logs/stream", s.auth(s.logsStream))
	s.mux.Handle("GET /groups", s.auth(s.groupsPage))
}

// ServeHTTP serves the console's pages, with headers that keep them out
// of frames, caches and other sites' reach.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if !strings.HasPrefix(r.URL.Path, "/static/") {
		h.Set("Cache-Control", "no-store")
	}
	s.mux.ServeHTTP(w, r)
}

// ErrReachable is CheckListen's refusal: the address is one other hosts
// reach and the install has no token.
var ErrReachable = errors.New("the console would be reachable from other hosts and no token is set")

// CheckListen is the rule for where a console may listen: an install
// with a token anywhere; one without only on loopback addresses, where
// it is open to the local host. bound is the address the listener got.
// It reports whether bound is loopback only.
func CheckListen(home paths.Home, bound net.Addr) (loopback bool, err error) {
	loopback = IsLoopback(bound)
	has, err := HasToken(home)
	if err != nil {
		return loopback, err
	}
	if !has && !loopback {
		return loopback, fmt.Errorf("the console at %s: %w: "+
			"run `berth console token` to make one, or listen on 127.0.0.1", bound, ErrReachable)
	}
	return loopback, nil
}

// IsLoopback reports whether a listener's address accepts connections
// from this host only.
func IsLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// cookieLabel is what a login cookie is a MAC of, keyed by the stored
// token hash: the cookie is not the token (a cookie that leaks, from a
// browser's store or a proxy's log, cannot be sent as a bearer token or
// typed at the login form), it needs no state on the server, and
// rotating the token changes its key, so every cookie stops working.
const cookieLabel = "berth console cookie v1"

// cookieValue is the login cookie's value for the token whose stored
// hash is hash.
func cookieValue(hash []byte) string {
	m := hmac.New(sha256.New, hash)
	m.Write([]byte(cookieLabel))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// cookieMatches reports whether a login cookie's value was made for the
// token whose stored hash is hash, in constant time.
func cookieMatches(v string, hash []byte) bool {
	return v != "" && len(hash) == sha256.Size && hmac.Equal([]byte(v), []byte(cookieValue(hash)))
}

// CookieName is the login cookie of the console of the install at home:
// "berth_console_" and a short hash of home's path, so that two installs
// on one host (a browser keeps cookies by host, not by port) do not
// overwrite each other's.
func CookieName(home paths.Home) string {
	p := home.String()
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	sum := sha256.Sum256([]byte(p))
	return "berth_console_" + hex.EncodeToString(sum[:6])
}

// identity is who a request is: the hash of the token it showed, or nil
// on an open console.
type identity struct{ hash []byte }

type identityKey struct{}

// auth lets through the requests that show the install's token, or every
// request to the local host on an open console; others go to the login
// form (a page) or get 401 (anything else).
func (s *Server) auth(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, isBearer := bearerToken(r)
		if isBearer && s.tooMany(w, r) {
			return
		}
		id, ok, err := s.authenticate(r)
		if err != nil {
			s.log.Error("console: read token", "err", err)
			http.Error(w, "the console's token file cannot be read; see the gateway log", http.StatusInternalServerError)
			return
		}
		if !ok {
			if isBearer && id.hash != nil {
				s.wrong.failed(r.RemoteAddr, "bearer")
			}
			s.refuse(w, r)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	})
}

// authenticate decides whether r may see the console.
func (s *Server) authenticate(r *http.Request) (identity, bool, error) {
	hash, err := readTokenHash(s.cfg.Home)
	if errors.Is(err, ErrNoToken) {
		// Open only where CheckListen allowed it, and only to a Host header
		// naming this host: a page of another site that resolves its own
		// name to 127.0.0.1 (DNS rebinding) gets nothing. Nor does a
		// request a reverse proxy forwarded: the proxy connects from this
		// host (and often names it in Host) for whoever reached it.
		return identity{}, s.cfg.Loopback && loopbackHost(r.Host) && !forwarded(r), nil
	}
	if err != nil {
		return identity{}, false, err
	}
	if tok, ok := bearerToken(r); ok {
		return identity{hash: hash}, tokenMatches(tok, hash), nil
	}
	c, err := r.Cookie(s.cookie)
	return identity{hash: hash}, err == nil && cookieMatches(c.Value, hash), nil
}

// bearerToken is the token r sends as a bearer header, and whether it
// sends one.
func bearerToken(r *http.Request) (string, bool) {
	a, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(a), ok
}

// tooMany answers 429 to a request from an address, or while all of them
// together, sent too many wrong tokens, and reports whether it did.
func (s *Server) tooMany(w http.ResponseWriter, r *http.Request) bool {
	d := s.wrong.wait(r.RemoteAddr)
	if d <= 0 {
		return false
	}
	w.Header().Set("Retry-After", retryAfter(d))
	http.Error(w, "429 too many wrong tokens: try again in "+retryAfter(d)+" s", http.StatusTooManyRequests)
	return true
}

// loopbackHost reports whether a Host header names the local host.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// forwardHeaders are the headers a reverse proxy adds to what it passes on.
var forwardHeaders = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip"}

// forwarded reports whether r came through a reverse proxy, by the
// headers proxies add. One set up to add none is not seen: the docs say
// to make a token before putting a proxy in front.
func forwarded(r *http.Request) bool {
	for _, h := range forwardHeaders {
		if _, ok := r.Header[h]; ok {
			return true
		}
	}
	return false
}

// refuse answers a request without the token: a browser asking for a
// page is sent to the login form, anything else gets 401.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html") && r.Header.Get("X-Berth-Live") == "" {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(safeNext(r.URL.RequestURI())), http.StatusSeeOther)
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="berth console"`)
	http.Error(w, "401 unauthorized: log in at /login, or send Authorization: Bearer <token> (berth console token)", http.StatusUnauthorized)
}

// safeNext is a path to go back to after logging in: a path of this
// console, never another site's address. A browser drops tabs and
// newlines from a Location and reads a backslash as a slash, so "/\t/x"
// or "/\\x" would be //x, another site: url.Parse refuses every control
// character, and what is left must start with one slash and no backslash.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" ||
		!strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.HasPrefix(next, "/login") {
		return "/"
	}
	return next
}

// csrfToken is the token the console's forms carry for who the request
// is: a MAC of the token's hash under this process's key, so a page of
// another site, which can make a browser send the cookie but cannot read
// the console, cannot forge it.
func (s *Server) csrfToken(r *http.Request) string {
	id, _ := r.Context().Value(identityKey{}).(identity)
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte("csrf\x00"))
	m.Write(id.hash)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF reports whether a POST carries the CSRF token of who sent it.
func (s *Server) checkCSRF(r *http.Request) bool {
	got := r.PostFormValue("csrf")
	return got != "" && hmac.Equal([]byte(got), []byte(s.csrfToken(r)))
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok, err := s.authenticate(r); err == nil && ok {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	v := loginView{Next: safeNext(r.URL.Query().Get("next"))}
	if has, err := HasToken(s.cfg.Home); err == nil && !has {
		v.NoToken = true
	}
	s.render(w, r, http.StatusOK, "login", page{Title: "Log in", Login: true, Data: v})
}

type loginView struct {
	Next  string
	Wrong bool
	// NoToken: there is no token to log in with, and this request is not
	// one the open console answers (another name, or through a proxy).
	NoToken bool
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if s.tooMany(w, r) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	tok := strings.TrimSpace(r.PostFormValue("token"))
	next := safeNext(r.PostFormValue("next"))
	hash, err := readTokenHash(s.cfg.Home)
	if errors.Is(err, ErrNoToken) {
		if _, ok, _ := s.authenticate(r); ok {
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
		// Sent back to the page asked for, it would be sent here again.
		s.render(w, r, http.StatusForbidden, "login", page{Title: "Log in", Login: true, Data: loginView{Next: next, NoToken: true}})
		return
	}
	if err != nil {
		s.log.Error("console: read token", "err", err)
		http.Error(w, "the console's token file cannot be read; see the gateway log", http.StatusInternalServerError)
		return
	}
	if !tokenMatches(tok, hash) {
		s.wrong.failed(r.RemoteAddr, "login")
		s.render(w, r, http.StatusUnauthorized, "login", page{Title: "Log in", Login: true, Data: loginView{Next: next, Wrong: true}})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: cookieValue(hash), Path: "/", MaxAge: int((7 * 24 * time.Hour).Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secureRequest(r)})
	s.log.Info("console: logged in", "remote", r.RemoteAddr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// secureRequest reports whether the browser reached the console over
// TLS, here or at a proxy in front: the cookie is then Secure.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if !s.checkCSRF(r) {
		http.Error(w, "403 forbidden: this form is stale or came from another site; reload the page", http.StatusForbidden)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: secureRequest(r)})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
