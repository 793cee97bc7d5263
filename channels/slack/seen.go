package slack

import (
	"sync"
	"time"
)

// seenSet remembers which events and messages were handled, bounded in
// size and age, so redeliveries and the app_mention/message pair are
// handled once. Keys being handled right now are held, not done.
type seenSet struct {
	mu   sync.Mutex
	max  int
	ttl  time.Duration
	keys map[string]seenEntry
}

type seenEntry struct {
	at   time.Time
	done bool
}

func newSeenSet(max int, ttl time.Duration) *seenSet {
	return &seenSet{max: max, ttl: ttl, keys: map[string]seenEntry{}}
}

// claim takes every key for handling, or reports false when any is
// already handled or being handled.
func (s *seenSet) claim(keys ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for _, k := range keys {
		if e, ok := s.keys[k]; ok && now.Sub(e.at) < s.ttl {
			return false
		}
	}
	if len(s.keys)+len(keys) > s.max {
		for k, e := range s.keys {
			if now.Sub(e.at) >= s.ttl || len(s.keys) > s.max/2 {
				delete(s.keys, k)
			}
		}
	}
	for _, k := range keys {
		s.keys[k] = seenEntry{at: now}
	}
	return true
}

// done marks claimed keys handled.
func (s *seenSet) done(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		s.keys[k] = seenEntry{at: time.Now(), done: true}
	}
}

// release gives claimed keys back, so a redelivery is handled.
func (s *seenSet) release(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		delete(s.keys, k)
	}
}
