package channels

import (
	"context"
	"strconv"
	"sync"
)

// State is what a person is shown about a message berth accepted, until
// it is answered.
type State string

// The states of a message, in the order it usually goes through them.
const (
	// StateQueued: waiting for a running slot behind the running-container
	// cap; Status.Ahead says how many conversations wait before it.
	StateQueued State = "queued"
	// StateStarting: its container is booting (told only when that takes
	// longer than about a second).
	StateStarting State = "starting"
	// StateWorking: the container is running and the agent has it.
	StateWorking State = "working"
	// StateRetrying: a container died or a send failed, and berth is
	// trying again; Status.Detail says why.
	StateRetrying State = "retrying"
	// StateFailed: it failed for good. The reason was sent as a message;
	// Status.Detail repeats it.
	StateFailed State = "failed"
	// StateDone: it was answered.
	StateDone State = "done"
)

// Final reports whether no state follows s.
func (s State) Final() bool { return s == StateDone || s == StateFailed }

// Status is one change of a message's state.
type Status struct {
	State State
	// Ahead is, for StateQueued, how many conversations wait for a slot
	// before this one (0: it is next).
	Ahead int
	// Detail is why, for StateRetrying and StateFailed: short, for
	// people, bounded by berth, possibly carrying agent text (so an
	// adapter escapes it for its platform).
	Detail string
}

// String is the status as a short line for people: "queued, 2 ahead",
// "retrying: the agent's container exited".
func (s Status) String() string {
	switch s.State {
	case StateQueued:
		if s.Ahead == 0 {
			return "queued, next in line"
		}
		return "queued, " + strconv.Itoa(s.Ahead) + " ahead"
	case StateStarting:
		return "starting the agent"
	case StateRetrying, StateFailed:
		if s.Detail != "" {
			return string(s.State) + ": " + s.Detail
		}
	}
	return string(s.State)
}

// StatusQueue shows each message's statuses through a slow platform one
// call at a time and in order, dropping those superseded before they
// were shown: a person sees the latest state, never an older one after a
// newer. It lets an adapter's Status return at once. The zero value is
// not usable; see NewStatusQueue.
type StatusQueue struct {
	show func(ctx context.Context, t Target, prev, next Status)

	mu sync.Mutex // guards m
	m  map[Target]*statusSlot
}

// statusSlot is one message's place in a StatusQueue.
type statusSlot struct {
	shown   Status  // what show was last given as next
	want    *Status // the newest status not yet shown; nil: none
	running bool    // a goroutine is showing this message's statuses
}

// NewStatusQueue returns a queue that calls show(ctx, t, prev, next) for
// each change, where prev is what was last shown for t (the zero Status
// at first). show runs in its own goroutine, one at a time per message,
// with a context that outlives the caller's.
func NewStatusQueue(show func(ctx context.Context, t Target, prev, next Status)) *StatusQueue {
	return &StatusQueue{show: show, m: map[Target]*statusSlot{}}
}

// Set asks for s to be shown on t; it does not block.
func (q *StatusQueue) Set(ctx context.Context, t Target, s Status) {
	q.mu.Lock()
	defer q.mu.Unlock()
	sl := q.m[t]
	if sl == nil {
		sl = &statusSlot{}
		q.m[t] = sl
	}
	sl.want = &s
	if sl.running {
		return
	}
	sl.running = true
	go q.run(context.WithoutCancel(ctx), t, sl)
}

// run shows t's statuses until none is waiting; once a final one is
// shown, t is forgotten.
func (q *StatusQueue) run(ctx context.Context, t Target, sl *statusSlot) {
	for {
		q.mu.Lock()
		if sl.want == nil {
			sl.running = false
			if sl.shown.State.Final() {
				delete(q.m, t)
			}
			q.mu.Unlock()
			return
		}
		prev, next := sl.shown, *sl.want
		sl.shown, sl.want = next, nil
		q.mu.Unlock()
		if prev != next {
			q.show(ctx, t, prev, next)
		}
	}
}

// size is how many messages the queue still remembers; one shown as
// final is forgotten.
func (q *StatusQueue) size() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.m)
}
