package channels

import (
	"context"
	"sync"
	"time"
)

// Pacer spaces the posts to each conversation so an adapter stays under a
// platform's per-channel rate limit before it is told 429 (Slack: about
// one message per second per channel). A post starts no sooner than the
// interval after the previous post to the same key ended: counting from
// the end, not the start, means uneven latency cannot land two posts
// inside the platform's window. Posts to one key run one at a time, in
// the order they asked; different keys do not wait for each other.
type Pacer struct {
	interval time.Duration

	mu   sync.Mutex // guards keys
	keys map[string]*paceSlot
}

// paceSlot is one key's turn and the end of its last post.
type paceSlot struct {
	turn  chan struct{} // holds a token while a post to the key waits or runs
	ended time.Time     // when the last post ended; guarded by Pacer.mu
	users int           // callers holding or waiting for turn; guarded by Pacer.mu
}

// NewPacer returns a pacer that leaves interval between posts to a key.
func NewPacer(interval time.Duration) *Pacer {
	return &Pacer{interval: interval, keys: map[string]*paceSlot{}}
}

// Do runs post for key when its turn comes. It returns post's error, or
// ctx's if ctx ends while waiting (then post is not run).
func (p *Pacer) Do(ctx context.Context, key string, post func() error) error {
	p.mu.Lock()
	sl := p.keys[key]
	if sl == nil {
		sl = &paceSlot{turn: make(chan struct{}, 1)}
		p.keys[key] = sl
	}
	sl.users++
	p.mu.Unlock()
	defer p.leave(key, sl)

	select {
	case sl.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-sl.turn }()
	p.mu.Lock()
	next := sl.ended.Add(p.interval)
	p.mu.Unlock()
	if wait := time.Until(next); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	err := post()
	p.mu.Lock()
	sl.ended = time.Now()
	p.mu.Unlock()
	return err
}

// leave forgets a key nobody uses once its interval has passed, so the
// pacer holds only the conversations posted to lately.
func (p *Pacer) leave(key string, sl *paceSlot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sl.users--
	if sl.users == 0 {
		// The last post's end must still space the next one: keep the slot
		// until its interval is over.
		if time.Since(sl.ended) >= p.interval {
			delete(p.keys, key)
			return
		}
		time.AfterFunc(p.interval, func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.keys[key] == sl && sl.users == 0 {
				delete(p.keys, key)
			}
		})
	}
}

// size is how many keys the pacer remembers.
func (p *Pacer) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.keys)
}
