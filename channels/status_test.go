package channels

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestStatusString(t *testing.T) {
	for _, c := range []struct {
		s    Status
		want string
	}{
		{Status{State: StateQueued}, "queued, next in line"},
		{Status{State: StateQueued, Ahead: 2}, "queued, 2 ahead"},
		{Status{State: StateStarting}, "starting the agent"},
		{Status{State: StateWorking}, "working"},
		{Status{State: StateRetrying, Detail: "the container exited"}, "retrying: the container exited"},
		{Status{State: StateRetrying}, "retrying"},
		{Status{State: StateFailed, Detail: "out of memory"}, "failed: out of memory"},
		{Status{State: StateDone}, "done"},
	} {
		if got := c.s.String(); got != c.want {
			t.Errorf("%+v.String() = %q, want %q", c.s, got, c.want)
		}
	}
}

// slow is a TEST-ONLY platform whose every show blocks until the test
// releases that message's show, recording what it was asked.
type slow struct {
	entered map[string]chan struct{} // a show began, per message
	release map[string]chan struct{} // lets one show finish, per message
	mu      sync.Mutex               // guards calls
	calls   map[string][]string
}

func newSlow(ids ...string) *slow {
	s := &slow{entered: map[string]chan struct{}{}, release: map[string]chan struct{}{}, calls: map[string][]string{}}
	for _, id := range ids {
		s.entered[id], s.release[id] = make(chan struct{}), make(chan struct{})
	}
	return s
}

func (s *slow) show(_ context.Context, t Target, prev, next Status) {
	s.entered[t.MessageID] <- struct{}{}
	<-s.release[t.MessageID]
	s.mu.Lock()
	s.calls[t.MessageID] = append(s.calls[t.MessageID], string(prev.State)+">"+next.String())
	s.mu.Unlock()
}

// began waits for a show of id to begin.
func (s *slow) began(t *testing.T, id string) {
	t.Helper()
	select {
	case <-s.entered[id]:
	case <-time.After(10 * time.Second):
		t.Fatalf("no show of %s began", id)
	}
}

// Statuses set while the platform is slow are shown in order, those
// superseded meanwhile skipped, each with the one shown before it; the
// same status twice is shown once; a message shown as final is forgotten;
// messages do not wait for each other.
func TestStatusQueue(t *testing.T) {
	s := newSlow("a", "b")
	q := NewStatusQueue(s.show)
	ctx := context.Background()
	a, b := Target{PlatformID: "C", MessageID: "a"}, Target{PlatformID: "C", MessageID: "b"}
	q.Set(ctx, a, Status{State: StateQueued, Ahead: 1})
	s.began(t, "a")                           // a's first show is under way, blocked
	q.Set(ctx, a, Status{State: StateQueued}) // superseded before it is shown
	q.Set(ctx, a, Status{State: StateStarting})
	q.Set(ctx, b, Status{State: StateWorking})
	s.began(t, "b")                            // while a's show is blocked
	q.Set(ctx, b, Status{State: StateWorking}) // the same again
	s.release["a"] <- struct{}{}
	s.began(t, "a") // starting
	q.Set(ctx, a, Status{State: StateDone})
	s.release["a"] <- struct{}{}
	s.began(t, "a") // done
	s.release["a"] <- struct{}{}
	q.Set(ctx, b, Status{State: StateDone})
	s.release["b"] <- struct{}{}
	s.began(t, "b") // done
	s.release["b"] <- struct{}{}
	deadline := time.Now().Add(10 * time.Second)
	for q.size() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("queue remembers %d messages after both were shown done", q.size())
		}
		time.Sleep(time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[string][]string{
		"a": {">queued, 1 ahead", "queued>starting the agent", "starting>done"},
		"b": {">working", "working>done"},
	}
	for id, w := range want {
		if got := s.calls[id]; !slices.Equal(got, w) {
			t.Errorf("%s shown %q, want %q", id, got, w)
		}
	}
}
