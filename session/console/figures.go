package console

import (
	"context"
	"sync"
	"time"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session/census"
)

// figuresFresh is how long gathered figures are shown before a page's
// request has them gathered again, in the background.
const figuresFresh = 5 * time.Second

// figures are the numbers that are slow to gather: a container's CPU is
// two samples a second apart, and pending and failed messages are one
// read of each active session's inbound.db. A page shows the last ones
// gathered, and when they are older than figuresFresh it asks for new
// ones in the background, so no page waits on them; nothing is gathered
// while no one looks.
type figures struct {
	s *Server

	mu       sync.Mutex // guards the fields below
	at       time.Time  // when the shown figures were gathered; zero: never
	pending  int        // messages waiting for an answer, across active sessions
	failed   int        // messages failed in the hour before at
	stats    map[string]container.Stats
	running  bool          // a refresh is under way
	finished chan struct{} // closed when the refresh under way ends
}

func newFigures(s *Server) *figures { return &figures{s: s} }

// snapshot is what figures show.
type snapshot struct {
	At              time.Time
	Pending, Failed int
	Stats           map[string]container.Stats
}

// get returns the figures gathered last, starting a refresh in the
// background when they are stale.
func (f *figures) get() snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.running && time.Since(f.at) > figuresFresh {
		f.start()
	}
	return snapshot{At: f.at, Pending: f.pending, Failed: f.failed, Stats: f.stats}
}

// start begins a refresh; f.mu is held.
func (f *figures) start() {
	f.running, f.finished = true, make(chan struct{})
	go f.gather(f.s.ctx, f.finished)
}

// refresh gathers the figures and waits for them: a refresh under way
// may have begun before what the caller wants counted, so it waits for
// that one to end, then runs its own.
func (f *figures) refresh(ctx context.Context) {
	f.mu.Lock()
	if f.running {
		done := f.finished
		f.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return
		}
		f.mu.Lock()
	}
	if !f.running {
		f.start()
	}
	done := f.finished
	f.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// gather reads every active session's counts and every running
// container's stats, then publishes them.
func (f *figures) gather(ctx context.Context, done chan struct{}) {
	defer close(done)
	now := time.Now()
	sessions, err := f.s.cfg.Store.Sessions(ctx, data.SessionFilter{ActiveOnly: true})
	if err != nil {
		f.s.log.Warn("console: list sessions", "err", err)
	}
	pending, failed := census.Messages(ctx, f.s.cfg.Home, sessions, now.Add(-time.Hour))
	var stats map[string]container.Stats
	running, err := census.Running(ctx, f.s.cfg.Containers, map[string]string{container.LabelHome: f.s.cfg.Home.String()})
	if err == nil {
		stats = census.Measure(ctx, f.s.cfg.Containers, running)
	} else if ctx.Err() == nil {
		f.s.log.Warn("console: list containers for their figures", "err", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running = false
	if ctx.Err() == nil {
		f.at, f.pending, f.failed, f.stats = now, pending, failed, stats
	}
}
