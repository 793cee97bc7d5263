package discordtest

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// routeLimit is Discord's per-route rate limit on posting messages: each
// channel's POST /channels/{id}/messages is its own bucket of n requests
// per window. Every answer carries the documented headers
// (X-RateLimit-Limit, -Remaining, -Reset, -Reset-After, -Bucket); one
// over the limit is a 429 with Retry-After, X-RateLimit-Scope and a JSON
// body with retry_after, and is counted.
type routeLimit struct {
	mu      sync.Mutex // guards everything below
	n       int        // requests per window; 0: no limit
	per     time.Duration
	windows map[string]*window // channel id -> its bucket
	refused int                // 429s answered
}

type window struct {
	used  int
	reset time.Time
}

// LimitRoute makes each channel's message posts a bucket of n per window
// (Discord's is 5 per 5 s), answered with rate-limit headers and a 429
// past it. n 0 removes the limit.
func (s *Server) LimitRoute(n int, per time.Duration) {
	s.route.mu.Lock()
	defer s.route.mu.Unlock()
	s.route.n, s.route.per, s.route.windows = n, per, map[string]*window{}
}

// TooMany counts the 429s the per-route limit answered.
func (s *Server) TooMany() int {
	s.route.mu.Lock()
	defer s.route.mu.Unlock()
	return s.route.refused
}

// admit counts a post to channel against its bucket and writes the
// headers; over the limit it answers 429 itself and reports false.
func (l *routeLimit) admit(w http.ResponseWriter, channel string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == 0 {
		return true
	}
	now := time.Now()
	b := l.windows[channel]
	if b == nil || !now.Before(b.reset) {
		b = &window{reset: now.Add(l.per)}
		l.windows[channel] = b
	}
	b.used++
	// Rounded up to the millisecond (discordgo reads milliseconds), so a
	// client that waits what it is told never arrives early.
	after := math.Ceil(float64(b.reset.Sub(now))/float64(time.Millisecond)) / 1000
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(l.n))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(l.n-b.used, 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatFloat(float64(b.reset.UnixMilli()+1)/1000, 'f', 3, 64))
	h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(after, 'f', 3, 64))
	h.Set("X-RateLimit-Bucket", "messages-"+channel)
	if b.used <= l.n {
		return true
	}
	l.refused++
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(after))))
	h.Set("X-RateLimit-Scope", "user")
	reply(w, http.StatusTooManyRequests, map[string]any{"message": "You are being rate limited.", "retry_after": after, "global": false})
	return false
}
