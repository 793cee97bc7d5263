package session

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"
)

// slots caps running containers. A session waiting for a slot is served
// in the order its message was accepted, whatever order goroutines run in.
type slots struct {
	max     int        // the cap; 0 or less: none (read-only)
	mu      sync.Mutex // guards used and waiters
	used    int
	waiters []*waiter // by since, oldest first
}

type waiter struct {
	since time.Time
	ready chan struct{}
	moved chan struct{} // 1-buffered: its place in the queue may have changed
}

func newSlots(max int) *slots { return &slots{max: max} }

// acquire takes a running slot, waiting in line (by since) while none is free.
func (s *slots) acquire(ctx context.Context, since time.Time) error {
	return s.acquireQueued(ctx, since, nil)
}

// acquireQueued is acquire that, while it waits, calls queued (if not nil)
// with how many wait before it, at first and whenever that changes.
func (s *slots) acquireQueued(ctx context.Context, since time.Time, queued func(ahead int)) error {
	if s.max <= 0 {
		return nil
	}
	s.mu.Lock()
	if s.used < s.max && len(s.waiters) == 0 {
		s.used++
		s.mu.Unlock()
		return nil
	}
	w := &waiter{since: since, ready: make(chan struct{}), moved: make(chan struct{}, 1)}
	i := sort.Search(len(s.waiters), func(i int) bool { return s.waiters[i].since.After(since) })
	s.waiters = append(s.waiters, nil)
	copy(s.waiters[i+1:], s.waiters[i:])
	s.waiters[i] = w
	s.movedLocked(i + 1)
	s.mu.Unlock()
	told := -1
	for {
		if queued != nil {
			s.mu.Lock()
			ahead := slices.Index(s.waiters, w)
			s.mu.Unlock()
			if ahead >= 0 && ahead != told {
				queued(ahead)
				told = ahead
			}
		}
		select {
		case <-w.ready:
			return nil
		case <-w.moved:
		case <-ctx.Done():
			s.mu.Lock()
			defer s.mu.Unlock()
			if i := slices.Index(s.waiters, w); i >= 0 {
				s.waiters = slices.Delete(s.waiters, i, i+1)
				s.movedLocked(i)
				return ctx.Err()
			}
			// Granted while cancelling: pass it on.
			s.releaseLocked()
			return ctx.Err()
		}
	}
}

// movedLocked tells the waiters from index i on that their place changed.
// s.mu is held.
func (s *slots) movedLocked(i int) {
	for _, w := range s.waiters[i:] {
		select {
		case w.moved <- struct{}{}:
		default:
		}
	}
}

func (s *slots) release() {
	if s.max <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked()
}

func (s *slots) releaseLocked() {
	if len(s.waiters) > 0 {
		w := s.waiters[0]
		s.waiters = s.waiters[1:]
		close(w.ready) // the slot passes straight to the next waiter
		s.movedLocked(0)
		return
	}
	s.used--
}

// atomicCount counts running containers for the observer.
type atomicCount struct {
	mu sync.Mutex // guards n
	n  int
}

func (a *atomicCount) add(d int) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n += d
	return a.n
}
