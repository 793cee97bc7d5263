package session

import (
	"context"
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
}

func newSlots(max int) *slots { return &slots{max: max} }

func (s *slots) acquire(ctx context.Context, since time.Time) error {
	if s.max <= 0 {
		return nil
	}
	s.mu.Lock()
	if s.used < s.max && len(s.waiters) == 0 {
		s.used++
		s.mu.Unlock()
		return nil
	}
	w := &waiter{since: since, ready: make(chan struct{})}
	i := sort.Search(len(s.waiters), func(i int) bool { return s.waiters[i].since.After(since) })
	s.waiters = append(s.waiters, nil)
	copy(s.waiters[i+1:], s.waiters[i:])
	s.waiters[i] = w
	s.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, x := range s.waiters {
			if x == w {
				s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
				return ctx.Err()
			}
		}
		// Granted while cancelling: pass it on.
		s.releaseLocked()
		return ctx.Err()
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
