package credproxy

import (
	"strings"
	"sync"
	"time"
)

// Route is one call containers may make to an upstream with the host's
// key: a method and a path below the upstream's base URL. A path ending
// in "/*" matches exactly one more segment (a model id).
type Route struct {
	Method string
	Path   string
	// Meter marks a call that spends tokens; a successful answer that
	// reports no usage is charged by its size.
	Meter bool
}

// DefaultRoutes are the calls berth's providers make (the anthropic and
// openai SDKs and the claude CLI), by upstream name. Nothing else — file
// and batch APIs, fine-tuning, organization admin endpoints — goes out
// with the host's key.
var DefaultRoutes = map[string][]Route{
	"anthropic": { // base https://api.anthropic.com
		{Method: "POST", Path: "/v1/messages", Meter: true},
		{Method: "POST", Path: "/v1/messages/count_tokens"},
		{Method: "GET", Path: "/v1/models"},
		{Method: "GET", Path: "/v1/models/*"},
	},
	"openai": { // base https://api.openai.com/v1, or an OpenAI-compatible server's
		{Method: "POST", Path: "/chat/completions", Meter: true},
		{Method: "GET", Path: "/models"},
		{Method: "GET", Path: "/models/*"},
	},
}

// route finds the route a request matches.
func route(routes []Route, method, path string) (Route, bool) {
	for _, rt := range routes {
		if rt.Method != method {
			continue
		}
		if prefix, ok := strings.CutSuffix(rt.Path, "/*"); ok {
			if seg, ok := strings.CutPrefix(path, prefix+"/"); ok && idSegment(seg) {
				return rt, true
			}
			continue
		}
		if path == rt.Path {
			return rt, true
		}
	}
	return Route{}, false
}

// idSegment reports whether s can be a model id: one path segment of
// letters, digits and . _ - : (as in "llama3.2:3b"), and not a dot segment.
func idSegment(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 256 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-', c == ':':
		default:
			return false
		}
	}
	return true
}

// logLimiter lets through one log line per key per window: an agent can
// provoke refusals in a loop, and each must not become a line. The next
// line says how many were left out.
type logLimiter struct {
	every time.Duration // the window; default one minute

	mu    sync.Mutex // guards last and quiet
	last  map[string]time.Time
	quiet map[string]int
}

// allow reports whether key may log now, and how many of its lines were
// left out since its last one.
func (l *logLimiter) allow(key string, now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last, l.quiet = map[string]time.Time{}, map[string]int{}
	}
	every := l.every
	if every <= 0 {
		every = time.Minute
	}
	if t, ok := l.last[key]; ok && now.Sub(t) < every {
		l.quiet[key]++
		return false, 0
	}
	n := l.quiet[key]
	l.last[key] = now
	delete(l.quiet, key)
	return true, n
}
