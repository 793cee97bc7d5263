package session_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// runningObserver is a TEST-ONLY observer that remembers the most
// containers the manager ever had running at once.
type runningObserver struct {
	session.Observer
	mu  sync.Mutex
	max int
}

func (o *runningObserver) Running(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.max = max(o.max, n)
}

func (o *runningObserver) Max() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.max
}

// TestLoadCapServesInOrder wakes 100 sessions at once with a cap of 10
// running containers: all are answered, never more than 10 run, and the
// waiting sessions are served in the order their messages arrived.
func TestLoadCapServesInOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	t.Parallel()
	const sessions, cap = 100, 10
	obs := &runningObserver{Observer: nopObs{}}
	ch := newFakeChannel()
	g := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{ch}, Config: func(c *session.Config) {
		c.MaxRunning = cap
		c.IdleTimeout = 300 * time.Millisecond
		c.Poll = 100 * time.Millisecond
		c.StopGrace = time.Second
		c.Observer = obs
	}})
	for i := 0; i < sessions; i++ {
		g.Wire("fake", fmt.Sprintf("room%03d", i), gatewaytest.Wire{IsDM: true})
	}
	// Sample the engine too: the cap holds outside the process's own count.
	stop := make(chan struct{})
	engineMax := make(chan int, 1)
	go func() {
		m := 0
		for {
			select {
			case <-stop:
				engineMax <- m
				return
			case <-time.After(50 * time.Millisecond):
			}
			n := 0
			for _, c := range g.Containers("") {
				if c.Running() {
					n++
				}
			}
			m = max(m, n)
		}
	}()
	for i := 0; i < sessions; i++ {
		in := msg(fmt.Sprintf("hello %03d", i))
		in.PlatformID = fmt.Sprintf("room%03d", i)
		if err := g.Manager.Handle(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	got := ch.waitSent(t, sessions, 5*time.Minute)
	close(stop)
	pos := map[string]int{}
	for i, out := range got {
		pos[out.PlatformID] = i
	}
	if len(pos) != sessions {
		t.Fatalf("answered %d sessions, want %d", len(pos), sessions)
	}
	if m := obs.Max(); m > cap {
		t.Errorf("manager ran %d containers at once, cap %d", m, cap)
	}
	if m := <-engineMax; m > cap {
		t.Errorf("engine showed %d running containers, cap %d", m, cap)
	}
	// Served in order: a session two waves later is never answered first.
	for i := 0; i < sessions; i++ {
		for j := i + 2*cap; j < sessions; j++ {
			a, b := pos[fmt.Sprintf("room%03d", i)], pos[fmt.Sprintf("room%03d", j)]
			if a > b {
				t.Errorf("room%03d answered after room%03d", i, j)
			}
		}
	}
	t.Logf("100 sessions, cap %d: manager max %d running", cap, obs.Max())
}

// nopObs is a TEST-ONLY observer that ignores everything.
type nopObs struct{}

func (nopObs) Routed(string)                   {}
func (nopObs) Dropped(string, string)          {}
func (nopObs) Woke(bool, time.Duration)        {}
func (nopObs) Delivered(string, time.Duration) {}
func (nopObs) DeliveryFailed(string)           {}
func (nopObs) Retried()                        {}
func (nopObs) Failed()                         {}
func (nopObs) Running(int)                     {}
func (nopObs) StateChanged(channels.State)     {}
