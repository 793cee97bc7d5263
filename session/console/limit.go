package console

import (
	"log/slog"
	"math"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// The limits on wrong tokens, at the login form and as bearer headers
// together. A 256-bit token is not guessed, but every attempt costs a
// read of the token file, a hash and, without a limit, a log line: a
// remote address gets wrongBurst wrong ones, then one every wrongEvery;
// all addresses together globalBurst, then globalRate a second (a flood
// from many addresses, or from behind one proxy, which is one address).
const (
	wrongBurst  = 10
	wrongEvery  = 6 * time.Second
	globalBurst = 100
	globalRate  = 5
	// maxRemotes bounds the addresses remembered; past it, those whose
	// allowance is whole again are forgotten, and a new one, if there is
	// still no room, is held to the global limit only.
	maxRemotes = 4096
	// wrongLogEvery is how often at most the log says wrong tokens came,
	// with how many since it last said so.
	wrongLogEvery = time.Minute
)

// wrongTokens limits wrong tokens and the log lines they make. A cookie
// is not counted: a browser resends a stale one (after a rotation) on
// every request, and it is a MAC as hard to guess as the token.
type wrongTokens struct {
	now func() time.Time
	log *slog.Logger

	mu      sync.Mutex // guards the fields below
	global  *rate.Limiter
	remotes map[string]*rate.Limiter
	logged  time.Time // when the last line was logged
	wrong   int       // wrong tokens since then
	refused int       // attempts answered 429 since then
}

func newWrongTokens(log *slog.Logger) *wrongTokens {
	return &wrongTokens{now: time.Now, log: log, global: rate.NewLimiter(globalRate, globalBurst), remotes: map[string]*rate.Limiter{}}
}

// remoteHost is the address a limit counts by: the remote IP, without
// the port.
func remoteHost(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}

// wait reports how long remote must wait before its next attempt; 0: it
// may try now. Asked before the token is checked, so that a right token
// is refused too while the limit holds: else its answer would tell a
// guess that is right from the wrong ones.
func (w *wrongTokens) wait(remote string) time.Duration {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	d := waitFor(w.global, now)
	if l := w.remotes[remoteHost(remote)]; l != nil {
		d = max(d, waitFor(l, now))
	}
	if d > 0 {
		w.refused++
		w.logLocked(now, remote)
	}
	return d
}

// waitFor is how long until l has a whole token.
func waitFor(l *rate.Limiter, now time.Time) time.Duration {
	tok := l.TokensAt(now)
	if tok >= 1 {
		return 0
	}
	return time.Duration((1 - tok) / float64(l.Limit()) * float64(time.Second))
}

// failed counts a wrong token from remote; via says where it was sent
// (login, bearer).
func (w *wrongTokens) failed(remote, via string) {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.global.AllowN(now, 1)
	host := remoteHost(remote)
	l := w.remotes[host]
	if l == nil {
		if len(w.remotes) >= maxRemotes {
			for h, l := range w.remotes {
				if l.TokensAt(now) >= wrongBurst {
					delete(w.remotes, h)
				}
			}
		}
		if len(w.remotes) < maxRemotes {
			l = rate.NewLimiter(rate.Every(wrongEvery), wrongBurst)
			w.remotes[host] = l
		}
	}
	if l != nil {
		l.AllowN(now, 1)
	}
	w.wrong++
	w.logLocked(now, remote, "via", via)
}

// logLocked logs what came since the last line, if that was
// wrongLogEvery ago. w.mu is held.
func (w *wrongTokens) logLocked(now time.Time, remote string, args ...any) {
	if !w.logged.IsZero() && now.Sub(w.logged) < wrongLogEvery {
		return
	}
	w.log.Warn("console: wrong token", append([]any{"remote", remote, "wrong", w.wrong, "refused", w.refused}, args...)...)
	w.logged, w.wrong, w.refused = now, 0, 0
}

// retryAfter is a Retry-After header's value for d: whole seconds, at
// least one.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
