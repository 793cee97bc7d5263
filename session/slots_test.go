package session

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// A session waiting for a slot is told how many wait before it, at first
// and whenever that changes: an older message goes ahead of it, a waiter
// before it gives up or gets the slot.
func TestSlotsTellHowManyAhead(t *testing.T) {
	s := newSlots(1)
	ctx := context.Background()
	if err := s.acquire(ctx, time.Time{}); err != nil { // the one slot, held
		t.Fatal(err)
	}
	var mu sync.Mutex // guards told
	told := map[string][]int{}
	got := make(map[string]chan error)
	base := time.Now()
	wait := func(ctx context.Context, name string, since time.Duration) {
		done := make(chan error, 1)
		got[name] = done
		go func() {
			done <- s.acquireQueued(ctx, base.Add(since), func(ahead int) {
				mu.Lock()
				told[name] = append(told[name], ahead)
				mu.Unlock()
			})
		}()
	}
	// until waits for each named waiter to have been told the counts want.
	until := func(want map[string][]int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			ok := true
			for name, w := range want {
				ok = ok && slices.Equal(told[name], w)
			}
			now := map[string][]int{}
			for k, v := range told {
				now[k] = slices.Clone(v)
			}
			mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("told %v, want %v", now, want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	granted := func(name string) {
		t.Helper()
		select {
		case err := <-got[name]:
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s never got the slot", name)
		}
	}
	wait(ctx, "a", 2*time.Second)
	until(map[string][]int{"a": {0}})
	wait(ctx, "b", 3*time.Second)
	until(map[string][]int{"a": {0}, "b": {1}})
	cctx, cancel := context.WithCancel(ctx)
	wait(cctx, "c", time.Second) // older than both: served first
	until(map[string][]int{"a": {0, 1}, "b": {1, 2}, "c": {0}})
	cancel() // c gives up
	if err := <-got["c"]; err == nil {
		t.Fatal("a cancelled wait took the slot")
	}
	until(map[string][]int{"a": {0, 1, 0}, "b": {1, 2, 1}, "c": {0}})
	s.release()
	granted("a")
	until(map[string][]int{"a": {0, 1, 0}, "b": {1, 2, 1, 0}, "c": {0}})
	s.release()
	granted("b")
	if w := s.waiting(); w != 0 {
		t.Fatalf("%d still waiting", w)
	}
}
