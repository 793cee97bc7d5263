package channels

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestPacerSpacesPostsPerKey checks the order and spacing the pacer
// promises from the recorded start and end of each post (not from the
// wall clock of the test): every post to a key starts after the previous
// one to that key ended plus the interval, and posts to different keys
// do not wait for each other's turn.
func TestPacerSpacesPostsPerKey(t *testing.T) {
	const interval = 30 * time.Millisecond
	p := NewPacer(interval)
	type span struct{ start, end time.Time }
	var mu sync.Mutex // guards spans
	spans := map[string][]span{}
	var wg sync.WaitGroup
	for _, key := range []string{"C1", "C2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				err := p.Do(context.Background(), key, func() error {
					s := span{start: time.Now()}
					time.Sleep(time.Millisecond)
					s.end = time.Now()
					mu.Lock()
					spans[key] = append(spans[key], s)
					mu.Unlock()
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	for key, ss := range spans {
		if len(ss) != 5 {
			t.Fatalf("%s: %d posts, want 5", key, len(ss))
		}
		for i := 1; i < len(ss); i++ {
			if gap := ss[i].start.Sub(ss[i-1].end); gap < interval {
				t.Errorf("%s: post %d started %v after the previous ended, want >= %v", key, i, gap, interval)
			}
		}
	}
}

func TestPacerReturnsPostErrorAndHonoursContext(t *testing.T) {
	p := NewPacer(time.Hour)
	boom := errors.New("boom")
	if err := p.Do(context.Background(), "C1", func() error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Do = %v, want the post's error", err)
	}
	// The next post to C1 waits an hour; a cancelled context ends the wait
	// without running it.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	if err := p.Do(ctx, "C1", func() error { ran = true; return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Do with a cancelled context = %v, want context.Canceled", err)
	}
	if ran {
		t.Fatal("a post ran after its context ended")
	}
	// Another key does not wait for C1.
	if err := p.Do(context.Background(), "C2", func() error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestPacerForgetsIdleKeys(t *testing.T) {
	p := NewPacer(5 * time.Millisecond)
	for _, key := range []string{"C1", "C2", "C3"} {
		if err := p.Do(context.Background(), key, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for p.size() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("pacer still holds %d idle keys", p.size())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
